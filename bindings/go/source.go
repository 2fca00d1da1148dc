package hls

/*
#include <stdint.h>
#include <hls.h>

extern int64_t libhlsGoReadAt(void *opaque, uint64_t offset, uint8_t *buf, size_t n, char *errBuf, size_t errCap);
extern void libhlsGoRelease(void *opaque);

// Opens a source whose callbacks are this package's exported Go functions; handle is the
// cgo.Handle of its readerSource (released by libhlsGoRelease, exactly once).
static enum HlsStatus libhls_go_open_source(HlsContext *ctx, uintptr_t handle, uint64_t size,
                                            const char *identity, HlsMedia **out, HlsError **err) {
    HlsSource s;
    s.read_at = (HlsReadAtFn)libhlsGoReadAt;
    s.release = (HlsReleaseFn)libhlsGoRelease;
    s.opaque = (void *)handle;
    s.size = size;
    s.identity = identity;
    return hls_open_source(ctx, &s, NULL, out, err);
}
*/
import "C"

import (
	"io"
	"runtime"
	"runtime/cgo"
)

// readerSource is what libhls's callbacks read through.
type readerSource struct {
	r    io.ReaderAt
	size int64
}

// OpenReaderAt opens media read through r (size bytes), known by identity: a string that names
// this version of the bytes (for an object store, its URL and ETag). Opens of one identity share
// one presentation; a new identity is a new presentation, so an object replaced under the same
// name is never served as a mix of old and new bytes.
//
// libhls calls r.ReadAt from the goroutines that call Get (and from whatever thread serves), any
// number at once: r must be safe for concurrent use (os.File and HTTPSource are). A ReadAt
// error fails the request that needed the bytes with StatusIO and the error's text; nothing is
// retried. Opening an MP4 costs at most 3 reads; Info().Source reports the reads made.
// libhls keeps r until the Media is closed and has left the context's idle list.
func (c *Context) OpenReaderAt(r io.ReaderAt, size int64, identity string) (*Media, error) {
	return c.openSource(&readerSource{r: r, size: size}, identity)
}

func (c *Context) openSource(src *readerSource, identity string) (*Media, error) {
	cid, err := cString(identity, "identity")
	if err != nil {
		return nil, err
	}
	h := cgo.NewHandle(src)
	var m *C.HlsMedia
	var cerr *C.HlsError
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		h.Delete()
		return nil, ErrClosed
	}
	// From here libhls owns h: it calls libhlsGoRelease (h.Delete) exactly once.
	st := C.libhls_go_open_source(c.ptr, C.uintptr_t(h), C.uint64_t(src.size), cPtr(cid), &m, &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(cid)
	if st != C.HLS_OK {
		return nil, takeError(st, cerr)
	}
	media := &Media{ptr: m}
	runtime.SetFinalizer(media, (*Media).Close)
	return media, nil
}
