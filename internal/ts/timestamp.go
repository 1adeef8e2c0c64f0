package ts

// PES timestamps (PTS and DTS) count 90 kHz in 33 bits, like the PCR base.
// These helpers find and rewrite them, and the PCR base, in place, so that
// Loop can move a whole pass of a stream later in time.

// pesTimestamps returns the offsets in p of the 5-byte PTS and DTS fields
// of the PES header that starts in p, or -1 for a field that is absent.
func pesTimestamps(p Packet) (pts, dts int) {
	pts, dts = -1, -1
	if !p.PUSI() {
		return
	}
	pl := p.Payload()
	if len(pl) < 9 || pl[0] != 0 || pl[1] != 0 || pl[2] != 1 || !pesHasHeader(pl[3]) {
		return
	}
	off := PacketSize - len(pl) // offset of the payload in p
	hdr := int(pl[8])
	switch pl[7] >> 6 {
	case 2:
		if hdr >= 5 && len(pl) >= 14 {
			pts = off + 9
		}
	case 3:
		if hdr >= 10 && len(pl) >= 19 {
			pts, dts = off+9, off+14
		}
	}
	return
}

// readTimestamp decodes a 5-byte PTS or DTS field.
func readTimestamp(b []byte) uint64 {
	return uint64(b[0]>>1&0x07)<<30 | uint64(b[1])<<22 | uint64(b[2]>>1)<<15 | uint64(b[3])<<7 | uint64(b[4]>>1)
}

// writeTimestamp encodes ts (33 bits) into a 5-byte PTS or DTS field,
// keeping its prefix and marker bits.
func writeTimestamp(b []byte, ts uint64) {
	b[0] = b[0]&0xf1 | byte(ts>>29)&0x0e
	b[1] = byte(ts >> 22)
	b[2] = b[2]&0x01 | byte(ts>>14)&0xfe
	b[3] = byte(ts >> 7)
	b[4] = b[4]&0x01 | byte(ts<<1)
}

// pcrBaseOffset returns the offset in p of the 6 bytes holding the PCR,
// or -1 if p carries none.
func pcrBaseOffset(p Packet) int {
	if _, ok := p.pcrTicks(); !ok {
		return -1
	}
	return 6 // sync, 3 header bytes, adaptation length, flags
}

// readPCRBase decodes the 33-bit PCR base from the 6 PCR bytes.
func readPCRBase(b []byte) uint64 {
	return uint64(b[0])<<25 | uint64(b[1])<<17 | uint64(b[2])<<9 | uint64(b[3])<<1 | uint64(b[4]>>7)
}

// writePCRBase encodes a 33-bit PCR base into the 6 PCR bytes, keeping the
// reserved bits and the extension.
func writePCRBase(b []byte, base uint64) {
	b[0] = byte(base >> 25)
	b[1] = byte(base >> 17)
	b[2] = byte(base >> 9)
	b[3] = byte(base >> 1)
	b[4] = b[4]&0x7f | byte(base<<7)
}

// shiftTimes adds shift (90 kHz ticks) to the PCR base, PTS and DTS in p,
// modulo 2^33, and adds ccShift to its continuity counter, modulo 16. p
// must be a whole packet. Other fields (OPCR, ESCR) are left alone.
func shiftTimes(p Packet, shift uint64, ccShift uint8) {
	if len(p) != PacketSize {
		return
	}
	p[3] = p[3]&0xf0 | (p[3]+ccShift)&0x0f
	if off := pcrBaseOffset(p); off >= 0 {
		writePCRBase(p[off:], (readPCRBase(p[off:])+shift)%ptsWrap)
	}
	pts, dts := pesTimestamps(p)
	for _, off := range []int{pts, dts} {
		if off >= 0 {
			writeTimestamp(p[off:], (readTimestamp(p[off:])+shift)%ptsWrap)
		}
	}
}
