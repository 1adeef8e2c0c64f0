// Package wire encodes and decodes the frames of the p2pstream peer
// protocol. docs/PROTOCOL.md describes every frame byte by byte; this package
// is the only code that knows the layout.
//
// A frame is a big-endian uint32 length L, a one-byte [Type] and L-1 bytes of
// payload. Each frame type is a Go type implementing [Message]. [AppendFrame]
// and [WriteMessage] encode; a [Reader] decodes a connection, checking every
// length against its [Limits] before allocating, and reports malformed input
// as a [*ProtocolError].
package wire
