package wire

import "encoding/binary"

// Have (type 0x03) says the sender now holds chunk Seq.
type Have struct{ Seq uint64 }

// Request (type 0x04) asks the receiver to send chunk Seq. The answer is a
// [Chunk] or a [Reject].
type Request struct{ Seq uint64 }

// RequestBack (type 0x10) asks the receiver to send live chunk Seq as a
// [Request] does, but its pieces last first. A joining viewer asks one peer
// for its first chunk with a Request and another with a RequestBack: the
// chunk is whole when the two meet, in about half the time. A peer that
// holds only part of the chunk sends what it has in order.
type RequestBack struct{ Seq uint64 }

// Cancel (type 0x05) withdraws a [Request] for chunk Seq, typically because
// another peer delivered it first. The chunk may still arrive if it was
// already on its way.
type Cancel struct{ Seq uint64 }

// Reject (type 0x07) says the sender does not have, or will not serve,
// chunk Seq that the receiver requested, so the receiver can ask elsewhere
// at once instead of waiting for a timeout.
type Reject struct{ Seq uint64 }

// Type returns TypeHave.
func (*Have) Type() Type { return TypeHave }

// Type returns TypeRequest.
func (*Request) Type() Type { return TypeRequest }

// Type returns TypeRequestBack.
func (*RequestBack) Type() Type { return TypeRequestBack }

// Type returns TypeCancel.
func (*Cancel) Type() Type { return TypeCancel }

// Type returns TypeReject.
func (*Reject) Type() Type { return TypeReject }

// AppendPayload appends Seq.
func (m *Have) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Seq) }

// AppendPayload appends Seq.
func (m *Request) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Seq) }

// AppendPayload appends Seq.
func (m *RequestBack) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Seq) }

// AppendPayload appends Seq.
func (m *Cancel) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Seq) }

// AppendPayload appends Seq.
func (m *Reject) AppendPayload(b []byte) []byte { return binary.BigEndian.AppendUint64(b, m.Seq) }
