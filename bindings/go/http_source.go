package hls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTPSource reads one object of an HTTP store (S3, GCS, MinIO, nginx, ...) with range
// requests: an io.ReaderAt for OpenReaderAt. Its connections are kept alive and reused
// (http.Client's pool). Every request carries If-Match with the ETag seen when the source was
// made, so an object replaced meanwhile fails the read (HTTP 412) instead of mixing versions.
type HTTPSource struct {
	Client *http.Client
	URL    string
	Size   int64
	// ETag (or, without one, Last-Modified) of the object when the source was made.
	ETag         string
	LastModified string
}

// DefaultHTTPClient is the client HTTP sources use when none is given: keep-alive connections,
// up to 64 idle per store, and a timeout per request.
var DefaultHTTPClient = &http.Client{
	Timeout: 60 * time.Second,
	Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	},
}

// NewHTTPSource asks the store for the object's size and version (one HEAD request).
func NewHTTPSource(ctx context.Context, client *http.Client, url string) (*HTTPSource, error) {
	if client == nil {
		client = DefaultHTTPClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return nil, &Error{Status: StatusInvalidArgument, Message: err.Error()}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &Error{Status: StatusIO, Message: err.Error()}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, &Error{Status: StatusNotFound, Message: url + ": 404 Not Found"}
	case resp.StatusCode != http.StatusOK:
		return nil, &Error{Status: StatusIO, Message: url + ": " + resp.Status}
	case resp.ContentLength < 0:
		return nil, &Error{Status: StatusIO, Message: url + ": the store gives no Content-Length"}
	}
	return &HTTPSource{
		Client:       client,
		URL:          url,
		Size:         resp.ContentLength,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
	}, nil
}

// Identity is the URL and version of the object: what OpenReaderAt keys presentations by.
func (s *HTTPSource) Identity() string {
	return s.URL + " etag=" + s.ETag + " modified=" + s.LastModified + " size=" + strconv.FormatInt(s.Size, 10)
}

// ReadAt reads len(p) bytes at off with one range request (fewer only at the end of the
// object, with io.EOF). Safe for concurrent use.
func (s *HTTPSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.Size {
		return 0, io.EOF
	}
	want := int64(len(p))
	if off+want > s.Size {
		want = s.Size - off
	}
	if want == 0 {
		return 0, nil
	}
	req, err := http.NewRequest(http.MethodGet, s.URL, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+want-1))
	if s.ETag != "" {
		req.Header.Set("If-Match", s.ETag)
	} else if s.LastModified != "" {
		req.Header.Set("If-Unmodified-Since", s.LastModified)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		// Drain (small error bodies) so the connection is reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		if resp.StatusCode == http.StatusPreconditionFailed {
			return 0, errors.New(s.URL + ": the object changed on the store (412); open it again")
		}
		return 0, errors.New(s.URL + ": range request answered " + resp.Status + ", not 206")
	}
	if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-", off)) {
		return 0, fmt.Errorf("%s: Content-Range %q does not start at %d", s.URL, cr, off)
	}
	n, err := io.ReadFull(resp.Body, p[:want])
	if err != nil {
		return n, fmt.Errorf("%s: %d of %d bytes at %d: %w", s.URL, n, want, off, err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// OpenURL opens the object at url of an HTTP store (one HEAD, then range requests: at most 3
// for an MP4's open). client nil means DefaultHTTPClient.
func (c *Context) OpenURL(ctx context.Context, client *http.Client, url string) (*Media, error) {
	src, err := NewHTTPSource(ctx, client, url)
	if err != nil {
		return nil, err
	}
	return c.OpenReaderAt(src, src.Size, src.Identity())
}
