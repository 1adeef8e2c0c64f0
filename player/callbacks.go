package player

/*
#include "vmem.h"
*/
import "C"

import (
	"runtime/cgo"
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
	d.sound(unsafe.Slice((*byte)(samples), int(count)*bytesPerSample))
}

//export p2psFlush
func p2psFlush(h C.uintptr_t) {
	if d, ok := cgo.Handle(h).Value().(*decoder); ok {
		d.flushSound()
	}
}
