package ts

// Stream types in a PMT that Tables treats as video.
const (
	StreamTypeH264 = 0x1b
	StreamTypeHEVC = 0x24
)

// Tables follows a stream's program tables packet by packet to learn which
// PID carries video and which carries the PCR: the PAT (PID 0) names the
// PMT of the first program, and that PMT lists the program's elementary
// streams. Sections may span packets; a section whose CRC is wrong is
// ignored, so garbage cannot change what Tables knows. The zero value is
// ready to use; a Tables is not safe for concurrent use.
type Tables struct {
	pmtPID    uint16 // 0 = not known yet
	videoPID  uint16 // 0 = not known yet
	videoType uint8
	pcrPID    uint16
	pcrKnown  bool
	pat, pmt  sectionBuffer
}

// Add updates what t knows with packet p.
func (t *Tables) Add(p Packet) {
	pid := p.PID()
	if _, ok := p.pcrTicks(); ok && !t.pcrKnown {
		// Until a PMT names it, the first PID seen with a PCR is the
		// PCR PID.
		t.pcrPID, t.pcrKnown = pid, true
	}
	switch {
	case pid == 0:
		t.pat.add(p, tableIDPAT, t.onPAT)
	case t.pmtPID != 0 && pid == t.pmtPID:
		t.pmt.add(p, tableIDPMT, t.onPMT)
	}
}

// VideoPID returns the PID of the first H.264 or HEVC stream of the PMT,
// once a PMT has been seen.
func (t *Tables) VideoPID() (pid uint16, ok bool) { return t.videoPID, t.videoPID != 0 }

// PCRPID returns the PCR_PID of the PMT, or before a PMT, the first PID
// seen carrying a PCR.
func (t *Tables) PCRPID() (pid uint16, ok bool) { return t.pcrPID, t.pcrKnown }

// IsTable reports whether pid carries tables or padding rather than
// elementary stream data: the PIDs up to 0x1f (PAT, CAT and DVB SI such
// as the SDT), the PMT and the null PID.
func (t *Tables) IsTable(pid uint16) bool {
	return pid <= 0x1f || pid == NullPID || (t.pmtPID != 0 && pid == t.pmtPID)
}

const (
	tableIDPAT = 0x00
	tableIDPMT = 0x02
)

// onPAT takes the PMT PID of the first program (program 0 is the network
// PID, not a program).
func (t *Tables) onPAT(s []byte) {
	body := s[8 : len(s)-4]
	for i := 0; i+4 <= len(body); i += 4 {
		program := uint16(body[i])<<8 | uint16(body[i+1])
		if program == 0 {
			continue
		}
		pid := uint16(body[i+2]&0x1f)<<8 | uint16(body[i+3])
		if pid != t.pmtPID {
			t.pmtPID = pid
			t.pmt = sectionBuffer{}
		}
		return
	}
}

// onPMT takes the PCR PID and the first video stream of the program.
func (t *Tables) onPMT(s []byte) {
	body := s[8 : len(s)-4]
	if len(body) < 4 {
		return
	}
	t.pcrPID = uint16(body[0]&0x1f)<<8 | uint16(body[1])
	t.pcrKnown = true
	infoLen := int(body[2]&0x0f)<<8 | int(body[3])
	t.videoPID, t.videoType = 0, 0
	for i := 4 + infoLen; i+5 <= len(body); {
		typ := body[i]
		pid := uint16(body[i+1]&0x1f)<<8 | uint16(body[i+2])
		if typ == StreamTypeH264 || typ == StreamTypeHEVC {
			t.videoPID, t.videoType = pid, typ
			return
		}
		i += 5 + (int(body[i+3]&0x0f)<<8 | int(body[i+4]))
	}
}

// maxSection is the largest PSI section: 3 header bytes and a
// section_length of at most 1021.
const maxSection = 1024

// sectionBuffer reassembles the sections of one PID from its packets.
type sectionBuffer struct {
	buf     []byte
	active  bool // buf holds the start of a section
	counter uint8
}

// add feeds packet p to the buffer and calls done with every complete
// section of table tableID whose CRC is correct. The section passed to
// done has at least its 8-byte header and 4-byte CRC.
func (b *sectionBuffer) add(p Packet, tableID byte, done func([]byte)) {
	pl := p.Payload()
	if len(pl) == 0 {
		return
	}
	cc := p.ContinuityCounter()
	if !p.PUSI() {
		// A continuation is only usable right after the previous packet.
		if b.active && cc == (b.counter+1)&0x0f {
			b.counter = cc
			b.append(pl, tableID, done)
		} else {
			b.active = false
		}
		return
	}
	pointer := int(pl[0])
	if 1+pointer > len(pl) {
		b.active = false
		return
	}
	if b.active && cc == (b.counter+1)&0x0f {
		// The bytes before the pointed-to section end the previous one.
		b.append(pl[1:1+pointer], tableID, done)
	}
	b.buf, b.active, b.counter = b.buf[:0], true, cc
	b.append(pl[1+pointer:], tableID, done)
}

// append adds data to the section being assembled and hands on every
// section it completes; more sections may follow in the same payload.
func (b *sectionBuffer) append(data []byte, tableID byte, done func([]byte)) {
	for b.active && len(data) > 0 {
		if len(b.buf) == 0 && data[0] == 0xff {
			// Stuffing: no more sections in this packet.
			b.active = false
			return
		}
		b.buf = append(b.buf, data...)
		if len(b.buf) < 3 {
			return
		}
		n := 3 + (int(b.buf[1]&0x0f)<<8 | int(b.buf[2]))
		if n > maxSection {
			b.active = false
			return
		}
		if len(b.buf) < n {
			return
		}
		section := b.buf[:n]
		if n >= 12 && section[0] == tableID && crc32MPEG(section) == 0 {
			done(section)
		}
		// What follows the section may start another one.
		data = append([]byte(nil), b.buf[n:]...)
		b.buf = b.buf[:0]
	}
}

// crc32MPEG computes CRC-32/MPEG-2 (polynomial 0x04c11db7, not reflected,
// no final xor). Over a whole section, including its CRC, it is 0.
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
