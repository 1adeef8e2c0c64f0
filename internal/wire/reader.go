package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// growStep is the largest payload read into a buffer of its final size at
// once; it fits typical chunks (256 KiB on demand, about 250 KiB for a
// second of 2 Mbit/s live video). A larger payload starts in a buffer this
// big that grows fourfold as its bytes arrive, so a peer that announces a
// 4 MiB frame and sends five bytes costs 256 KiB, not 4 MiB, until the read
// times out, and never more than four times what it sent; a 1 MiB chunk
// costs one extra copy of its first 256 KiB.
const growStep = 256<<10 + 128

// piecePool recycles the payload buffers of Pieces read with ReusePieces.
var piecePool = sync.Pool{New: func() any {
	b := make([]byte, pieceFixed+MaxPieceSize)
	return &b
}}

// Reader decodes frames from a connection. It is not safe for concurrent
// use: one goroutine reads each connection.
type Reader struct {
	br  *bufio.Reader
	lim Limits
	err error // sticky: once a read fails, the stream is out of sync

	// ReusePieces, if set, reads Piece frames into buffers the Reader
	// recycles: a Piece's Data is then valid only until the next
	// ReadMessage. A caller that copies each piece before reading on saves
	// an allocation per piece, and an idle connection holds no buffer.
	ReusePieces bool
	piece       *[]byte // the buffer of the last Piece read, until the next read

	// ChunkBuffer, if set, is asked for the buffer of each Chunk frame of n
	// payload bytes (its size checked against the limits): a slice of
	// length n, which the Chunk's Data and Sig then alias and the caller
	// may recycle once done with them, or nil for a buffer of its own.
	ChunkBuffer func(n int) []byte

	// scratch holds each frame header, and the payloads of frames whose
	// messages keep no bytes (Handshake copies its address into a string),
	// so reading them allocates nothing but the message.
	scratch [handshakeFixed + maxListenAddr]byte
}

// NewReader returns a Reader of frames from r, which it wraps in a
// bufio.Reader (r itself if it already is a large enough one). lim bounds
// what it accepts; zero fields mean the defaults.
func NewReader(r io.Reader, lim Limits) *Reader {
	return NewReaderSize(r, 4096, lim) // bufio's default size
}

// NewReaderSize is NewReader with a read buffer of size bytes. Payloads
// larger than the buffer bypass it, so a small buffer costs nothing but
// more reads for runs of small frames.
func NewReaderSize(r io.Reader, size int, lim Limits) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, size), lim: lim.withDefaults()}
}

// ReadMessage reads and decodes the next frame.
//
// It returns io.EOF only when the input ends cleanly between frames. Input
// that ends inside a frame gives a *ProtocolError wrapping
// io.ErrUnexpectedEOF; a malformed frame gives a *ProtocolError; other
// errors from the underlying reader (timeouts, resets) are returned as they
// are. After any error the Reader returns the same error forever.
//
// Every message returned owns its memory (except Pieces with ReusePieces):
// Chunk, Head, Piece, BufferMap and Manifest frames are read into a fresh
// buffer their byte slices alias, so the caller may keep them.
func (r *Reader) ReadMessage() (Message, error) {
	if r.piece != nil {
		piecePool.Put(r.piece)
		r.piece = nil
	}
	if r.err != nil {
		return nil, r.err
	}
	m, err := r.readMessage()
	if err != nil {
		r.err = err
	}
	return m, err
}

func (r *Reader) readMessage() (Message, error) {
	hdr := r.scratch[:4] // a local array would escape to the heap
	if _, err := io.ReadFull(r.br, hdr); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, truncated(0, err)
	}
	size := binary.BigEndian.Uint32(hdr)
	if size == 0 {
		return nil, errorf(0, "frame length 0")
	}
	if size > r.lim.MaxFrame {
		return nil, errorf(0, "frame length %d exceeds limit of %d", size, r.lim.MaxFrame)
	}
	b, err := r.br.ReadByte()
	if err != nil {
		return nil, truncated(0, err)
	}
	t := Type(b)
	lo, hi, ok := payloadBounds(t, r.lim)
	if !ok {
		return nil, errorf(t, "unknown frame type 0x%02x", b)
	}
	n := int(size - 1)
	if err := checkPayloadSize(t, n, lo, hi); err != nil {
		return nil, err
	}
	payload, err := r.readPayload(t, n)
	if err != nil {
		return nil, truncated(t, err)
	}
	return ParseMessage(t, payload, r.lim)
}

// readPayload reads the n-byte payload of a frame of type t, whose size
// has been checked against the limits.
func (r *Reader) readPayload(t Type, n int) ([]byte, error) {
	if t == TypePiece && r.ReusePieces && n <= pieceFixed+MaxPieceSize {
		r.piece = piecePool.Get().(*[]byte)
		p := (*r.piece)[:n]
		_, err := io.ReadFull(r.br, p)
		return p, err
	}
	if t == TypeChunk && r.ChunkBuffer != nil {
		if p := r.ChunkBuffer(n); len(p) == n {
			_, err := io.ReadFull(r.br, p)
			return p, err
		}
	}
	switch t {
	case TypeChunk, TypeHead, TypePiece, TypeBufferMap, TypeManifest:
		// Their messages alias the payload, so it must be fresh.
	default:
		p := r.scratch[:n]
		_, err := io.ReadFull(r.br, p)
		return p, err
	}
	if n <= growStep {
		p := make([]byte, n)
		_, err := io.ReadFull(r.br, p)
		return p, err
	}
	p := make([]byte, 0, growStep)
	for len(p) < n {
		if len(p) == cap(p) {
			p = append(make([]byte, 0, min(4*cap(p), n)), p...)
		}
		k, err := io.ReadFull(r.br, p[len(p):cap(p)])
		p = p[:len(p)+k]
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// truncated turns an error met inside a frame into the error ReadMessage
// returns: the end of input becomes a *ProtocolError wrapping
// io.ErrUnexpectedEOF; anything else is the transport's and passes through.
func truncated(t Type, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &ProtocolError{Frame: t, Reason: "input ended inside a frame", Err: io.ErrUnexpectedEOF}
	}
	return err
}
