package hls_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"libhls.dev/hls"
)

// mediaRoot builds a media root in a temp dir:
//
//	root/h264_aac.mp4, root/sub dir/subs.mp4, root/text.mp4, root/no_av.mkv, root/notes.txt
//	root/inside.mp4 -> h264_aac.mp4               (a symlink inside the root: served)
//	root/escape.mp4 -> ../outside/secret.mp4      (symlinks leaving the root: 404)
//	root/escape_abs.mp4 -> <abs>/outside/secret.mp4
//	root/escdir -> ../outside
//	outside/secret.mp4
func mediaRoot(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cp := func(src, dst string) {
		b, err := os.ReadFile(mediaPath(t, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cp("h264_aac.mp4", filepath.Join(root, "h264_aac.mp4"))
	cp("subs.mp4", filepath.Join(root, "sub dir", "subs.mp4"))
	cp("text.mp4", filepath.Join(root, "text.mp4"))
	cp("no_av.mkv", filepath.Join(root, "no_av.mkv"))
	cp("h264_aac.mp4", filepath.Join(outside, "secret.mp4"))
	if err := os.WriteFile(filepath.Join(root, "notes.txt"), []byte("not media\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"inside.mp4":     "h264_aac.mp4",
		"escape.mp4":     "../outside/secret.mp4",
		"escape_abs.mp4": filepath.Join(outside, "secret.mp4"),
		"escdir":         "../outside",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

type response struct {
	code int
	hdr  http.Header
	body []byte
}

func do(t *testing.T, client *http.Client, method, u string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("%s %s: Access-Control-Allow-Origin %q", method, u, got)
	}
	return response{resp.StatusCode, resp.Header, body}
}

// serve starts a test server over Handler(root, ctx).
func serve(t *testing.T, root string, ctx *hls.Context) (*httptest.Server, func(method, path string, hdr ...string) response) {
	srv := httptest.NewServer(hls.Handler(root, ctx))
	t.Cleanup(srv.Close)
	return srv, func(method, path string, hdr ...string) response {
		t.Helper()
		return do(t, srv.Client(), method, srv.URL+path, hdr...)
	}
}

var etagRe = regexp.MustCompile(`^"[0-9a-f]{16}"$`)

func TestHandlerServes(t *testing.T) {
	root, _ := mediaRoot(t)
	ctx := newContext(t)
	_, get := serve(t, root, ctx)
	m := openMedia(t, ctx, "h264_aac.mp4")
	want, err := crawl(getBytes(m), nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "h264_aac.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	etags := map[string]string{}
	for name, body := range want {
		r := get("GET", "/h264_aac.mp4/"+name)
		if r.code != 200 || !bytes.Equal(r.body, body) {
			t.Fatalf("GET %s: %d, %d bytes (want 200, %d bytes): %s", name, r.code, len(r.body), len(body), r.body)
		}
		ct, cc := "video/mp4", "max-age=3600"
		if strings.HasSuffix(name, ".m3u8") {
			ct, cc = "application/vnd.apple.mpegurl", "max-age=60"
		} else if strings.HasPrefix(name, "t1") {
			ct = "audio/mp4"
		}
		h := r.hdr
		if h.Get("Content-Type") != ct || h.Get("Cache-Control") != cc || h.Get("Accept-Ranges") != "bytes" ||
			h.Get("Content-Length") != fmt.Sprint(len(body)) || !etagRe.MatchString(h.Get("ETag")) ||
			h.Get("Last-Modified") != fi.ModTime().UTC().Format(http.TimeFormat) {
			t.Errorf("GET %s: headers %v", name, h)
		}
		if r2 := get("GET", "/h264_aac.mp4/"+name); r2.hdr.Get("ETag") != h.Get("ETag") {
			t.Errorf("GET %s: ETag changed between requests", name)
		}
		etags[h.Get("ETag")] = name
	}
	if len(etags) != len(want) {
		t.Errorf("%d distinct ETags for %d names", len(etags), len(want))
	}
	// A symlink inside the root is served; so are paths with escaped characters.
	if r := get("GET", "/inside.mp4/master.m3u8"); r.code != 200 || !bytes.Equal(r.body, want["master.m3u8"]) {
		t.Errorf("symlink inside the root: %d %s", r.code, r.body)
	}
	s := openMedia(t, ctx, "subs.mp4")
	subs, err := crawl(getBytes(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	vtt := 0
	for name, body := range subs {
		r := get("GET", "/sub%20dir/subs.mp4/"+url.PathEscape(name))
		if r.code != 200 || !bytes.Equal(r.body, body) {
			t.Errorf("GET sub dir/subs.mp4/%s: %d", name, r.code)
		}
		if strings.HasSuffix(name, ".vtt") {
			vtt++
			if r.hdr.Get("Content-Type") != "text/vtt" || r.hdr.Get("Cache-Control") != "max-age=3600" {
				t.Errorf("GET %s: headers %v", name, r.hdr)
			}
		}
	}
	if vtt == 0 {
		t.Error("no WebVTT name in subs.mp4")
	}
	// The media root itself may be given through a symlink, relative or not.
	_, get2 := serve(t, mediaDir(t), ctx)
	if r := get2("GET", "/h264_aac.mp4/master.m3u8"); r.code != 200 || !bytes.Equal(r.body, want["master.m3u8"]) {
		t.Errorf("root %s: %d %s", mediaDir(t), r.code, r.body)
	}
}

func TestHandlerHeadRangeConditional(t *testing.T) {
	root, _ := mediaRoot(t)
	_, get := serve(t, root, newContext(t))
	full := get("GET", "/h264_aac.mp4/t0_1.m4s")
	if full.code != 200 || len(full.body) < 1000 {
		t.Fatalf("GET: %d, %d bytes", full.code, len(full.body))
	}
	n := len(full.body)
	etag, lastMod := full.hdr.Get("ETag"), full.hdr.Get("Last-Modified")

	head := get("HEAD", "/h264_aac.mp4/t0_1.m4s")
	if head.code != 200 || len(head.body) != 0 || head.hdr.Get("Content-Length") != fmt.Sprint(n) ||
		head.hdr.Get("ETag") != etag || head.hdr.Get("Content-Type") != "video/mp4" {
		t.Errorf("HEAD: %d, %d bytes, %v", head.code, len(head.body), head.hdr)
	}

	for _, tc := range []struct {
		rng        string
		code       int
		body       []byte
		contentRng string
	}{
		{"bytes=0-99", 206, full.body[:100], fmt.Sprintf("bytes 0-99/%d", n)},
		{"bytes=100-", 206, full.body[100:], fmt.Sprintf("bytes 100-%d/%d", n-1, n)},
		{"bytes=-10", 206, full.body[n-10:], fmt.Sprintf("bytes %d-%d/%d", n-10, n-1, n)},
		{fmt.Sprintf("bytes=%d-", n), 416, nil, fmt.Sprintf("bytes */%d", n)},
		{"bytes=0-1,10-20", 200, full.body, ""}, // several ranges: the whole body
	} {
		r := get("GET", "/h264_aac.mp4/t0_1.m4s", "Range", tc.rng)
		if r.code != tc.code || r.hdr.Get("Content-Range") != tc.contentRng || (tc.body != nil && !bytes.Equal(r.body, tc.body)) {
			t.Errorf("Range %s: %d, Content-Range %q, %d bytes", tc.rng, r.code, r.hdr.Get("Content-Range"), len(r.body))
		}
	}

	for _, tc := range []struct {
		hdr  []string
		code int
	}{
		{[]string{"If-None-Match", etag}, 304},
		{[]string{"If-None-Match", `"0000000000000000", ` + etag}, 304},
		{[]string{"If-None-Match", `"0000000000000000"`}, 200},
		{[]string{"If-Modified-Since", lastMod}, 304},
		{[]string{"If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"}, 200},
	} {
		r := get("GET", "/h264_aac.mp4/t0_1.m4s", tc.hdr...)
		if r.code != tc.code || (tc.code == 304 && (len(r.body) != 0 || r.hdr.Get("ETag") != etag)) {
			t.Errorf("%v: %d, %d bytes, %v", tc.hdr, r.code, len(r.body), r.hdr)
		}
	}
}

func TestHandlerErrors(t *testing.T) {
	root, outside := mediaRoot(t)
	srv, get := serve(t, root, newContext(t))
	for _, tc := range []struct {
		path   string
		code   int
		prefix string
	}{
		{"/h264_aac.mp4/nope.m3u8", 404, "HLS_ERR_NOT_FOUND: "},
		{"/h264_aac.mp4/t9_1.m4s", 404, "HLS_ERR_NOT_FOUND: "},
		{"/missing.mp4/master.m3u8", 404, ""},
		{"/h264_aac.mp4", 404, ""},
		{"/h264_aac.mp4/", 404, ""},
		{"/", 404, ""},
		{"/sub%20dir/master.m3u8", 404, ""}, // a directory
		{"/text.mp4/master.m3u8", 415, "HLS_ERR_INVALID_MEDIA: "},
		{"/notes.txt/master.m3u8", 415, "HLS_ERR_INVALID_MEDIA: "},
		{"/no_av.mkv/master.m3u8", 415, "HLS_ERR_NO_PLAYABLE_TRACKS: "},
		{"/h264_aac.mp4/%3F", 400, "HLS_ERR_INVALID_ARGUMENT: "},
		{"/h264_aac.mp4/t0%0A.m3u8", 400, "HLS_ERR_INVALID_ARGUMENT: "},
		{"/h264_aac.mp4/%FF.m3u8", 400, "HLS_ERR_INVALID_UTF8: "},
		// Nothing outside the root, however asked.
		{"/../outside/secret.mp4/master.m3u8", 404, ""},
		{"/%2e%2e/outside/secret.mp4/master.m3u8", 404, ""},
		{"/sub%20dir/../h264_aac.mp4/master.m3u8", 404, ""},
		{"/./h264_aac.mp4/master.m3u8", 404, ""},
		{"//h264_aac.mp4/master.m3u8", 404, ""},
		{"/h264_aac.mp4/..", 404, ""},
		{"/escape.mp4/master.m3u8", 404, ""},
		{"/escape_abs.mp4/master.m3u8", 404, ""},
		{"/escdir/secret.mp4/master.m3u8", 404, ""},
		{"/" + url.PathEscape(outside) + "/secret.mp4/master.m3u8", 404, ""},
		{"/h264_aac.mp4%00/master.m3u8", 404, ""},
		{"/h264_aac.mp4/master.m3u8%00", 404, ""},
	} {
		r := get("GET", tc.path)
		if r.code != tc.code || !strings.HasPrefix(string(r.body), tc.prefix) ||
			r.hdr.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("GET %s: %d %q %q; want %d %q", tc.path, r.code, r.hdr.Get("Content-Type"), r.body, tc.code, tc.prefix)
		}
		if strings.Contains(string(r.body), root) || strings.Contains(string(r.body), filepath.Dir(root)) {
			t.Errorf("GET %s: the body reveals a server path: %q", tc.path, r.body)
		}
		if h := get("HEAD", tc.path); h.code != tc.code || len(h.body) != 0 {
			t.Errorf("HEAD %s: %d, %d bytes", tc.path, h.code, len(h.body))
		}
	}
	// Paths the client would not send as such go straight to the handler.
	h := hls.Handler(root, newContext(t))
	for _, p := range []string{"/../outside/secret.mp4/master.m3u8", "/sub dir/../../outside/secret.mp4/master.m3u8",
		"h264_aac.mp4/master.m3u8", "/h264_aac.mp4/master.m3u8\x00", outside + "/secret.mp4/master.m3u8"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 404 {
			t.Errorf("path %q: %d %q", p, rec.Code, rec.Body)
		}
	}
	for _, method := range []string{"POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		r := do(t, srv.Client(), method, srv.URL+"/h264_aac.mp4/master.m3u8")
		if r.code != 405 || r.hdr.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q", method, r.code, r.hdr.Get("Allow"))
		}
	}
}

func TestHandlerClosedContext(t *testing.T) {
	root, _ := mediaRoot(t)
	ctx, err := hls.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	_, get := serve(t, root, ctx)
	ctx.Close()
	if r := get("GET", "/h264_aac.mp4/master.m3u8"); r.code != 500 {
		t.Errorf("closed context: %d %s", r.code, r.body)
	}
}

// A file replaced on disk is served anew, with a new ETag.
func TestHandlerFileReplaced(t *testing.T) {
	root, _ := mediaRoot(t)
	ctx := newContext(t)
	_, get := serve(t, root, ctx)
	path := filepath.Join(root, "h264_aac.mp4")
	before := get("GET", "/h264_aac.mp4/master.m3u8")
	seg := get("GET", "/h264_aac.mp4/t0_1.m4s")
	if before.code != 200 || seg.code != 200 {
		t.Fatalf("%d %d", before.code, seg.code)
	}
	b, err := os.ReadFile(mediaPath(t, "multi_audio.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(tmp, later, later); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	want, err := crawl(getBytes(openMedia(t, newContext(t), "multi_audio.mp4")), nil)
	if err != nil {
		t.Fatal(err)
	}
	after := get("GET", "/h264_aac.mp4/master.m3u8")
	if after.code != 200 || !bytes.Equal(after.body, want["master.m3u8"]) || after.hdr.Get("ETag") == before.hdr.Get("ETag") {
		t.Errorf("after replacing the file: %d, ETag %s (before %s)", after.code, after.hdr.Get("ETag"), before.hdr.Get("ETag"))
	}
	if r := get("GET", "/h264_aac.mp4/t0_1.m4s", "If-None-Match", seg.hdr.Get("ETag")); r.code != 200 ||
		!bytes.Equal(r.body, want["t0_1.m4s"]) {
		t.Errorf("segment after replacing the file: %d", r.code)
	}
}

// Goroutines crawling over HTTP get what Media.Get serves.
func TestHandlerConcurrentCrawl(t *testing.T) {
	ctx := newContext(t)
	srv, _ := serve(t, mediaDir(t), ctx)
	for _, f := range []string{"h264_aac.mkv", "multi_audio.mkv"} {
		want, err := crawl(getBytes(openMedia(t, ctx, f)), nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				got, err := crawl(func(name string) ([]byte, error) {
					resp, err := srv.Client().Get(srv.URL + "/" + f + "/" + name)
					if err != nil {
						return nil, err
					}
					defer resp.Body.Close()
					if resp.StatusCode != 200 {
						return nil, fmt.Errorf("status %d", resp.StatusCode)
					}
					return io.ReadAll(resp.Body)
				}, nil)
				if err != nil {
					t.Errorf("worker %d: %s: %v", w, f, err)
				} else if d := sameCrawl(want, got); d != "" {
					t.Errorf("worker %d: %s over HTTP: %s", w, f, d)
				}
			}(w)
		}
		wg.Wait()
	}
}
