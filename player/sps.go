package player

import (
	"bytes"
	"errors"
)

// The H.264 picture size, read from the stream before libVLC's video output
// opens. libVLC proposes its decoder's buffer size to the format callback
// (vmem.c), which for H.264 is taller than the picture: 738 lines for a
// 720-line picture, 386 for 360 lines. Asked for a buffer of that size,
// libVLC scales every picture to it (and the window scales it back); asked
// for the picture's own size, it only converts the colours. Only the
// buffer's size reaches the callback, so the player reads the size from
// the sequence parameter set (SPS) as libVLC reads the stream.

// spsSniffer follows an MPEG-TS byte stream for the first H.264 video
// stream's SPS. It is used by the source's Read, on libVLC's input thread
// only.
type spsSniffer struct {
	found func(width, height int) // called with each SPS's picture size

	partial  []byte // the start of a TS packet split between two reads
	pmtPID   int    // -1 until the PAT was read
	videoPID int    // -1 until the PMT was read
	pes      []byte // the start of the current video PES's payload
	inPES    bool   // pes is being filled
	last     [2]int // the size found last, to report changes only
}

const (
	tsPacket = 188
	// spsScan is how much of each video PES is searched for an SPS: an
	// encoder puts it at the start of a keyframe's access unit.
	spsScan = 4096
)

func newSPSSniffer(found func(width, height int)) *spsSniffer {
	return &spsSniffer{found: found, pmtPID: -1, videoPID: -1}
}

// reset forgets a packet in progress: the stream continues elsewhere (a
// seek).
func (s *spsSniffer) reset() {
	s.partial = s.partial[:0]
	s.pes, s.inPES = s.pes[:0], false
}

// write follows b, the next bytes of the stream.
func (s *spsSniffer) write(b []byte) {
	if len(s.partial) > 0 {
		n := min(tsPacket-len(s.partial), len(b))
		s.partial = append(s.partial, b[:n]...)
		b = b[n:]
		if len(s.partial) < tsPacket {
			return
		}
		s.packet(s.partial)
		s.partial = s.partial[:0]
	}
	for len(b) > 0 {
		if b[0] != 0x47 { // lost sync: find the next packet start
			i := bytes.IndexByte(b, 0x47)
			if i < 0 {
				return
			}
			b = b[i:]
		}
		if len(b) < tsPacket {
			s.partial = append(s.partial, b...)
			return
		}
		s.packet(b[:tsPacket])
		b = b[tsPacket:]
	}
}

// packet follows one 188-byte TS packet.
func (s *spsSniffer) packet(p []byte) {
	pid := int(p[1]&0x1f)<<8 | int(p[2])
	start := p[1]&0x40 != 0
	payload := p[4:]
	switch p[3] >> 4 & 3 { // adaptation field control
	case 1:
	case 3:
		n := 1 + int(p[4])
		if n >= len(payload) {
			return
		}
		payload = payload[n:]
	default:
		return
	}
	switch {
	case pid == 0 && start:
		s.pat(payload)
	case pid == s.pmtPID && start:
		s.pmt(payload)
	case pid == s.videoPID:
		s.video(payload, start)
	}
}

// section returns the section a PSI packet's payload starts, without its
// CRC, if it is whole in this packet and has the table ID.
func section(payload []byte, table byte) []byte {
	if len(payload) < 1 || int(payload[0])+1 >= len(payload) {
		return nil
	}
	sec := payload[1+int(payload[0]):]
	if len(sec) < 8 || sec[0] != table {
		return nil
	}
	n := int(sec[1]&0x0f)<<8 | int(sec[2])
	if n < 9 || 3+n > len(sec) {
		return nil
	}
	return sec[:3+n-4]
}

// pat finds the first program's PMT.
func (s *spsSniffer) pat(payload []byte) {
	sec := section(payload, 0x00)
	for i := 8; i+4 <= len(sec); i += 4 {
		if program := int(sec[i])<<8 | int(sec[i+1]); program != 0 {
			s.pmtPID = int(sec[i+2]&0x1f)<<8 | int(sec[i+3])
			return
		}
	}
}

// pmt finds the program's first H.264 stream.
func (s *spsSniffer) pmt(payload []byte) {
	sec := section(payload, 0x02)
	if len(sec) < 12 {
		return
	}
	i := 12 + (int(sec[10]&0x0f)<<8 | int(sec[11]))
	for i+5 <= len(sec) {
		if sec[i] == 0x1b { // H.264
			if pid := int(sec[i+1]&0x1f)<<8 | int(sec[i+2]); pid != s.videoPID {
				s.videoPID = pid
				s.reset()
			}
			return
		}
		i += 5 + (int(sec[i+3]&0x0f)<<8 | int(sec[i+4]))
	}
}

// video collects the start of each video PES and looks for an SPS in it.
func (s *spsSniffer) video(payload []byte, start bool) {
	if start {
		s.scan() // the previous PES ended
		s.pes, s.inPES = s.pes[:0], false
		// PES header: start code, stream ID, length, flags, header length.
		if len(payload) < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 {
			return
		}
		n := 9 + int(payload[8])
		if n > len(payload) {
			return
		}
		payload, s.inPES = payload[n:], true
	}
	if !s.inPES {
		return
	}
	s.pes = append(s.pes, payload[:min(len(payload), spsScan-len(s.pes))]...)
	if len(s.pes) >= spsScan {
		s.scan()
		s.inPES = false
	}
}

// scan looks for an SPS in the collected start of a PES.
func (s *spsSniffer) scan() {
	if !s.inPES {
		return
	}
	b := s.pes
	for {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 || i+3 >= len(b) {
			return
		}
		b = b[i+3:]
		if b[0]&0x1f != 7 {
			continue
		}
		// The SPS ends at the next start code, or with the data.
		nal := b
		if j := bytes.Index(b, []byte{0, 0, 1}); j >= 0 {
			nal = b[:j]
		}
		if w, h, err := parseSPS(nal); err == nil && [2]int{w, h} != s.last {
			s.last = [2]int{w, h}
			s.found(w, h)
		}
		return
	}
}

// parseSPS returns the picture size (after cropping) an H.264 sequence
// parameter set NAL unit gives (ITU-T H.264, 7.3.2.1.1).
func parseSPS(nal []byte) (width, height int, err error) {
	if len(nal) < 4 || nal[0]&0x1f != 7 {
		return 0, 0, errors.New("not an SPS")
	}
	r := bitReader{b: unescapeRBSP(nal[1:])}
	profile := r.bits(8)
	r.bits(16) // constraint flags, level
	r.ue()     // seq_parameter_set_id
	chroma := 1
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma == 3 {
			r.bits(1) // separate_colour_plane_flag
		}
		r.ue()              // bit_depth_luma_minus8
		r.ue()              // bit_depth_chroma_minus8
		r.bits(1)           // qpprime_y_zero_transform_bypass_flag
		if r.bits(1) == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.bits(1) == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(&r, size)
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.bits(1) // delta_pic_order_always_zero_flag
		r.se()    // offset_for_non_ref_pic
		r.se()    // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return 0, 0, errors.New("bad SPS")
		}
		for range n {
			r.se()
		}
	}
	r.ue()    // max_num_ref_frames
	r.bits(1) // gaps_in_frame_num_value_allowed_flag
	mbsWide := r.ue() + 1
	mapUnitsHigh := r.ue() + 1
	frameMBsOnly := r.bits(1)
	if frameMBsOnly == 0 {
		r.bits(1) // mb_adaptive_frame_field_flag
	}
	r.bits(1) // direct_8x8_inference_flag
	width = mbsWide * 16
	height = (2 - frameMBsOnly) * mapUnitsHigh * 16
	if r.bits(1) == 1 { // frame_cropping_flag
		left, right, top, bottom := r.ue(), r.ue(), r.ue(), r.ue()
		unitX, unitY := 1, 2-frameMBsOnly
		switch chroma {
		case 1:
			unitX, unitY = 2, 2*(2-frameMBsOnly)
		case 2:
			unitX = 2
		}
		width -= unitX * (left + right)
		height -= unitY * (top + bottom)
	}
	if r.err || width <= 0 || height <= 0 || width > 16384 || height > 16384 {
		return 0, 0, errors.New("bad SPS")
	}
	return width, height, nil
}

func skipScalingList(r *bitReader, size int) {
	last, next := 8, 8
	for range size {
		if next != 0 {
			next = (last + r.se() + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}

// unescapeRBSP removes the emulation prevention bytes (0x000003 -> 0x0000).
func unescapeRBSP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// bitReader reads bits and Exp-Golomb codes; reading past the end sets err
// and yields zeros.
type bitReader struct {
	b   []byte
	pos int // in bits
	err bool
}

func (r *bitReader) bits(n int) int {
	v := 0
	for range n {
		if r.pos >= 8*len(r.b) {
			r.err = true
			return 0
		}
		v = v<<1 | int(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) ue() int {
	zeros := 0
	for r.bits(1) == 0 {
		if r.err || zeros > 30 {
			r.err = true
			return 0
		}
		zeros++
	}
	return 1<<zeros - 1 + r.bits(zeros)
}

func (r *bitReader) se() int {
	v := r.ue()
	if v%2 == 1 {
		return (v + 1) / 2
	}
	return -v / 2
}
