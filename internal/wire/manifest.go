package wire

// ManifestRequest (type 0x08) asks for the stream's manifest. It has no
// payload.
type ManifestRequest struct{}

// Manifest (type 0x09) carries the manifest of an on-demand stream. This
// package treats it as opaque bytes; the receiver checks it against the
// stream ID.
type Manifest struct {
	// Data is the encoded manifest, at most Limits.MaxManifest bytes.
	Data []byte
}

// Ready (type 0x0E) tells a peer whose live request was rejected as busy
// that an upload slot is free now: ask again. It has no payload.
type Ready struct{}

// Type returns TypeReady.
func (*Ready) Type() Type { return TypeReady }

// AppendPayload appends nothing: the frame has no payload.
func (*Ready) AppendPayload(b []byte) []byte { return b }

// Type returns TypeManifestRequest.
func (*ManifestRequest) Type() Type { return TypeManifestRequest }

// AppendPayload appends nothing: the frame has no payload.
func (*ManifestRequest) AppendPayload(b []byte) []byte { return b }

// Type returns TypeManifest.
func (*Manifest) Type() Type { return TypeManifest }

// AppendPayload appends the manifest bytes.
func (m *Manifest) AppendPayload(b []byte) []byte { return append(b, m.Data...) }
