package player

/*
#include "smem.h"
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

// The functions below are called by the trampolines in smem.c on VLC's
// threads. They copy the C buffer into Go memory before returning, because
// smem reuses the buffer for the next picture or block.

//export p2psVideoFrame
func p2psVideoFrame(h C.uintptr_t, buf *C.uint8_t, width, height, bitsPerPixel C.int, size C.size_t, pts C.int64_t) {
	d, ok := cgo.Handle(h).Value().(*decoder)
	if !ok || buf == nil || size == 0 {
		return
	}
	pix := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(size))
	d.videoFrame(pix, int(width), int(height), int(bitsPerPixel), time.Duration(pts)*time.Microsecond)
}

//export p2psAudioBlock
func p2psAudioBlock(h C.uintptr_t, buf *C.uint8_t, channels, rate, samples, bitsPerSample C.unsigned, size C.size_t, pts C.int64_t) {
	d, ok := cgo.Handle(h).Value().(*decoder)
	if !ok || buf == nil || size == 0 {
		return
	}
	pcm := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(size))
	d.audioBlock(pcm, int(channels), int(rate), int(bitsPerSample), time.Duration(pts)*time.Microsecond)
}
