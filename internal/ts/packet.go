// Package ts has the MPEG-TS (ISO/IEC 13818-1) helpers p2pstream needs:
// 188-byte packets, program tables, keyframe detection, cutting a stream
// into segments that start at keyframes, pacing by PCR, looping a file as
// an endless live stream, and synthetic streams for tests.
//
// Everything here reads untrusted bytes: input is resynchronised on sync
// bytes, every length is checked, and bad input is skipped, never a panic.
package ts

import "time"

// PacketSize is the size of an MPEG-TS packet; SyncByte starts each one.
const (
	PacketSize = 188
	SyncByte   = 0x47
)

// NullPID is the PID of padding packets.
const NullPID = 0x1fff

// Packet is one MPEG-TS packet. Its accessors return zero values when the
// packet is not PacketSize bytes long or a field does not fit, so they are
// safe on any input; Valid says whether the packet is well formed.
type Packet []byte

// Valid reports whether p is PacketSize bytes long, starts with SyncByte
// and has an adaptation field that fits.
func (p Packet) Valid() bool {
	if len(p) != PacketSize || p[0] != SyncByte {
		return false
	}
	return !p.hasAdaptation() || 5+int(p[4]) <= PacketSize
}

// PID returns the packet identifier.
func (p Packet) PID() uint16 {
	if len(p) != PacketSize {
		return 0
	}
	return uint16(p[1]&0x1f)<<8 | uint16(p[2])
}

// PUSI reports the payload_unit_start_indicator: a PES packet or a PSI
// section starts in this packet's payload.
func (p Packet) PUSI() bool { return len(p) == PacketSize && p[1]&0x40 != 0 }

// ContinuityCounter returns the 4-bit continuity_counter, which increases
// by one (mod 16) with every packet of a PID that has a payload.
func (p Packet) ContinuityCounter() uint8 {
	if len(p) != PacketSize {
		return 0
	}
	return p[3] & 0x0f
}

func (p Packet) hasAdaptation() bool { return len(p) == PacketSize && p[3]&0x20 != 0 }

// HasPayload reports whether the packet carries a payload.
func (p Packet) HasPayload() bool { return len(p) == PacketSize && p[3]&0x10 != 0 }

// AdaptationField returns the adaptation field after its length byte (the
// flags byte first), or nil if there is none or it does not fit.
func (p Packet) AdaptationField() []byte {
	if !p.hasAdaptation() {
		return nil
	}
	n := int(p[4])
	if n == 0 || 5+n > PacketSize {
		return nil
	}
	return p[5 : 5+n]
}

// Payload returns the bytes after the header and adaptation field, or nil.
func (p Packet) Payload() []byte {
	if !p.HasPayload() {
		return nil
	}
	off := 4
	if p.hasAdaptation() {
		off += 1 + int(p[4])
	}
	if off >= PacketSize {
		return nil
	}
	return p[off:]
}

// Adaptation field flags (the first byte of the field).
const (
	afDiscontinuity = 0x80
	afRandomAccess  = 0x40
	afPCR           = 0x10
)

func (p Packet) adaptationFlag(flag byte) bool {
	af := p.AdaptationField()
	return len(af) > 0 && af[0]&flag != 0
}

// RandomAccess reports the random_access_indicator: a decoder can start
// here (muxers set it on a keyframe's first packet, and on audio frames).
func (p Packet) RandomAccess() bool { return p.adaptationFlag(afRandomAccess) }

// Discontinuity reports the discontinuity_indicator: the continuity
// counter or, on the PCR PID, the time base restarts with this packet.
func (p Packet) Discontinuity() bool { return p.adaptationFlag(afDiscontinuity) }

// PCR returns the program clock reference carried by the packet, the
// stream time at which its last PCR byte should arrive, converted from
// 27 MHz ticks (truncated to the nanosecond). ok is false if there is none.
func (p Packet) PCR() (pcr time.Duration, ok bool) {
	ticks, ok := p.pcrTicks()
	return ticksToDuration(ticks), ok
}

// pcrTicks returns the PCR in 27 MHz ticks: base*300 + extension.
func (p Packet) pcrTicks() (uint64, bool) {
	af := p.AdaptationField()
	if len(af) < 7 || af[0]&afPCR == 0 {
		return 0, false
	}
	base := uint64(af[1])<<25 | uint64(af[2])<<17 | uint64(af[3])<<9 | uint64(af[4])<<1 | uint64(af[5])>>7
	ext := uint64(af[5]&1)<<8 | uint64(af[6])
	return base*300 + ext, true
}

// PCR arithmetic. The base counts 90 kHz in 33 bits; the extension counts
// 27 MHz from 0 to 299, so PCR values wrap at pcrWrap ticks (about 26.5 h).
const (
	pcrHz   = 27_000_000
	ptsWrap = 1 << 33
	pcrWrap = ptsWrap * 300
)

// ticksToDuration converts 27 MHz ticks (below 2^53) to a duration.
func ticksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks * 1000 / 27)
}
