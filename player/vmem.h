// Trampolines between libVLC's video and audio callbacks (libvlc_video_set_callbacks,
// libvlc_audio_set_callbacks) and Go. libVLC calls them on its own threads when
// a picture is due on screen and when sound is due at the speakers; they
// hand each buffer to the Go functions exported from callbacks.go.
#ifndef P2PS_VMEM_H
#define P2PS_VMEM_H

#include <stddef.h>
#include <stdint.h>
#include <vlc/vlc.h>

// p2ps_out is the opaque pointer libVLC passes to every callback. It owns
// the picture buffer libVLC decodes into.
typedef struct p2ps_out {
	uintptr_t handle;   // cgo.Handle of the Go receiver
	uint8_t *pix;       // RV32 picture (B, G, R, unused), pitch width*4
	unsigned width, height;
	unsigned max_width, max_height;
	libvlc_media_player_t *mp;
	int fresh;          // lock ran since the last display: the picture is new
	uint64_t hint;      // picture size read from the stream: width<<32 | height; atomic
} p2ps_out;

p2ps_out *p2ps_out_new(uintptr_t handle, unsigned max_width, unsigned max_height);
void p2ps_out_free(p2ps_out *o);

// p2ps_out_hint records the picture size read from the stream (the H.264
// SPS), which format prefers to the decoder's larger buffer size.
void p2ps_out_hint(p2ps_out *o, unsigned width, unsigned height);

// p2ps_attach routes mp's pictures (as RV32) and sound (as signed 16-bit
// stereo at rate Hz) to o.
void p2ps_attach(libvlc_media_player_t *mp, p2ps_out *o, unsigned rate);

#endif
