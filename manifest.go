package p2pstream

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Manifest limits and defaults.
const (
	// DefaultChunkSize is the on-demand chunk size used when none is given.
	DefaultChunkSize = 256 << 10
	// MaxChunkSize is the largest chunk, live or on demand.
	MaxChunkSize = 4 << 20
	minChunkSize = 4 << 10
	maxNameLen   = 1024
	// maxManifestChunks bounds a manifest to 1 MiB of hashes.
	maxManifestChunks = (1 << 20) / sha256.Size
)

// Manifest describes an on-demand file: its name, size, chunk size and the
// SHA-256 of every chunk. The stream ID of an on-demand stream is the SHA-256
// of the manifest's binary encoding, so a manifest fetched from any peer can
// be checked against the ID, and every chunk against the manifest.
type Manifest struct {
	Name      string
	Size      int64
	ChunkSize int
	// Duration is the media duration, if known.
	Duration time.Duration
	// Hashes holds the SHA-256 of each chunk, in order.
	Hashes [][sha256.Size]byte
}

// NewManifest reads r to its end and describes it in chunks of chunkSize
// bytes (DefaultChunkSize if zero).
func NewManifest(name string, r io.Reader, chunkSize int) (*Manifest, error) {
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	m := &Manifest{Name: name, ChunkSize: chunkSize}
	if err := m.checkShape(); err != nil {
		return nil, err
	}
	buf := make([]byte, chunkSize)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			m.Hashes = append(m.Hashes, sha256.Sum256(buf[:n]))
			m.Size += int64(n)
			if len(m.Hashes) > maxManifestChunks {
				return nil, fmt.Errorf("p2pstream: manifest: file has more than %d chunks; use a larger chunk size", maxManifestChunks)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("p2pstream: manifest: %w", err)
		}
	}
}

// ID returns the stream ID: the SHA-256 of the manifest's encoding.
func (m *Manifest) ID() StreamID {
	b, _ := m.MarshalBinary()
	return sha256.Sum256(b)
}

// Chunks returns the number of chunks.
func (m *Manifest) Chunks() int { return len(m.Hashes) }

// chunkLen returns the length of chunk i.
func (m *Manifest) chunkLen(i uint64) int {
	if i == uint64(len(m.Hashes))-1 {
		return int(m.Size - int64(i)*int64(m.ChunkSize))
	}
	return m.ChunkSize
}

// Info returns the StreamInfo that describes this manifest.
func (m *Manifest) Info() StreamInfo {
	info := StreamInfo{ID: m.ID(), Kind: KindVOD, Name: m.Name, Size: m.Size, ChunkSize: m.ChunkSize, Chunks: len(m.Hashes)}
	if m.Duration > 0 {
		info.Bitrate = m.Size * 8 * int64(time.Second) / int64(m.Duration)
	}
	return info
}

// verify checks chunk c against its hash.
func (m *Manifest) verify(c Chunk) error {
	if c.Seq >= uint64(len(m.Hashes)) {
		return fmt.Errorf("%w: chunk %d: past the last chunk %d", ErrBadChunk, c.Seq, len(m.Hashes)-1)
	}
	if len(c.Data) != m.chunkLen(c.Seq) || sha256.Sum256(c.Data) != m.Hashes[c.Seq] {
		return fmt.Errorf("%w: chunk %d: SHA-256 does not match the manifest", ErrBadChunk, c.Seq)
	}
	return nil
}

const manifestMagic = "P2PM\x01"

// MarshalBinary encodes the manifest: magic "P2PM" and version 1, name
// (uint16 length + bytes), size (uint64), chunk size (uint32), duration in
// nanoseconds (uint64), chunk count (uint32), then the hashes. Big-endian.
func (m *Manifest) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, len(manifestMagic)+2+len(m.Name)+24+len(m.Hashes)*sha256.Size)
	b = append(b, manifestMagic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Name)))
	b = append(b, m.Name...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Size))
	b = binary.BigEndian.AppendUint32(b, uint32(m.ChunkSize))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Duration))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Hashes)))
	for _, h := range m.Hashes {
		b = append(b, h[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes and validates an encoding made by MarshalBinary.
func (m *Manifest) UnmarshalBinary(b []byte) error {
	bad := func(what string) error { return fmt.Errorf("p2pstream: manifest: %s", what) }
	if len(b) < len(manifestMagic)+2 || string(b[:len(manifestMagic)]) != manifestMagic {
		return bad("bad magic or version")
	}
	b = b[len(manifestMagic):]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > maxNameLen || len(b) < n+24 {
		return bad("truncated or name too long")
	}
	var out Manifest
	out.Name = string(b[:n])
	b = b[n:]
	out.Size = int64(binary.BigEndian.Uint64(b))
	out.ChunkSize = int(binary.BigEndian.Uint32(b[8:]))
	out.Duration = time.Duration(binary.BigEndian.Uint64(b[12:]))
	count := int(binary.BigEndian.Uint32(b[20:]))
	b = b[24:]
	if err := out.checkShape(); err != nil {
		return err
	}
	if out.Size < 0 || out.Duration < 0 || count > maxManifestChunks {
		return bad("size, duration or chunk count out of range")
	}
	if want := (out.Size + int64(out.ChunkSize) - 1) / int64(out.ChunkSize); int64(count) != want {
		return bad(fmt.Sprintf("%d chunks for %d bytes in chunks of %d, want %d", count, out.Size, out.ChunkSize, want))
	}
	if len(b) != count*sha256.Size {
		return bad("hash list length does not match the chunk count")
	}
	out.Hashes = make([][sha256.Size]byte, count)
	for i := range out.Hashes {
		copy(out.Hashes[i][:], b[i*sha256.Size:])
	}
	*m = out
	return nil
}

func (m *Manifest) checkShape() error {
	if len(m.Name) > maxNameLen {
		return fmt.Errorf("p2pstream: manifest: name longer than %d bytes", maxNameLen)
	}
	if m.ChunkSize < minChunkSize || m.ChunkSize > MaxChunkSize {
		return fmt.Errorf("p2pstream: manifest: chunk size %d outside [%d, %d]", m.ChunkSize, minChunkSize, MaxChunkSize)
	}
	return nil
}
