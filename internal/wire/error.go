package wire

import (
	"fmt"
	"strings"
)

// ProtocolError reports a frame that breaks the protocol: an unknown type, a
// wrong or oversized length, a bad field, or a connection that ended in the
// middle of a frame. The connection it came from cannot be trusted to stay in
// sync and should be closed.
type ProtocolError struct {
	// Frame is the type of the offending frame, or zero if the error came
	// before its type byte was read.
	Frame Type
	// Reason says what was wrong, for people.
	Reason string
	// Err is the underlying error, if any: io.ErrUnexpectedEOF when the
	// input ended inside a frame.
	Err error
}

// Error returns "p2pstream: protocol error: " followed by the frame type,
// the reason and the underlying error.
func (e *ProtocolError) Error() string {
	var b strings.Builder
	b.WriteString("p2pstream: protocol error: ")
	if e.Frame != 0 {
		b.WriteString(e.Frame.String())
		b.WriteString(" frame: ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is(err, io.ErrUnexpectedEOF)
// detects a truncated frame.
func (e *ProtocolError) Unwrap() error { return e.Err }

// errorf returns a *ProtocolError about a frame of type t, with no
// underlying error.
func errorf(t Type, format string, args ...any) *ProtocolError {
	return &ProtocolError{Frame: t, Reason: fmt.Sprintf(format, args...)}
}
