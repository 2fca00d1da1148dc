package hls

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"runtime/cgo"
	"unsafe"
)

// The callbacks libhls calls on the threads that serve (any thread, concurrently): cgo runs
// them on a Go stack of that thread (a thread libhls's caller created in Go is a Go thread
// already; another C thread is attached to the Go runtime for the call). They never panic
// into C.

// libhlsGoReadAt is HlsReadAtFn over the io.ReaderAt that the cgo.Handle in opaque holds.
//
//export libhlsGoReadAt
func libhlsGoReadAt(opaque unsafe.Pointer, offset C.uint64_t, buf *C.uint8_t, n C.size_t, errBuf *C.char, errCap C.size_t) (ret C.int64_t) {
	defer func() {
		if r := recover(); r != nil {
			writeCError(errBuf, errCap, fmt.Sprintf("read_at panicked: %v", r))
			ret = -1
		}
	}()
	src := cgo.Handle(uintptr(opaque)).Value().(*readerSource)
	if n == 0 {
		return 0
	}
	p := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	if uint64(offset) > uint64(1<<63-1) {
		writeCError(errBuf, errCap, "offset out of range")
		return -1
	}
	got, err := src.r.ReadAt(p, int64(offset))
	if got < 0 || got > len(p) {
		writeCError(errBuf, errCap, fmt.Sprintf("ReadAt returned %d for %d bytes", got, len(p)))
		return -1
	}
	if err != nil && !(errors.Is(err, io.EOF) && int64(offset)+int64(got) >= src.size) {
		writeCError(errBuf, errCap, err.Error())
		return -1
	}
	return C.int64_t(got)
}

// libhlsGoRelease is HlsReleaseFn: libhls no longer needs the source.
//
//export libhlsGoRelease
func libhlsGoRelease(opaque unsafe.Pointer) {
	cgo.Handle(uintptr(opaque)).Delete()
}

// writeCError copies msg, NUL-terminated and truncated to capacity, into the C buffer.
func writeCError(buf *C.char, capacity C.size_t, msg string) {
	if buf == nil || capacity == 0 {
		return
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
	k := copy(dst[:len(dst)-1], msg)
	dst[k] = 0
}
