package ts

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// segmentsOf cuts data into segments, failing on any error but io.EOF.
func segmentsOf(t testing.TB, r io.Reader, target time.Duration) []Segment {
	t.Helper()
	s := NewSegmenter(r, target)
	var out []Segment
	for {
		seg, err := s.Next()
		if errors.Is(err, io.EOF) {
			require.Empty(t, seg.Data, "io.EOF comes with no data")
			return out
		}
		require.NoError(t, err)
		require.NotEmpty(t, seg.Data, "segment %d", len(out))
		out = append(out, seg)
	}
}

// join concatenates the segments' data.
func join(segs []Segment) []byte {
	var b bytes.Buffer
	for _, s := range segs {
		b.Write(s.Data)
	}
	return b.Bytes()
}

// packetsIn splits data, whole packets, into packets.
func packetsIn(data []byte) []Packet {
	var out []Packet
	for off := 0; off+PacketSize <= len(data); off += PacketSize {
		out = append(out, Packet(data[off:off+PacketSize]))
	}
	return out
}

// withoutPCR returns a copy of data with the PCR flag of every packet
// cleared, as from a stream that has no PCR.
func withoutPCR(data []byte) []byte {
	out := bytes.Clone(data)
	for _, p := range packetsIn(out) {
		if af := p.AdaptationField(); len(af) > 0 {
			af[0] &^= afPCR
		}
	}
	return out
}

// trickle returns a reader that delivers data, whole packets, one packet
// per Read at the time it would arrive at bitrate from the first Read:
// a live source. Use it inside a synctest bubble.
func trickle(data []byte, bitrate int64) io.Reader {
	return &trickler{data: data, bitrate: bitrate}
}

type trickler struct {
	data    []byte
	bitrate int64
	off     int
	start   time.Time
	// sent records the time each packet was released.
	sent []time.Time
}

func (t *trickler) Read(b []byte) (int, error) {
	if t.off >= len(t.data) {
		return 0, io.EOF
	}
	if t.start.IsZero() {
		t.start = time.Now()
	}
	i := t.off / PacketSize
	at := t.start.Add(time.Duration(int64(i) * PacketSize * 8 * int64(time.Second) / t.bitrate))
	time.Sleep(time.Until(at))
	n := copy(b, t.data[t.off:min(t.off+PacketSize, len(t.data))])
	t.off += n
	t.sent = append(t.sent, time.Now())
	return n, nil
}
