package ts

import (
	"bufio"
	"errors"
	"io"
)

// packetReader reads whole packets from a byte stream. It skips bytes until
// a sync byte, so garbage, or a stream joined in the middle of a packet,
// costs the bytes up to the next sync byte and never shifts later packets.
// A false sync byte inside garbage can yield one bad packet; callers treat
// packets as untrusted anyway.
type packetReader struct {
	br  *bufio.Reader
	buf [PacketSize]byte
}

func newPacketReader(r io.Reader) *packetReader {
	return &packetReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next packet, valid until the following call. It returns
// io.EOF at the end, dropping a partial packet there.
func (pr *packetReader) next() (Packet, error) {
	for {
		b, err := pr.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if b != SyncByte {
			continue
		}
		pr.buf[0] = b
		if _, err := io.ReadFull(pr.br, pr.buf[1:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return nil, err
		}
		return Packet(pr.buf[:]), nil
	}
}

// buffered returns the next packet if it is already buffered and starts at
// a sync byte, without consuming it or blocking; otherwise nil. The packet
// is valid until the next call of any method.
func (pr *packetReader) buffered() Packet {
	if pr.br.Buffered() < PacketSize {
		return nil
	}
	b, err := pr.br.Peek(PacketSize)
	if err != nil || b[0] != SyncByte {
		return nil
	}
	return Packet(b)
}

// discard consumes the packet buffered returned.
func (pr *packetReader) discard() {
	_, _ = pr.br.Discard(PacketSize)
}

// packets returns the whole packets in data, resynchronised as a
// packetReader would read them, in a new slice.
func packets(data []byte) []byte {
	out := make([]byte, 0, len(data)/PacketSize*PacketSize)
	for i := 0; i+PacketSize <= len(data); {
		if data[i] != SyncByte {
			i++
			continue
		}
		out = append(out, data[i:i+PacketSize]...)
		i += PacketSize
	}
	return out
}
