package hls

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Handler serves /<file path relative to root>/<name> from the media files under root: the
// last path segment is the name (master.m3u8, tN.m3u8, tN_K.m4s, ...), the rest the file.
//
//   - GET and HEAD only (otherwise 405 with "Allow: GET, HEAD").
//   - A path with a "..", "." or empty segment or a NUL byte, or naming (after symlinks) a file
//     outside root, answers 404; no file outside root is ever opened.
//   - Success: 200 with Content-Type, Content-Length, a strong ETag (the file's device, inode,
//     size and mtime, and the name), Last-Modified (the file's mtime), "Accept-Ranges: bytes",
//     and "Cache-Control: max-age=60" for playlists or "max-age=3600" for segments; a single
//     Range answers 206 (or 416), several ranges the whole body; If-None-Match and
//     If-Modified-Since answer 304 (http.ServeContent).
//   - libhls errors: ErrNotFound and ErrIO → 404; ErrInvalidArgument and ErrInvalidUTF8 →
//     400; ErrInvalidMedia, ErrNoPlayableTracks and ErrUnsupported → 415; ErrFileChanged → the
//     file is opened again once, and if it changed again 503 with "Retry-After: 1"; anything
//     else → 500. Error bodies are text/plain: the status name and libhls's message, with the
//     root's path removed.
//   - Every response carries "Access-Control-Allow-Origin: *".
//   - The query arguments clip_from=MS and clip_to=MS (milliseconds; either may be left out)
//     serve the clip [clip_from, clip_to) of the file (ClipKeyframeAligned), and every URI of
//     its playlists keeps them (WithURIQuery); a value that is not a number of milliseconds, or
//     an empty range, answers 400, and so does a clip_from at or beyond the file's end.
//
// Each request opens the file on ctx and closes it after getting the bytes: libhls keeps
// closed files indexed (WithIdleMedia), so reopening an unchanged file costs one stat.
// Handler panics if ctx is nil.
func Handler(root string, ctx *Context) http.Handler {
	if ctx == nil {
		panic("hls.Handler: nil *Context")
	}
	h := &handler{ctx: ctx, root: root}
	h.fetch = h.fetchFile
	h.absRoot, _ = filepath.Abs(root)
	h.realRoot, _ = resolveRoot(root)
	return h
}

type handler struct {
	ctx      *Context
	root     string // as given
	absRoot  string // absolute, symlinks not resolved
	realRoot string // absolute, symlinks resolved; "" if root could not be resolved at start
	// fetch is fetchFile; tests replace it to drive the retry of a changed file.
	fetch func(file, name string, opts ...OpenOption) (*Buffer, identity, error)
}

func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", errors.New("not a directory")
	}
	return real, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	root := h.realRoot
	if root == "" {
		var err error
		if root, err = resolveRoot(h.root); err != nil {
			log.Printf("hls: media root %q: %v", h.root, err)
			http.Error(w, "media root unavailable", http.StatusInternalServerError)
			return
		}
	}
	file, name, ok := resolve(root, r.URL.Path)
	if !ok {
		http.Error(w, "not found (URLs look like /<file under the root>/master.m3u8)", http.StatusNotFound)
		return
	}
	from, to, query, clip, err := ClipQuery(r.URL.Query())
	if err != nil {
		h.fail(w, root, http.StatusBadRequest, err)
		return
	}
	var opts []OpenOption
	if clip {
		// A clip: its own presentation, and every URI of its playlists keeps the clip.
		opts = []OpenOption{WithClip(from, to, ClipKeyframeAligned), WithURIQuery(query)}
	}
	h.serve(w, r, root, file, name, opts...)
}

// resolve maps a decoded URL path to a regular file under root (symlinks resolved) and a name.
func resolve(root, urlPath string) (file, name string, ok bool) {
	if !strings.HasPrefix(urlPath, "/") || strings.IndexByte(urlPath, 0) >= 0 {
		return "", "", false
	}
	segs := strings.Split(urlPath[1:], "/")
	if len(segs) < 2 {
		return "", "", false
	}
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return "", "", false
		}
	}
	name = segs[len(segs)-1]
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.Join(segs[:len(segs)-1]...)))
	if err != nil || !within(root, real) {
		return "", "", false
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.Mode().IsRegular() {
		return "", "", false
	}
	return real, name, true
}

// within reports whether path lies strictly inside the directory root (both absolute, clean).
func within(root, path string) bool {
	if root == "/" {
		return len(path) > 1 && path[0] == '/'
	}
	return strings.HasPrefix(path, root+"/")
}

// identity is what the ETag and the changed-file check are made of.
type identity struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func statIdentity(path string) (identity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return identity{}, err
	}
	id := identity{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return id, nil
}

func (id identity) etag(name string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d:%d:%d:%d:%s", id.dev, id.ino, id.size, id.mtime.UnixNano(), name)
	return fmt.Sprintf(`"%016x"`, h.Sum64())
}

// errChangedDuringRequest stands for a file whose identity changed while it was served.
var errChangedDuringRequest = &Error{Status: StatusFileChanged, Message: "the file changed while it was being served"}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, root, file, name string, opts ...OpenOption) {
	for attempt := 0; ; attempt++ {
		buf, id, err := h.fetch(file, name, opts...)
		if err == nil {
			serveBuffer(w, r, buf, id, name)
			return
		}
		if errors.Is(err, ErrFileChanged) {
			if attempt == 0 {
				continue
			}
			w.Header().Set("Retry-After", "1")
			h.fail(w, root, http.StatusServiceUnavailable, err)
			return
		}
		h.fail(w, root, httpStatus(err), err)
		return
	}
}

// fetchFile opens file, gets name, and checks the file kept its identity meanwhile.
func (h *handler) fetchFile(file, name string, opts ...OpenOption) (*Buffer, identity, error) {
	before, err := statIdentity(file)
	if err != nil {
		return nil, identity{}, &Error{Status: StatusIO, Message: "the file disappeared"}
	}
	m, err := h.ctx.Open(file, opts...)
	if err != nil {
		return nil, identity{}, err
	}
	buf, err := m.Get(name)
	m.Close()
	if err != nil {
		return nil, identity{}, err
	}
	after, err := statIdentity(file)
	if err != nil || after != before {
		buf.Close()
		return nil, identity{}, errChangedDuringRequest
	}
	return buf, before, nil
}

func serveBuffer(w http.ResponseWriter, r *http.Request, buf *Buffer, id identity, name string) {
	defer buf.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", buf.ContentType())
	hdr.Set("ETag", id.etag(name))
	hdr.Set("Accept-Ranges", "bytes")
	if strings.HasSuffix(name, ".m3u8") {
		hdr.Set("Cache-Control", "max-age=60")
	} else {
		hdr.Set("Cache-Control", "max-age=3600")
	}
	if strings.Contains(r.Header.Get("Range"), ",") {
		// Several ranges: the whole body (as the Python app does), not multipart/byteranges.
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, name, id.mtime, bytes.NewReader(buf.Bytes()))
}

// httpStatus maps a libhls error to an HTTP status.
func httpStatus(err error) int {
	var e *Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError
	}
	switch e.Status {
	case StatusNotFound, StatusIO:
		return http.StatusNotFound
	case StatusInvalidArgument, StatusInvalidUTF8:
		return http.StatusBadRequest
	case StatusInvalidMedia, StatusNoPlayableTracks, StatusUnsupported:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// fail answers an error: "<status name>: <message>", without the root's path.
func (h *handler) fail(w http.ResponseWriter, root string, code int, err error) {
	var body string
	var e *Error
	if errors.As(err, &e) {
		body = e.Status.String()
		if e.Message != "" {
			body += ": " + e.Message
		}
	} else {
		body = err.Error()
	}
	for _, p := range []string{root, h.absRoot} {
		if len(p) > 1 {
			body = strings.ReplaceAll(body, p+"/", "")
			body = strings.ReplaceAll(body, p, "")
		}
	}
	if code == http.StatusInternalServerError {
		log.Printf("hls: 500: %s", body)
	}
	http.Error(w, body, code)
}
