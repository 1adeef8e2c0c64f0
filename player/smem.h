// Trampolines between VLC's smem stream output and Go. smem calls plain C
// function pointers on its own threads; these hand each buffer to the Go
// functions exported from callbacks.go.
#ifndef P2PS_SMEM_H
#define P2PS_SMEM_H

#include <stddef.h>
#include <stdint.h>

// p2ps_smem is the "data" pointer smem passes to every callback. It owns the
// C buffers smem writes into: one for video and one for audio, because smem
// delivers each elementary stream from one thread at a time.
typedef struct p2ps_smem {
	uintptr_t handle; // cgo.Handle of the Go receiver
	uint8_t *video;
	size_t video_cap;
	uint8_t *audio;
	size_t audio_cap;
} p2ps_smem;

p2ps_smem *p2ps_smem_new(uintptr_t handle);
void p2ps_smem_free(p2ps_smem *s);

// The VLC 3 smem callback signatures.
void p2ps_video_prerender(void *data, uint8_t **buf, size_t size);
void p2ps_video_postrender(void *data, uint8_t *buf, int width, int height,
	int pixel_pitch, size_t size, int64_t pts);
void p2ps_audio_prerender(void *data, uint8_t **buf, size_t size);
void p2ps_audio_postrender(void *data, uint8_t *buf, unsigned channels,
	unsigned rate, unsigned nb_samples, unsigned bits_per_sample, size_t size,
	int64_t pts);

#endif
