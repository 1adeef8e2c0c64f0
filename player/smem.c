#include <stdlib.h>

#include "smem.h"
#include "_cgo_export.h"

p2ps_smem *p2ps_smem_new(uintptr_t handle) {
	p2ps_smem *s = calloc(1, sizeof *s);
	if (s != NULL)
		s->handle = handle;
	return s;
}

void p2ps_smem_free(p2ps_smem *s) {
	if (s == NULL)
		return;
	free(s->video);
	free(s->audio);
	free(s);
}

// grow makes *buf hold at least size bytes. smem copies into the buffer
// without checking it, so on allocation failure there is nothing safe to hand
// back: the process is out of memory and aborting is the honest outcome.
// Frame sizes are bounded by the transcode maxwidth/maxheight options.
static uint8_t *grow(uint8_t **buf, size_t *cap, size_t size) {
	if (size == 0)
		size = 1;
	if (size > *cap) {
		uint8_t *b = realloc(*buf, size);
		if (b == NULL)
			abort();
		*buf = b;
		*cap = size;
	}
	return *buf;
}

void p2ps_video_prerender(void *data, uint8_t **buf, size_t size) {
	p2ps_smem *s = data;
	*buf = grow(&s->video, &s->video_cap, size);
}

// buf is ignored: some smem versions pass a pointer past the end of the
// buffer. The picture is always in s->video.
void p2ps_video_postrender(void *data, uint8_t *buf, int width, int height,
	int pixel_pitch, size_t size, int64_t pts) {
	p2ps_smem *s = data;
	(void)buf;
	p2psVideoFrame(s->handle, s->video, width, height, pixel_pitch, size, pts);
}

void p2ps_audio_prerender(void *data, uint8_t **buf, size_t size) {
	p2ps_smem *s = data;
	*buf = grow(&s->audio, &s->audio_cap, size);
}

void p2ps_audio_postrender(void *data, uint8_t *buf, unsigned channels,
	unsigned rate, unsigned nb_samples, unsigned bits_per_sample, size_t size,
	int64_t pts) {
	p2ps_smem *s = data;
	(void)buf;
	p2psAudioBlock(s->handle, s->audio, channels, rate, nb_samples,
		bits_per_sample, size, pts);
}
