package hls_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libhls.dev/hls"
)

// mediaDir is the directory of the generated test media: $LIBHLS_MEDIA, or the checkout's
// target/media. Missing media fail the test (nothing is skipped).
func mediaDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("LIBHLS_MEDIA")
	if dir == "" {
		dir = filepath.Join("..", "..", "target", "media")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(abs, "h264_aac.mp4")); err != nil || fi.Size() == 0 {
		t.Fatalf("test media missing in %s (%v): run scripts/gen-media.sh in the libhls checkout, "+
			"or set LIBHLS_MEDIA to the directory holding h264_aac.mp4, ...", abs, err)
	}
	return abs
}

// mediaPath is the path of one test media file, which must exist.
func mediaPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(mediaDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test media file missing: %v", err)
	}
	return p
}

func newContext(t testing.TB, opts ...hls.Option) *hls.Context {
	t.Helper()
	ctx, err := hls.NewContext(opts...)
	if err != nil {
		t.Fatalf("NewContext: %v", err)
	}
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

func openMedia(t testing.TB, ctx *hls.Context, name string) *hls.Media {
	t.Helper()
	m, err := ctx.Open(mediaPath(t, name))
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// getBytes fetches a name through Media.Get and copies its bytes.
func getBytes(m *hls.Media) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		b, err := m.Get(name)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		if b.Len() != len(b.Bytes()) {
			return nil, fmt.Errorf("%s: Len %d != len(Bytes) %d", name, b.Len(), len(b.Bytes()))
		}
		return append([]byte(nil), b.Bytes()...), nil
	}
}

// playlistURIs lists the names a playlist refers to: its URI lines and URI="..." attributes.
func playlistURIs(pl []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(pl))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			rest := line
			for {
				i := strings.Index(rest, `URI="`)
				if i < 0 {
					break
				}
				rest = rest[i+5:]
				j := strings.IndexByte(rest, '"')
				if j < 0 {
					break
				}
				out = append(out, rest[:j])
				rest = rest[j+1:]
			}
		default:
			out = append(out, line)
		}
	}
	return out
}

// crawl fetches master.m3u8 and every name reachable from it through the playlists. With a
// random source the names are fetched in a random order, else breadth first.
func crawl(get func(string) ([]byte, error), rng *rand.Rand) (map[string][]byte, error) {
	got := map[string][]byte{}
	queued := map[string]bool{"master.m3u8": true}
	queue := []string{"master.m3u8"}
	for len(queue) > 0 {
		i := 0
		if rng != nil {
			i = rng.Intn(len(queue))
		}
		name := queue[i]
		queue = append(queue[:i], queue[i+1:]...)
		b, err := get(name)
		if err != nil {
			return got, fmt.Errorf("get %s: %w", name, err)
		}
		if len(b) == 0 {
			return got, fmt.Errorf("get %s: empty", name)
		}
		got[name] = b
		if strings.HasSuffix(name, ".m3u8") {
			for _, u := range playlistURIs(b) {
				if !queued[u] {
					queued[u] = true
					queue = append(queue, u)
				}
			}
		}
	}
	return got, nil
}

// sameCrawl reports how two crawls of one presentation differ ("" if they do not).
func sameCrawl(want, got map[string][]byte) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d names, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			return "missing " + name
		}
		if !bytes.Equal(w, g) {
			return fmt.Sprintf("%s differs (%d bytes, want %d)", name, len(g), len(w))
		}
	}
	return ""
}

// writeCrawl writes a crawl into dir, one file per name.
func writeCrawl(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
