#include <stdlib.h>
#include <string.h>

#include "vmem.h"
#include "_cgo_export.h"

p2ps_out *p2ps_out_new(uintptr_t handle, unsigned max_width, unsigned max_height) {
	p2ps_out *o = calloc(1, sizeof *o);
	if (o != NULL) {
		o->handle = handle;
		o->max_width = max_width;
		o->max_height = max_height;
	}
	return o;
}

void p2ps_out_free(p2ps_out *o) {
	if (o == NULL)
		return;
	free(o->pix);
	free(o);
}

void p2ps_out_hint(p2ps_out *o, unsigned width, unsigned height) {
	__atomic_store_n(&o->hint, (uint64_t)width << 32 | height, __ATOMIC_RELEASE);
}

// visible_size reads the size of the video track. The size libVLC proposes
// to format is the decoder's buffer, which can be larger than the picture
// (386 lines for a 360-line H.264 picture); but with libVLC 3.0's software
// H.264 decoder the track reports that buffer size too by the time format
// runs, hence the size read from the stream (p2ps_out_hint).
static void visible_size(libvlc_media_player_t *mp, unsigned *w, unsigned *h) {
	libvlc_media_t *m = libvlc_media_player_get_media(mp);
	if (m == NULL)
		return;
	libvlc_media_track_t **tracks;
	unsigned n = libvlc_media_tracks_get(m, &tracks);
	for (unsigned i = 0; i < n; i++) {
		libvlc_media_track_t *t = tracks[i];
		if (t->i_type == libvlc_track_video && t->video->i_width > 0 && t->video->i_height > 0) {
			*w = t->video->i_width;
			*h = t->video->i_height;
			break;
		}
	}
	if (n > 0)
		libvlc_media_tracks_release(tracks, n);
	libvlc_media_release(m);
}

// format picks RV32 at the picture's size, scaled down (aspect kept) to fit
// the maximum, and allocates the one picture buffer. The picture's size is
// the one read from the stream when it fits the decoder's buffer with no
// more than alignment padding to spare (1280x720 in a 1280x738 buffer): at
// that size libVLC only converts the colours. Otherwise (another codec, a
// size change the reader has not seen) it is the track's size.
static unsigned format(void **opaque, char *chroma, unsigned *width, unsigned *height,
	unsigned *pitches, unsigned *lines) {
	p2ps_out *o = *opaque;
	unsigned w = *width, h = *height;
	visible_size(o->mp, &w, &h);
	uint64_t hint = __atomic_load_n(&o->hint, __ATOMIC_ACQUIRE);
	unsigned hw = (unsigned)(hint >> 32), hh = (unsigned)hint;
	if (hw > 0 && hh > 0 && hw <= *width && hh <= *height && *width - hw < 64 && *height - hh < 64) {
		w = hw;
		h = hh;
	}
	if (w == 0 || h == 0)
		return 0;
	if (w > o->max_width) {
		h = (unsigned)((uint64_t)h * o->max_width / w);
		w = o->max_width;
	}
	if (h > o->max_height) {
		w = (unsigned)((uint64_t)w * o->max_height / h);
		h = o->max_height;
	}
	w &= ~1u;
	h &= ~1u;
	if (w == 0 || h == 0)
		return 0;
	free(o->pix);
	// A few spare lines: some converters write past the last one.
	o->pix = malloc((size_t)w * 4 * (h + 16));
	if (o->pix == NULL)
		return 0;
	memcpy(chroma, "RV32", 4); // B, G, R, unused: see bgrxToRGBA
	*width = o->width = w;
	*height = o->height = h;
	pitches[0] = w * 4;
	lines[0] = h;
	return 1;
}

static void cleanup(void *opaque) {
	p2ps_out *o = opaque;
	free(o->pix);
	o->pix = NULL;
	o->width = o->height = 0;
}

static void *lock(void *opaque, void **planes) {
	p2ps_out *o = opaque;
	planes[0] = o->pix;
	o->fresh = 1;
	return NULL;
}

static void unlock(void *opaque, void *picture, void *const *planes) {
	(void)opaque; (void)picture; (void)planes;
}

// display runs when the picture is due on screen. libVLC also displays the
// last picture again every 80 ms or so while no new one comes (a stall, a
// pause); those repeats are skipped: lock did not run before them.
static void display(void *opaque, void *picture) {
	p2ps_out *o = opaque;
	(void)picture;
	if (o->pix != NULL && o->fresh)
		p2psPicture(o->handle, o->pix, o->width, o->height);
	o->fresh = 0;
}

static void play(void *data, const void *samples, unsigned count, int64_t pts) {
	p2ps_out *o = data;
	p2psSound(o->handle, (void *)samples, count, pts);
}

static void pause_cb(void *data, int64_t pts) {
	p2ps_out *o = data;
	p2psPause(o->handle, pts);
}

static void resume_cb(void *data, int64_t pts) {
	p2ps_out *o = data;
	p2psResume(o->handle, pts);
}

static void flush(void *data, int64_t pts) {
	p2ps_out *o = data;
	(void)pts;
	p2psFlush(o->handle);
}

void p2ps_attach(libvlc_media_player_t *mp, p2ps_out *o, unsigned rate) {
	o->mp = mp;
	libvlc_video_set_callbacks(mp, lock, unlock, display, o);
	libvlc_video_set_format_callbacks(mp, format, cleanup);
	libvlc_audio_set_callbacks(mp, play, pause_cb, resume_cb, flush, NULL, o);
	libvlc_audio_set_format(mp, "S16N", rate, 2);
}
