package p2pstream

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriterSink(t *testing.T) {
	pr, pw := io.Pipe()
	s := WriterSink(pw)
	go func() {
		_ = s.WriteChunk(Chunk{Data: []byte("hello ")})
		_ = s.WriteChunk(Chunk{Data: []byte("world")})
		_ = s.Close()
		_ = s.Close() // idempotent
	}()
	got, err := io.ReadAll(pr)
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(got))

	var buf bytes.Buffer
	ps := WriterSink(&buf)
	require.NoError(t, ps.WritePart(Chunk{Seq: 1}, 0, []byte("par")))
	require.NoError(t, ps.WritePart(Chunk{Seq: 1}, 3, []byte("ts")))
	assert.Equal(t, "parts", buf.String())
}

func TestSinkFunc(t *testing.T) {
	var seqs []uint64
	s := SinkFunc(func(c Chunk) error { seqs = append(seqs, c.Seq); return nil })
	require.NoError(t, s.WriteChunk(Chunk{Seq: 3}))
	require.NoError(t, s.WriteChunk(Chunk{Seq: 4}))
	require.NoError(t, s.Close())
	assert.Equal(t, []uint64{3, 4}, seqs)
	assert.ErrorIs(t, SinkFunc(func(Chunk) error { return errTest }).WriteChunk(Chunk{}), errTest)
}

func TestHTTPSink(t *testing.T) {
	sink := &HTTPSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()

	type client struct {
		resp *http.Response
		r    *bufio.Reader
	}
	connect := func() client {
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "video/mp2t", resp.Header.Get("Content-Type"))
		return client{resp, bufio.NewReader(resp.Body)}
	}
	a := connect()
	require.Eventually(t, func() bool { return sink.Clients() == 1 }, 5e9, 1e7)
	// A client starts at the first keyframe chunk.
	require.NoError(t, sink.WriteChunk(Chunk{Seq: 1, Data: []byte("AAAA")}))
	require.NoError(t, sink.WriteChunk(Chunk{Seq: 2, Flags: FlagKeyframe, Data: []byte("BBBB")}))
	b := connect()
	require.Eventually(t, func() bool { return sink.Clients() == 2 }, 5e9, 1e7)
	require.NoError(t, sink.WriteChunk(Chunk{Seq: 3, Data: []byte("CCCC")}))
	// Parts of a chunk (PartSink): a client that connects in the middle
	// of a keyframe chunk starts at the next one.
	d := Chunk{Seq: 4, Flags: FlagKeyframe}
	require.NoError(t, sink.WritePart(d, 0, []byte("DD")))
	c := connect()
	require.Eventually(t, func() bool { return sink.Clients() == 3 }, 5e9, 1e7)
	require.NoError(t, sink.WritePart(d, 2, []byte("dd")))
	e := Chunk{Seq: 5, Flags: FlagKeyframe}
	require.NoError(t, sink.WritePart(e, 0, []byte("EE")))
	require.NoError(t, sink.WritePart(e, 2, []byte("ee")))
	require.NoError(t, sink.Close())

	gotA, err := io.ReadAll(a.r)
	require.NoError(t, err)
	assert.Equal(t, "BBBBCCCCDDddEEee", string(gotA))
	gotB, err := io.ReadAll(b.r)
	require.NoError(t, err)
	assert.Equal(t, "DDddEEee", string(gotB))
	gotC, err := io.ReadAll(c.r)
	require.NoError(t, err)
	assert.Equal(t, "EEee", string(gotC))
	for _, cl := range []client{a, b, c} {
		cl.resp.Body.Close()
	}

	assert.ErrorIs(t, sink.WriteChunk(Chunk{}), ErrClosed)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusGone, resp.StatusCode)
}

// TestHTTPSinkDropsSlowClient: a client's queue is bounded in chunks, not
// in writes, so chunks that come in many parts do not shorten it.
func TestHTTPSinkDropsSlowClient(t *testing.T) {
	sink := &HTTPSink{}
	cl := &httpClient{queue: make(chan httpWrite, httpClientQueue)}
	sink.clients = map[*httpClient]struct{}{cl: {}}
	for seq := range uint64(httpClientChunks) {
		c := Chunk{Seq: seq, Flags: FlagKeyframe}
		for off := 0; off < 64; off++ {
			require.NoError(t, sink.WritePart(c, off, []byte{1}))
		}
	}
	assert.Equal(t, 1, sink.Clients(), "64 chunks of 64 parts each are queued")
	require.NoError(t, sink.WriteChunk(Chunk{Seq: httpClientChunks, Flags: FlagKeyframe, Data: []byte{1}}))
	assert.Zero(t, sink.Clients(), "a 65th chunk drops the client")
	n := 0
	for range cl.queue {
		n++
	}
	assert.Equal(t, httpClientChunks*64, n, "what was queued is still sent")
}
