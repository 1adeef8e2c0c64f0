// Package ts has the MPEG-TS helpers p2pstream needs: 188-byte packets,
// PCR timing and pacing, keyframe detection, cutting a stream into chunks
// at keyframes, and synthetic streams for tests.
package ts

import (
	"bufio"
	"io"
	"time"
)

// PacketSize is the size of an MPEG-TS packet; SyncByte starts each one.
const (
	PacketSize = 188
	SyncByte   = 0x47
)

// Packet is one 188-byte MPEG-TS packet.
type Packet []byte

// PID returns the packet identifier.
func (p Packet) PID() uint16 { return uint16(p[1]&0x1f)<<8 | uint16(p[2]) }

// PUSI reports whether a PES packet or PSI section starts in this packet.
func (p Packet) PUSI() bool { return p[1]&0x40 != 0 }

// adaptation returns the adaptation field (without its length byte), if any.
func (p Packet) adaptation() []byte {
	if p[3]&0x20 == 0 {
		return nil
	}
	n := int(p[4])
	if n == 0 || 5+n > PacketSize {
		return nil
	}
	return p[5 : 5+n]
}

// RandomAccess reports the random_access_indicator (set at keyframes).
func (p Packet) RandomAccess() bool {
	af := p.adaptation()
	return len(af) > 0 && af[0]&0x40 != 0
}

// PCR returns the program clock reference, if the packet carries one.
func (p Packet) PCR() (time.Duration, bool) {
	af := p.adaptation()
	if len(af) < 7 || af[0]&0x10 == 0 {
		return 0, false
	}
	base := uint64(af[1])<<25 | uint64(af[2])<<17 | uint64(af[3])<<9 | uint64(af[4])<<1 | uint64(af[5])>>7
	ext := uint64(af[5]&1)<<8 | uint64(af[6])
	ticks := base*300 + ext // 27 MHz
	return time.Duration(ticks * 1000 / 27), true
}

// payload returns the packet's payload, if any.
func (p Packet) payload() []byte {
	if p[3]&0x10 == 0 {
		return nil
	}
	off := 4
	if p[3]&0x20 != 0 {
		off += 1 + int(p[4])
	}
	if off >= PacketSize {
		return nil
	}
	return p[off:]
}

// patPMTPID returns the PMT PID of the first program in a PAT packet.
func patPMTPID(p Packet) (uint16, bool) {
	pl := p.payload()
	if !p.PUSI() || len(pl) < 1 {
		return 0, false
	}
	skip := 1 + int(pl[0]) // pointer field
	if skip >= len(pl) {
		return 0, false
	}
	pl = pl[skip:]
	if len(pl) < 8 || pl[0] != 0 {
		return 0, false
	}
	secLen := int(pl[1]&0x0f)<<8 | int(pl[2])
	end := min(3+secLen-4, len(pl)) // without the CRC
	for i := 8; i+4 <= end; i += 4 {
		prog := uint16(pl[i])<<8 | uint16(pl[i+1])
		if prog != 0 {
			return uint16(pl[i+2]&0x1f)<<8 | uint16(pl[i+3]), true
		}
	}
	return 0, false
}

// packetReader reads whole packets, skipping bytes until a sync byte so that
// garbage or a cut in the middle of a packet never desynchronises it.
type packetReader struct {
	br  *bufio.Reader
	buf [PacketSize]byte
}

func newPacketReader(r io.Reader) *packetReader {
	return &packetReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next packet, valid until the following call. A partial
// packet at the end is dropped; the error is then io.EOF.
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
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			return nil, err
		}
		return Packet(pr.buf[:]), nil
	}
}
