package hls_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"libhls.dev/hls"
)

// extinfTotal sums the EXTINF durations of a media playlist.
func extinfTotal(t *testing.T, pl []byte) float64 {
	t.Helper()
	total := 0.0
	for _, l := range strings.Split(string(pl), "\n") {
		if strings.HasPrefix(l, "#EXTINF:") {
			v := strings.TrimPrefix(l, "#EXTINF:")
			d, err := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
			if err != nil {
				t.Fatalf("EXTINF %q: %v", l, err)
			}
			total += d
		}
	}
	return total
}

func TestClipPlaysOnlyTheAskedRange(t *testing.T) {
	ctx := newContext(t)
	path := mediaPath(t, "h264_aac.mp4")
	whole := openMedia(t, ctx, "h264_aac.mp4")
	clip, err := ctx.Open(path, hls.WithClip(3300*time.Millisecond, 7700*time.Millisecond, hls.ClipKeyframeAligned))
	if err != nil {
		t.Fatalf("Open with a clip: %v", err)
	}
	defer clip.Close()
	if d := clip.Duration(); d < 4350*time.Millisecond || d > 4450*time.Millisecond {
		t.Errorf("clip lasts %v, want 4.4s", d)
	}
	if whole.Duration() < 25*time.Second {
		t.Errorf("the whole file lasts %v: the clip leaked into it", whole.Duration())
	}
	for _, name := range []string{"t0.m3u8", "t1.m3u8"} {
		pl, err := getBytes(clip)(name)
		if err != nil {
			t.Fatal(err)
		}
		if total := extinfTotal(t, pl); total < 4.36 || total > 4.44 {
			t.Errorf("%s: EXTINF total %.3f s, want 4.4 s", name, total)
		}
	}
	w, _ := getBytes(whole)("t0_0.m4s")
	c, _ := getBytes(clip)("t0_0.m4s")
	if string(w) == string(c) {
		t.Error("the clip's first segment is the whole file's")
	}
	// Forward: from the first keyframe after 3.3 s; a start beyond the end is refused.
	fwd, err := ctx.Open(path, hls.WithClip(3300*time.Millisecond, 0, hls.ClipKeyframeForward))
	if err != nil {
		t.Fatalf("forward clip: %v", err)
	}
	defer fwd.Close()
	if d := fwd.Duration(); d <= 0 || d > 26700*time.Millisecond {
		t.Errorf("forward clip to the end lasts %v", d)
	}
	if _, err := ctx.Open(path, hls.WithClip(time.Hour, 0, hls.ClipKeyframeAligned)); !errors.Is(err, hls.ErrInvalidArgument) {
		t.Errorf("a clip after the end: %v, want ErrInvalidArgument", err)
	}
	if _, err := ctx.Open(path, hls.WithClip(5*time.Second, 4*time.Second, hls.ClipKeyframeAligned)); !errors.Is(err, hls.ErrInvalidArgument) {
		t.Errorf("an empty clip: %v, want ErrInvalidArgument", err)
	}
	if _, err := ctx.Open(path, hls.WithClip(time.Second, 0, hls.ClipPolicy(9))); !errors.Is(err, hls.ErrInvalidArgument) {
		t.Errorf("an unknown policy: %v, want ErrInvalidArgument", err)
	}
}

func TestHandlerServesClipsFromQueryArguments(t *testing.T) {
	ctx := newContext(t)
	srv := httptest.NewServer(hls.Handler(mediaDir(t), ctx))
	defer srv.Close()
	const q = "clip_from=3300&clip_to=7700"
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	seen := map[string]bool{}
	queue := []string{"master.m3u8?" + q}
	for len(queue) > 0 {
		uri := queue[0]
		queue = queue[1:]
		if seen[uri] {
			continue
		}
		seen[uri] = true
		code, body := get("/h264_aac.mp4/" + uri)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", uri, code, body)
		}
		if !strings.Contains(uri, ".m3u8") {
			continue
		}
		for _, u := range playlistURIs(body) {
			if !strings.HasSuffix(u, "?"+q) {
				t.Errorf("%s names %s without the clip's arguments", uri, u)
			}
			queue = append(queue, u)
		}
		if strings.HasPrefix(uri, "t0.m3u8") {
			if total := extinfTotal(t, body); total < 4.36 || total > 4.44 {
				t.Errorf("t0.m3u8: EXTINF total %.3f s, want 4.4 s", total)
			}
		}
	}
	if len(seen) < 8 {
		t.Errorf("only %d names crawled", len(seen))
	}
	for _, bad := range []string{"clip_from=abc", "clip_from=5000&clip_to=4000", "clip_from=-1", "clip_from=9999999"} {
		if code, body := get("/h264_aac.mp4/master.m3u8?" + bad); code != http.StatusBadRequest {
			t.Errorf("?%s: %d %s, want 400", bad, code, body)
		}
	}
}
