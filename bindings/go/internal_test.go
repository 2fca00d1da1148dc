package hls

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The handler opens a changed file again once; if it changed again the answer is 503 with
// Retry-After; other errors are mapped without a retry.
func TestHandlerRetriesChangedFileOnce(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.mp4"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	changed := &Error{Status: StatusFileChanged, Message: "changed"}
	for _, tc := range []struct {
		errs  []error // what the fetches return, in turn
		code  int
		retry string
		calls int
	}{
		{[]error{changed, nil}, 200, "", 2},
		{[]error{errChangedDuringRequest, nil}, 200, "", 2},
		{[]error{changed, changed}, 503, "1", 2},
		{[]error{errChangedDuringRequest, changed}, 503, "1", 2},
		{[]error{changed, &Error{Status: StatusInvalidMedia}}, 415, "", 2},
		{[]error{&Error{Status: StatusNotFound}}, 404, "", 1},
		{[]error{&Error{Status: StatusIO}}, 404, "", 1},
		{[]error{&Error{Status: StatusInvalidUTF8}}, 400, "", 1},
		{[]error{&Error{Status: StatusUnsupported}}, 415, "", 1},
		{[]error{&Error{Status: StatusNoPlayableTracks}}, 415, "", 1},
		{[]error{&Error{Status: StatusPanic}}, 500, "", 1},
		{[]error{&Error{Status: StatusInternal}}, 500, "", 1},
		{[]error{&Error{Status: StatusNullArgument}}, 500, "", 1},
		{[]error{ErrClosed}, 500, "", 1},
	} {
		h := Handler(root, ctx).(*handler)
		calls := 0
		h.fetch = func(file, name string, _ ...OpenOption) (*Buffer, identity, error) {
			err := tc.errs[calls]
			calls++
			if err != nil {
				return nil, identity{}, err
			}
			m, err := ctx.Open(filepath.Join(mediaDirForInternalTest(t), "h264_aac.mp4"))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			b, err := m.Get(name)
			return b, identity{}, err
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/a.mp4/master.m3u8", nil))
		if rec.Code != tc.code || rec.Header().Get("Retry-After") != tc.retry || calls != tc.calls {
			t.Errorf("%v: %d, Retry-After %q, %d fetches: %s", tc.errs, rec.Code, rec.Header().Get("Retry-After"), calls, rec.Body)
		}
	}
}

func mediaDirForInternalTest(t *testing.T) string {
	dir := os.Getenv("LIBHLS_MEDIA")
	if dir == "" {
		dir = filepath.Join("..", "..", "target", "media")
	}
	if _, err := os.Stat(filepath.Join(dir, "h264_aac.mp4")); err != nil {
		t.Fatalf("test media missing (set LIBHLS_MEDIA): %v", err)
	}
	return dir
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		root, path string
		in         bool
	}{
		{"/srv/media", "/srv/media/a.mp4", true},
		{"/srv/media", "/srv/media", false},
		{"/srv/media", "/srv/media2/a.mp4", false},
		{"/srv/media", "/srv/a.mp4", false},
		{"/", "/a.mp4", true},
		{"/", "/", false},
	} {
		if got := within(tc.root, tc.path); got != tc.in {
			t.Errorf("within(%q, %q) = %v", tc.root, tc.path, got)
		}
	}
}
