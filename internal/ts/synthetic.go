package ts

import (
	"encoding/binary"
	"math/bits"
	"time"
)

// PIDs of the streams Synthetic makes.
const (
	syntheticPMT   = 0x1000
	syntheticVideo = 0x100
	syntheticAudio = 0x101
)

// syntheticFrame is the frame interval of Synthetic video (25 fps).
const syntheticFrame = 40 * time.Millisecond

// Synthetic returns a deterministic MPEG-TS stream for tests, fast to make
// and needing no ffmpeg: duration at a constant bitrate (bits per second),
// with a keyframe at 0 and then every keyframe interval (only at 0 if
// keyframe <= 0). It is not decodable video, but it is valid MPEG-TS that
// this package reads like a real stream:
//
//   - PAT and PMT (PMT on PID 0x1000) directly before every keyframe. The
//     program has H.264 video on PID 0x100, which carries the PCR, and
//     AAC audio on PID 0x101.
//   - Packet i is sent at i*188*8/bitrate s; every PCR is the send time of
//     its packet.
//   - A video frame (a PES packet with PCR, PTS and DTS) starts every
//     40 ms and at every keyframe. A keyframe's first packet has the
//     random_access_indicator and the NAL units AUD, SPS, IDR slice;
//     other frames AUD, non-IDR slice.
//   - Every 16th packet is audio: a PES packet with the
//     random_access_indicator set, as muxers do for audio frames.
//   - Other bytes are a function of the packet's index, so byte-exact
//     comparisons are meaningful.
//
// It returns nil if duration or bitrate is not positive.
func Synthetic(duration time.Duration, bitrate int64, keyframe time.Duration) []byte {
	if duration <= 0 || bitrate <= 0 {
		return nil
	}
	n := scaleDiv(uint64(duration), uint64(bitrate), PacketSize*8*uint64(time.Second))
	sendTime := func(i int) time.Duration {
		return time.Duration(scaleDiv(uint64(i), PacketSize*8*uint64(time.Second), uint64(bitrate)))
	}
	g := &synthesizer{out: make([]byte, 0, n*PacketSize)}
	var nextFrame, nextKey time.Duration
	for i := 0; i < int(n); i = len(g.out) / PacketSize {
		t := sendTime(i)
		switch {
		case t >= nextFrame || t >= nextKey:
			key := t >= nextKey
			mark := min(nextFrame, nextKey) // the frame's nominal time
			for nextFrame <= t {
				nextFrame += syntheticFrame
			}
			if key {
				for nextKey <= t {
					if keyframe <= 0 {
						nextKey = duration + 1
						break
					}
					nextKey += keyframe
				}
				g.tables()
				if i+2 >= int(n) {
					break
				}
				t = sendTime(i + 2)
			}
			g.frameStart(t, mark, key)
		case i%16 == 8:
			g.audio(i, t)
		default:
			g.continuation(i)
		}
	}
	return g.out[:n*PacketSize]
}

// scaleDiv returns a*b/c without overflow in the product. The quotient
// must fit in 64 bits.
func scaleDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// synthesizer appends the packets of a synthetic stream.
type synthesizer struct {
	out []byte
	cc  [0x2000]uint8
}

// header appends a packet header with a payload; adaptation is the
// adaptation field after its length byte, or nil.
func (g *synthesizer) header(pid uint16, pusi bool, adaptation []byte) {
	b := [4]byte{SyncByte, byte(pid>>8) & 0x1f, byte(pid), 0x10 | g.cc[pid]&0x0f}
	g.cc[pid]++
	if pusi {
		b[1] |= 0x40
	}
	g.out = append(g.out, b[:]...)
	if adaptation != nil {
		g.out[len(g.out)-1] |= 0x20
		g.out = append(g.out, byte(len(adaptation)))
		g.out = append(g.out, adaptation...)
	}
}

// fill pads the packet being written to PacketSize with bytes that depend
// on the packet index i. Consecutive bytes differ by one, so the filler
// never contains a start code.
func (g *synthesizer) fill(i int) {
	for j := len(g.out) % PacketSize; j < PacketSize; j++ {
		g.out = append(g.out, byte(i*7+j))
	}
}

// tables appends a PAT and a PMT.
func (g *synthesizer) tables() {
	pat := []byte{tableIDPAT, 0xb0, 13, 0x00, 0x01, 0xc1, 0, 0,
		0x00, 0x01, 0xe0 | syntheticPMT>>8, syntheticPMT & 0xff}
	pmt := []byte{tableIDPMT, 0xb0, 23, 0x00, 0x01, 0xc1, 0, 0,
		0xe0 | syntheticVideo>>8, syntheticVideo & 0xff, 0xf0, 0, // PCR PID, no program info
		StreamTypeH264, 0xe0 | syntheticVideo>>8, syntheticVideo & 0xff, 0xf0, 0,
		0x0f, 0xe0 | syntheticAudio>>8, syntheticAudio & 0xff, 0xf0, 0} // 0x0f: AAC (ADTS)
	for _, s := range []struct {
		pid     uint16
		section []byte
	}{{0, pat}, {syntheticPMT, pmt}} {
		g.header(s.pid, true, nil)
		g.out = append(g.out, 0) // pointer field
		g.out = append(g.out, s.section...)
		g.out = binary.BigEndian.AppendUint32(g.out, crc32MPEG(s.section))
		for len(g.out)%PacketSize != 0 {
			g.out = append(g.out, 0xff)
		}
	}
}

// frameStart appends the first packet of a video frame sent at t, with
// nominal time mark.
func (g *synthesizer) frameStart(t, mark time.Duration, key bool) {
	i := len(g.out) / PacketSize
	af := make([]byte, 7)
	af[0] = afPCR
	if key {
		af[0] |= afRandomAccess
	}
	ticks := uint64(t) * 27 / 1000
	writePCRBase(af[1:], ticks/300)
	af[5] |= 0x7e | byte(ticks%300>>8)
	af[6] = byte(ticks % 300)
	g.header(syntheticVideo, true, af)

	// Video PES packets may leave their length 0 (unbounded).
	pes := []byte{0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 10, 0x31, 0, 1, 0, 1, 0x11, 0, 1, 0, 1}
	ts := pesTime(mark)
	writeTimestamp(pes[9:], ts)
	writeTimestamp(pes[14:], ts)
	g.out = append(g.out, pes...)
	g.out = append(g.out, 0, 0, 0, 1, 0x09, 0xf0) // access unit delimiter
	if key {
		g.out = append(g.out, 0, 0, 0, 1, 0x67, 0x4d, 0x40, 0x1e) // SPS
		g.out = append(g.out, 0, 0, 0, 1, 0x65)                   // IDR slice
	} else {
		g.out = append(g.out, 0, 0, 0, 1, 0x41) // non-IDR slice
	}
	g.fill(i)
}

// audio appends packet i, a whole audio PES packet sent at t.
func (g *synthesizer) audio(i int, t time.Duration) {
	g.header(syntheticAudio, true, []byte{afRandomAccess})
	const length = PacketSize - 4 - 2 - 6 // after the PES length field
	pes := []byte{0, 0, 1, 0xc0, 0, length, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}
	writeTimestamp(pes[9:], pesTime(t))
	g.out = append(g.out, pes...)
	g.fill(i)
}

// continuation appends packet i, the continuation of a video frame.
func (g *synthesizer) continuation(i int) {
	g.header(syntheticVideo, false, nil)
	g.fill(i)
}

// pesTime returns the PTS for nominal time t: 90 kHz ticks, offset by
// 200 ms as a muxer leaves room for decoding.
func pesTime(t time.Duration) uint64 {
	return uint64((t+200*time.Millisecond)/time.Microsecond) * 9 / 100 % ptsWrap
}
