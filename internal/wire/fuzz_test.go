package wire

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzReadMessage from samples()")

// fuzzLimits are small, so the fuzzer reaches every size limit quickly.
var fuzzLimits = Limits{MaxChunk: 1 << 12, MaxManifest: 1 << 10, MaxBufferMapBits: 1 << 10}

// FuzzReadMessage decodes arbitrary bytes as a stream of frames. Whatever
// decodes must re-encode to exactly the bytes it came from (the encoding is
// canonical) and decode again to equal messages; whatever does not must fail
// with a *ProtocolError, never a panic.
func FuzzReadMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), fuzzLimits)
		var msgs []Message
		var err error
		for {
			var m Message
			if m, err = r.ReadMessage(); err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		var pe *ProtocolError
		if err != io.EOF && !errors.As(err, &pe) {
			t.Fatalf("error is neither io.EOF nor *ProtocolError: %v", err)
		}

		var encoded []byte
		for _, m := range msgs {
			encoded = AppendFrame(encoded, m) // panics if a decoded message cannot be encoded
		}
		require.True(t, bytes.HasPrefix(data, encoded), "re-encoding differs from the input")

		r = NewReader(bytes.NewReader(encoded), fuzzLimits)
		for _, want := range msgs {
			got, err := r.ReadMessage()
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		_, err = r.ReadMessage()
		require.Equal(t, io.EOF, err)
	})
}

// TestWriteSeedCorpus rewrites the checked-in fuzz seeds when run with
// -update-corpus: one file per sample message, plus one stream of all.
func TestWriteSeedCorpus(t *testing.T) {
	if !*updateCorpus {
		return
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadMessage")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var all []byte
	write := func(name string, frame []byte) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", frame)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	for _, tc := range samples() {
		frame := AppendFrame(nil, tc.msg)
		all = append(all, frame...)
		write(strings.ReplaceAll(tc.name, " ", "-"), frame)
	}
	write("all-frames", all)
}
