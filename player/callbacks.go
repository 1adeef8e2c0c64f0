package player

/*
#include "vmem.h"
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

// The functions below are called by the trampolines in vmem.c on libVLC's
// threads. They copy the C buffer into Go memory before returning, because
// libVLC reuses it.

//export p2psPicture
func p2psPicture(h C.uintptr_t, pix *C.uint8_t, width, height C.unsigned) {
	d, ok := cgo.Handle(h).Value().(*decoder)
	if !ok || pix == nil || width == 0 || height == 0 {
		return
	}
	d.picture(unsafe.Slice((*byte)(unsafe.Pointer(pix)), int(width)*int(height)*4), int(width), int(height))
}

//export p2psSound
func p2psSound(h C.uintptr_t, samples unsafe.Pointer, count C.unsigned, pts C.int64_t) {
	d, ok := cgo.Handle(h).Value().(*decoder)
	if !ok || samples == nil || count == 0 {
		return
	}
	d.sound(unsafe.Slice((*byte)(samples), int(count)*bytesPerSample), time.Duration(pts)*time.Microsecond)
}

//export p2psPause
func p2psPause(h C.uintptr_t, pts C.int64_t) {
	if d, ok := cgo.Handle(h).Value().(*decoder); ok {
		d.pauseSound(time.Duration(pts) * time.Microsecond)
	}
}

//export p2psResume
func p2psResume(h C.uintptr_t, pts C.int64_t) {
	if d, ok := cgo.Handle(h).Value().(*decoder); ok {
		d.resumeSound(time.Duration(pts) * time.Microsecond)
	}
}

// vlcClock returns libVLC's clock, the one its timestamps use.
func vlcClock() time.Duration { return time.Duration(C.libvlc_clock()) * time.Microsecond }

//export p2psFlush
func p2psFlush(h C.uintptr_t) {
	if d, ok := cgo.Handle(h).Value().(*decoder); ok {
		d.flushSound()
	}
}
