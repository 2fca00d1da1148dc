package hls_test

import (
	"net/http/httptest"
	"testing"

	"libhls.dev/hls"
)

// BenchmarkGetCacheHit: one Media.Get + Buffer.Close of a cached segment (the binding's
// per-call cost on top of libhls's cache hit).
func BenchmarkGetCacheHit(b *testing.B) {
	ctx := newContext(b)
	m := openMedia(b, ctx, "h264_aac.mp4")
	if _, err := getBytes(m)("t0_1.m4s"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, err := m.Get("t0_1.m4s")
		if err != nil {
			b.Fatal(err)
		}
		buf.Close()
	}
}

// BenchmarkGetCacheHitParallel: the same from GOMAXPROCS goroutines on one Media.
func BenchmarkGetCacheHitParallel(b *testing.B) {
	ctx := newContext(b)
	m := openMedia(b, ctx, "h264_aac.mp4")
	if _, err := getBytes(m)("t0_1.m4s"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			buf, err := m.Get("t0_1.m4s")
			if err != nil {
				b.Error(err)
				return
			}
			buf.Close()
		}
	})
}

// BenchmarkHandlerCacheHit: one request through Handler (no network) for a cached segment.
func BenchmarkHandlerCacheHit(b *testing.B) {
	ctx := newContext(b)
	h := hls.Handler(mediaDir(b), ctx)
	req := httptest.NewRequest("GET", "/h264_aac.mp4/t0_1.m4s", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		rec.Body = nil // the recorder discards the body
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
