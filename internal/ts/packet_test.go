package ts

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// packet builds a packet from a header and an adaptation field (nil for
// none), padding the payload with 0xaa.
func packet(header [4]byte, af []byte) Packet {
	p := append(Packet(nil), header[:]...)
	if af != nil {
		p[3] |= 0x20
		p = append(p, byte(len(af)))
		p = append(p, af...)
	}
	for len(p) < PacketSize {
		p = append(p, 0xaa)
	}
	return p
}

func TestPacketFields(t *testing.T) {
	pcrAF := []byte{afPCR | afRandomAccess, 0, 0, 0, 0x02, 0x7e, 0x05} // base 4, ext 5
	tests := []struct {
		name        string
		p           Packet
		valid       bool
		pid         uint16
		pusi        bool
		cc          uint8
		payload     int // payload length
		pcr         time.Duration
		hasPCR      bool
		rai, discon bool
	}{
		{"payload only", packet([4]byte{SyncByte, 0x41, 0x00, 0x17}, nil), true, 0x100, true, 7, 184, 0, false, false, false},
		{"pcr and rai", packet([4]byte{SyncByte, 0x01, 0x00, 0x13}, pcrAF), true, 0x100, false, 3, 176, (4*300 + 5) * 1000 / 27, true, true, false},
		{"discontinuity", packet([4]byte{SyncByte, 0x1f, 0xff, 0x10}, []byte{afDiscontinuity}), true, NullPID, false, 0, 182, 0, false, false, true},
		{"adaptation only", packet([4]byte{SyncByte, 0x01, 0x01, 0x00}, make([]byte, 183)), true, 0x101, false, 0, 0, 0, false, false, false},
		{"empty adaptation", packet([4]byte{SyncByte, 0x01, 0x01, 0x10}, []byte{}), true, 0x101, false, 0, 183, 0, false, false, false},
		{"adaptation too long", append(Packet{SyncByte, 0x01, 0x00, 0x30, 200}, make([]byte, 183)...), false, 0x100, false, 0, 0, 0, false, false, false},
		{"short pcr field", packet([4]byte{SyncByte, 0x01, 0x00, 0x10}, []byte{afPCR, 1, 2}), true, 0x100, false, 0, 180, 0, false, false, false},
		{"no sync byte", append(Packet{0x48, 0x01, 0x00, 0x10}, make([]byte, 184)...), false, 0x100, false, 0, 184, 0, false, false, false},
		{"too short", Packet{SyncByte, 0x41, 0x00, 0x37, 7, afPCR | afRandomAccess}, false, 0, false, 0, 0, 0, false, false, false},
		{"nil", nil, false, 0, false, 0, 0, 0, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			assert.Equal(t, tt.valid, p.Valid(), "Valid")
			assert.Equal(t, tt.pid, p.PID(), "PID")
			assert.Equal(t, tt.pusi, p.PUSI(), "PUSI")
			assert.Equal(t, tt.cc, p.ContinuityCounter(), "ContinuityCounter")
			assert.Len(t, p.Payload(), tt.payload, "Payload")
			pcr, ok := p.PCR()
			assert.Equal(t, tt.hasPCR, ok, "has PCR")
			assert.Equal(t, tt.pcr, pcr, "PCR")
			assert.Equal(t, tt.rai, p.RandomAccess(), "RandomAccess")
			assert.Equal(t, tt.discon, p.Discontinuity(), "Discontinuity")
		})
	}
}

func TestPCRExtremes(t *testing.T) {
	tests := []struct {
		name  string
		ticks uint64
	}{
		{"zero", 0},
		{"one second", pcrHz},
		{"largest", pcrWrap - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			af := make([]byte, 7)
			af[0] = afPCR
			writePCRBase(af[1:], tt.ticks/300)
			af[5] |= 0x7e | byte(tt.ticks%300>>8)
			af[6] = byte(tt.ticks % 300)
			p := packet([4]byte{SyncByte, 0x01, 0x00, 0x10}, af)
			got, ok := p.pcrTicks()
			assert.True(t, ok)
			assert.Equal(t, tt.ticks, got)
			pcr, _ := p.PCR()
			assert.Equal(t, time.Duration(tt.ticks*1000/27), pcr)
		})
	}
}

func TestTimestampRoundTrip(t *testing.T) {
	for _, ts := range []uint64{0, 1, 90000, 1<<32 + 12345, ptsWrap - 1} {
		for _, prefix := range []byte{0x21, 0x31, 0x11} {
			b := []byte{prefix, 0, 1, 0, 1}
			writeTimestamp(b, ts)
			assert.Equal(t, ts, readTimestamp(b))
			assert.Equal(t, prefix&0xf1, b[0]&0xf1, "prefix and marker kept")
			assert.Equal(t, byte(1), b[2]&1, "marker kept")
			assert.Equal(t, byte(1), b[4]&1, "marker kept")
		}
	}
}

func TestPacketReaderResync(t *testing.T) {
	good := Synthetic(200*time.Millisecond, 500_000, time.Second)
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"clean", good, good},
		{"garbage in front", append([]byte{1, 2, 3, 4, 5}, good...), good},
		{"garbage between", append(append(bytes.Clone(good[:PacketSize*3]), 9, 9, 9), good[PacketSize*3:]...), good},
		{"partial packet at the end", append(bytes.Clone(good), good[:100]...), good},
		{"no sync byte", bytes.Repeat([]byte{0x46}, 1000), nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := newPacketReader(bytes.NewReader(tt.in))
			var got []byte
			for {
				p, err := pr.next()
				if err != nil {
					break
				}
				got = append(got, p...)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, nilIfEmpty(packets(tt.in)), "packets agrees with the packet reader")
		})
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
