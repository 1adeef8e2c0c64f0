package ts

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/p2pstream/p2pstream/internal/sample"
)

// tablesOf feeds every packet of data to a new Tables.
func tablesOf(data []byte) *Tables {
	var t Tables
	for _, p := range packetsIn(packets(data)) {
		t.Add(p)
	}
	return &t
}

func TestTablesSample(t *testing.T) {
	tables := tablesOf(sample.TS)
	video, ok := tables.VideoPID()
	require.True(t, ok)
	assert.Equal(t, uint16(0x100), video)
	pcr, ok := tables.PCRPID()
	require.True(t, ok)
	assert.Equal(t, uint16(0x100), pcr)
	for pid, want := range map[uint16]bool{0: true, 0x11: true, 0x1000: true, NullPID: true, 0x100: false, 0x101: false} {
		assert.Equal(t, want, tables.IsTable(pid), "IsTable(%#x)", pid)
	}
}

// sectionPackets splits a section (without CRC) into packets of pid,
// starting at continuity counter cc, after a pointer field of 0.
func sectionPackets(pid uint16, section []byte, cc uint8) []byte {
	data := append([]byte{0}, section...)
	data = binary.BigEndian.AppendUint32(data, crc32MPEG(section))
	var out []byte
	for first := true; len(data) > 0; first = false {
		h := [4]byte{SyncByte, byte(pid >> 8), byte(pid), 0x10 | cc&0x0f}
		if first {
			h[1] |= 0x40
		}
		cc++
		n := min(len(data), PacketSize-4)
		p := append(h[:], data[:n]...)
		for len(p) < PacketSize {
			p = append(p, 0xff)
		}
		out = append(out, p...)
		data = data[n:]
	}
	return out
}

// pmtWith returns a PMT section (without CRC) for PCR PID pcr, with
// program info of infoLen bytes and streams of (type, pid) pairs each
// with descLen bytes of descriptors.
func pmtWith(pcr uint16, infoLen, descLen int, streams ...uint16) []byte {
	s := []byte{tableIDPMT, 0xb0, 0, 0, 1, 0xc1, 0, 0, 0xe0 | byte(pcr>>8), byte(pcr), 0xf0 | byte(infoLen>>8), byte(infoLen)}
	s = append(s, bytes.Repeat([]byte{0x05}, infoLen)...)
	for i := 0; i+1 < len(streams); i += 2 {
		s = append(s, byte(streams[i]), 0xe0|byte(streams[i+1]>>8), byte(streams[i+1]), 0xf0|byte(descLen>>8), byte(descLen))
		s = append(s, bytes.Repeat([]byte{0x0a}, descLen)...)
	}
	n := len(s) - 3 + 4 // section_length counts from after it, with the CRC
	s[1] |= byte(n >> 8)
	s[2] = byte(n)
	return s
}

func TestTables(t *testing.T) {
	pat := []byte{tableIDPAT, 0xb0, 17, 0, 1, 0xc1, 0, 0,
		0, 0, 0xe0, 0x10, // program 0: the network PID, not a program
		0, 1, 0xe1, 0x00} // program 1: PMT on 0x100
	badCRC := sectionPackets(0x100, pmtWith(0x200, 0, 0, StreamTypeH264, 0x200), 0)
	badCRC[20] ^= 1
	tests := []struct {
		name       string
		data       []byte
		video, pcr uint16
		videoKnown bool
		pcrKnown   bool
	}{
		{"pat and pmt",
			append(sectionPackets(0, pat, 0), sectionPackets(0x100, pmtWith(0x201, 0, 0, 0x0f, 0x202, StreamTypeH264, 0x201), 0)...),
			0x201, 0x201, true, true},
		{"hevc",
			append(sectionPackets(0, pat, 0), sectionPackets(0x100, pmtWith(0x201, 0, 0, StreamTypeHEVC, 0x300), 0)...),
			0x300, 0x201, true, true},
		{"pmt over three packets",
			append(sectionPackets(0, pat, 0), sectionPackets(0x100, pmtWith(0x201, 150, 100, 0x0f, 0x202, 0x06, 0x203, StreamTypeH264, 0x204), 5)...),
			0x204, 0x201, true, true},
		{"pmt before pat is not known yet",
			append(sectionPackets(0x100, pmtWith(0x201, 0, 0, StreamTypeH264, 0x201), 0), sectionPackets(0, pat, 0)...),
			0, 0, false, false},
		{"bad crc", append(sectionPackets(0, pat, 0), badCRC...), 0, 0, false, false},
		{"no video stream",
			append(sectionPackets(0, pat, 0), sectionPackets(0x100, pmtWith(0x202, 0, 0, 0x0f, 0x202), 0)...),
			0, 0x202, false, true},
		{"pcr before any pmt", Synthetic(100*time.Millisecond, 500_000, time.Second)[2*PacketSize:], 0, 0x100, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tables := tablesOf(tt.data)
			video, ok := tables.VideoPID()
			assert.Equal(t, tt.videoKnown, ok, "video known")
			assert.Equal(t, tt.video, video, "video PID")
			pcr, ok := tables.PCRPID()
			assert.Equal(t, tt.pcrKnown, ok, "PCR known")
			assert.Equal(t, tt.pcr, pcr, "PCR PID")
		})
	}
}

func TestTablesMissingContinuation(t *testing.T) {
	pat := []byte{tableIDPAT, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xe1, 0x00}
	pmt := sectionPackets(0x100, pmtWith(0x201, 150, 100, 0x0f, 0x202, StreamTypeH264, 0x204), 0)
	require.Len(t, pmt, 3*PacketSize)
	// Without the middle packet, the section must not be pieced together.
	data := append(sectionPackets(0, pat, 0), pmt[:PacketSize]...)
	data = append(data, pmt[2*PacketSize:]...)
	_, ok := tablesOf(data).VideoPID()
	assert.False(t, ok)
}

func TestKeyframesSample(t *testing.T) {
	var tables Tables
	var keys []int
	all := packetsIn(sample.TS)
	for i, p := range all {
		tables.Add(p)
		if tables.Keyframe(p) {
			keys = append(keys, i)
		}
	}
	require.Len(t, keys, 30, "one keyframe a second")
	for _, i := range keys {
		assert.Equal(t, uint16(0x100), all[i].PID())
		assert.True(t, all[i].RandomAccess())
		_, ok := all[i].PCR()
		assert.True(t, ok, "the keyframe packet carries a PCR")
		// The muxer puts a PAT and PMT directly before every keyframe.
		assert.Equal(t, uint16(0), all[i-2].PID(), "PAT before keyframe packet %d", i)
		assert.Equal(t, uint16(0x1000), all[i-1].PID(), "PMT before keyframe packet %d", i)
	}
}

func TestKeyframe(t *testing.T) {
	pesStart := []byte{0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}
	aud := []byte{0, 0, 0, 1, 0x09, 0xf0}
	videoPacket := func(rai bool, es ...byte) Packet {
		var af []byte
		if rai {
			af = []byte{afRandomAccess}
		}
		p := packet([4]byte{SyncByte, 0x41, 0x00, 0x10}, af) // PUSI, PID 0x100
		payload := p.Payload()
		n := copy(payload, pesStart)
		copy(payload[n:], es)
		return p
	}
	h264 := pmtWith(0x100, 0, 0, StreamTypeH264, 0x100)
	hevc := pmtWith(0x100, 0, 0, StreamTypeHEVC, 0x100)
	tests := []struct {
		name string
		pmt  []byte // nil: no PMT seen
		p    Packet
		want bool
	}{
		{"h264 idr", h264, videoPacket(false, append(aud, 0, 0, 1, 0x65)...), true},
		{"h264 sps", h264, videoPacket(false, append(aud, 0, 0, 0, 1, 0x67)...), true},
		{"h264 slice despite rai", h264, videoPacket(true, append(aud, 0, 0, 1, 0x41)...), false},
		{"h264 only sei, rai", h264, videoPacket(true, append(aud, 0, 0, 1, 0x06)...), true},
		{"h264 only sei, no rai", h264, videoPacket(false, append(aud, 0, 0, 1, 0x06)...), false},
		{"hevc idr", hevc, videoPacket(false, 0, 0, 1, 19<<1, 1), true},
		{"hevc cra", hevc, videoPacket(false, 0, 0, 1, 21<<1, 1), true},
		{"hevc vps", hevc, videoPacket(false, 0, 0, 1, 32<<1, 1), true},
		{"hevc trail", hevc, videoPacket(true, 0, 0, 1, 1<<1, 1), false},
		{"no pmt, rai on video stream id", nil, videoPacket(true, append(aud, 0, 0, 1, 0x41)...), true},
		{"no pmt, no rai", nil, videoPacket(false, append(aud, 0, 0, 1, 0x65)...), false},
		{"other pid", pmtWith(0x100, 0, 0, StreamTypeH264, 0x200), videoPacket(true, append(aud, 0, 0, 1, 0x65)...), false},
		{"not a pes", h264, packet([4]byte{SyncByte, 0x41, 0x00, 0x10}, []byte{afRandomAccess}), false},
		{"no pusi", h264, func() Packet { p := videoPacket(true, 0, 0, 1, 0x65); p[1] &^= 0x40; return p }(), false},
		{"pes header too long", h264, func() Packet { p := videoPacket(true, 0, 0, 1, 0x65); p.Payload()[8] = 250; return p }(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tables Tables
			if tt.pmt != nil {
				pat := []byte{tableIDPAT, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0x00} // PMT on 0x1000
				for _, p := range packetsIn(append(sectionPackets(0, pat, 0), sectionPackets(0x1000, tt.pmt, 0)...)) {
					tables.Add(p)
				}
			}
			tables.Add(tt.p)
			assert.Equal(t, tt.want, tables.Keyframe(tt.p))
		})
	}
}
