package ts

// Keyframe reports whether p is the first packet of a video keyframe: the
// start (PUSI) of a PES packet on the video PID whose access unit a
// decoder can begin with. Once the PMT is known, the video PID is its
// H.264 or HEVC stream, and the NAL units at the start of the PES payload
// decide: an H.264 IDR slice (type 5) or SPS (7), or an HEVC IRAP slice
// (16-23), VPS (32) or SPS (33), seen before any other slice, make a
// keyframe; another slice first makes none. When the first packet's
// payload holds no slice or parameter set (a long SEI first), or before
// the PMT is known, the random_access_indicator decides, on a PES with a
// video stream_id (0xe0-0xef) in the latter case. Audio packets also carry
// random_access_indicator, which is why the PID matters.
//
// Call Add with every packet first (Keyframe does not update t).
func (t *Tables) Keyframe(p Packet) bool {
	if !p.PUSI() {
		return false
	}
	video, known := t.VideoPID()
	if known && p.PID() != video {
		return false
	}
	es, streamID, ok := pesPayload(p.Payload())
	if !ok {
		return false
	}
	if !known {
		return streamID&0xf0 == 0xe0 && p.RandomAccess()
	}
	switch scanNALs(es, t.videoType) {
	case nalKeyframe:
		return true
	case nalOther:
		return false
	}
	return p.RandomAccess()
}

// pesPayload returns the elementary stream bytes of a PES packet that
// starts in payload, and its stream_id. ok is false if payload does not
// start a PES packet or its header does not fit.
func pesPayload(payload []byte) (es []byte, streamID byte, ok bool) {
	if len(payload) < 6 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 {
		return nil, 0, false
	}
	streamID = payload[3]
	if !pesHasHeader(streamID) {
		return payload[6:], streamID, true
	}
	if len(payload) < 9 {
		return nil, 0, false
	}
	start := 9 + int(payload[8])
	if start > len(payload) {
		return nil, 0, false
	}
	return payload[start:], streamID, true
}

// pesHasHeader reports whether PES packets with this stream_id have the
// optional header (flags, PTS, DTS): all but the program stream map,
// padding, private stream 2, ECM, EMM, DSM-CC, H.222.1 type E and the
// program stream directory.
func pesHasHeader(streamID byte) bool {
	switch streamID {
	case 0xbc, 0xbe, 0xbf, 0xf0, 0xf1, 0xf2, 0xf8, 0xff:
		return false
	}
	return true
}

// nalVerdict is what the NAL units at the start of an access unit say.
type nalVerdict int

const (
	nalUnknown  nalVerdict = iota // no slice or parameter set seen
	nalKeyframe                   // IDR/IRAP slice or parameter set first
	nalOther                      // a non-keyframe slice first
)

// scanNALs looks through the Annex B NAL units in es (start codes
// 00 00 01) for the first slice or parameter set.
func scanNALs(es []byte, streamType uint8) nalVerdict {
	for i := 0; i+3 < len(es); i++ {
		if es[i] != 0 || es[i+1] != 0 || es[i+2] != 1 {
			continue
		}
		h := es[i+3]
		if streamType == StreamTypeHEVC {
			switch typ := h >> 1 & 0x3f; {
			case typ >= 16 && typ <= 23, typ == 32, typ == 33:
				return nalKeyframe
			case typ <= 9:
				return nalOther
			}
		} else {
			switch h & 0x1f {
			case 5, 7:
				return nalKeyframe
			case 1, 2:
				return nalOther
			}
		}
		i += 2
	}
	return nalUnknown
}
