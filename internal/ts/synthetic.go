package ts

import (
	"encoding/binary"
	"time"
)

// Synthetic PIDs.
const (
	synthPMT   = 0x1000
	synthVideo = 0x100
)

// Synthetic returns a deterministic MPEG-TS stream of the given duration and
// bitrate (bits per second) for tests: a PAT and a PMT naming one H.264 PID,
// whose packets carry a PCR every 40 ms and start a keyframe (PAT and PMT,
// then a PUSI packet with random_access_indicator) every keyframe interval.
// Payload bytes are a function of the packet's index, so byte-exact
// comparisons are meaningful. It is not decodable video.
func Synthetic(duration time.Duration, bitrate int64, keyframe time.Duration) []byte {
	perPacket := time.Duration(float64(PacketSize*8) / float64(bitrate) * float64(time.Second))
	n := int(duration / perPacket)
	out := make([]byte, 0, n*PacketSize)
	var cc [0x2000]byte
	nextPCR, nextKey := time.Duration(0), time.Duration(0)
	for i := 0; len(out) < n*PacketSize; i++ {
		t := time.Duration(len(out)/PacketSize) * perPacket
		if t >= nextKey {
			out = append(out, psiPacket(0, patSection(), &cc)...)
			out = append(out, psiPacket(synthPMT, pmtSection(), &cc)...)
			out = append(out, videoPacket(i, t, true, true, &cc)...)
			nextKey += keyframe
			nextPCR = t + 40*time.Millisecond
			continue
		}
		pcr := t >= nextPCR
		if pcr {
			nextPCR += 40 * time.Millisecond
		}
		out = append(out, videoPacket(i, t, pcr, false, &cc)...)
	}
	return out
}

func header(pid uint16, pusi bool, adaptation bool, cc *[0x2000]byte) []byte {
	b := []byte{SyncByte, byte(pid>>8) & 0x1f, byte(pid), 0x10 | cc[pid]&0x0f}
	if pusi {
		b[1] |= 0x40
	}
	if adaptation {
		b[3] |= 0x20
	}
	cc[pid]++
	return b
}

func videoPacket(i int, t time.Duration, pcr, key bool, cc *[0x2000]byte) []byte {
	b := header(synthVideo, key, pcr || key, cc)
	if pcr || key {
		flags := byte(0)
		af := []byte{0}
		if key {
			flags |= 0x40
		}
		if pcr {
			flags |= 0x10
			ticks := uint64(t) * 27 / 1000
			base, ext := ticks/300, ticks%300
			af = append(af, byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1), byte(base<<7)|0x7e|byte(ext>>8), byte(ext))
		}
		af[0] = flags
		b = append(b, byte(len(af)))
		b = append(b, af...)
	}
	for len(b) < PacketSize {
		b = append(b, byte(i*7+len(b)))
	}
	return b
}

func psiPacket(pid uint16, section []byte, cc *[0x2000]byte) []byte {
	b := header(pid, true, false, cc)
	b = append(b, 0) // pointer field
	b = append(b, section...)
	for len(b) < PacketSize {
		b = append(b, 0xff)
	}
	return b
}

func withCRC(s []byte) []byte {
	return binary.BigEndian.AppendUint32(s, crc32mpeg(s))
}

func patSection() []byte {
	s := []byte{0x00, 0xb0, 13, 0x00, 0x01, 0xc1, 0, 0, 0x00, 0x01, 0xe0 | synthPMT>>8, synthPMT & 0xff}
	return withCRC(s)
}

func pmtSection() []byte {
	s := []byte{0x02, 0xb0, 18, 0x00, 0x01, 0xc1, 0, 0, 0xe0 | synthVideo>>8, synthVideo & 0xff, 0xf0, 0,
		0x1b, 0xe0 | synthVideo>>8, synthVideo & 0xff, 0xf0, 0}
	return withCRC(s)
}

// crc32mpeg is CRC-32/MPEG-2 (not reflected, no final xor).
func crc32mpeg(b []byte) uint32 {
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
