package hls

/*
#include <hls.h>
*/
import "C"

import (
	"errors"
	"strconv"
	"strings"
)

// Status is a libhls result code (HlsStatus in hls.h). Values are fixed and never reused.
type Status int

// The libhls statuses, one per HlsStatus value.
const (
	StatusOK               Status = C.HLS_OK                     // success
	StatusNullArgument     Status = C.HLS_ERR_NULL_ARGUMENT      // a required pointer was NULL
	StatusInvalidUTF8      Status = C.HLS_ERR_INVALID_UTF8       // a string was not valid UTF-8
	StatusInvalidArgument  Status = C.HLS_ERR_INVALID_ARGUMENT   // bad option value or malformed name
	StatusNotFound         Status = C.HLS_ERR_NOT_FOUND          // no playlist names that name
	StatusIO               Status = C.HLS_ERR_IO                 // file missing, a directory, or unreadable
	StatusInvalidMedia     Status = C.HLS_ERR_INVALID_MEDIA      // empty, truncated, corrupt or not media
	StatusNoPlayableTracks Status = C.HLS_ERR_NO_PLAYABLE_TRACKS // no audio or video track can be served
	StatusFileChanged      Status = C.HLS_ERR_FILE_CHANGED       // the file changed after it was indexed: open it again
	StatusUnsupported      Status = C.HLS_ERR_UNSUPPORTED        // a codec or feature libhls does not support
	StatusPanic            Status = C.HLS_ERR_PANIC              // an internal bug was caught; the call had no effect
	StatusInternal         Status = C.HLS_ERR_INTERNAL           // any other internal failure
	StatusKeyUnavailable   Status = C.HLS_ERR_KEY_UNAVAILABLE    // the key provider gave no usable key; nothing served in the clear
)

// Description is libhls's name and meaning of the status (hls_status_str), e.g.
// "HLS_ERR_NOT_FOUND: ...", or "unknown status".
func (s Status) Description() string {
	if int64(s) != int64(C.int(s)) {
		return "unknown status"
	}
	return C.GoString(C.hls_status_str(C.int(s)))
}

// String is the status's C name, e.g. "HLS_ERR_NOT_FOUND" (the name part of hls_status_str),
// or "Status(N)" for a value that is no libhls status.
func (s Status) String() string {
	d := s.Description()
	if !strings.HasPrefix(d, "HLS_") {
		return "Status(" + strconv.Itoa(int(s)) + ")"
	}
	if i := strings.IndexByte(d, ':'); i >= 0 {
		return d[:i]
	}
	return d
}

// Error is a libhls failure: its status and libhls's message (which file, which stream, why).
//
// errors.Is(err, ErrNotFound) (or any other sentinel) is true for every *Error with that
// status, whatever its message.
type Error struct {
	Status  Status
	Message string
}

// Error formats the error as "hls: HLS_ERR_...: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return "hls: " + e.Status.String()
	}
	return "hls: " + e.Status.String() + ": " + e.Message
}

// Is reports whether target is an *Error with the same status and either no message (the
// sentinels) or the same message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Status == e.Status && (t.Message == "" || t.Message == e.Message)
}

// Sentinels for errors.Is, one per failing status.
var (
	ErrNullArgument     error = &Error{Status: StatusNullArgument}
	ErrInvalidUTF8      error = &Error{Status: StatusInvalidUTF8}
	ErrInvalidArgument  error = &Error{Status: StatusInvalidArgument}
	ErrNotFound         error = &Error{Status: StatusNotFound}
	ErrIO               error = &Error{Status: StatusIO}
	ErrInvalidMedia     error = &Error{Status: StatusInvalidMedia}
	ErrNoPlayableTracks error = &Error{Status: StatusNoPlayableTracks}
	ErrFileChanged      error = &Error{Status: StatusFileChanged}
	ErrUnsupported      error = &Error{Status: StatusUnsupported}
	ErrPanic            error = &Error{Status: StatusPanic}
	ErrInternal         error = &Error{Status: StatusInternal}
	ErrKeyUnavailable   error = &Error{Status: StatusKeyUnavailable}
)

// ErrClosed is returned by every method of a Context, Media or Buffer called after its Close.
var ErrClosed = errors.New("hls: use of a closed handle")

// takeError turns a failing _ex call's status and HlsError into an *Error and frees the
// HlsError (NULL-tolerant).
func takeError(st C.enum_HlsStatus, cerr *C.HlsError) error {
	e := &Error{Status: Status(st)}
	if cerr != nil {
		e.Message = C.GoString(C.hls_error_message(cerr))
		C.hls_error_free(cerr)
	}
	return e
}

// statusError is the error of a status-only call (no HlsError): status and what it means.
func statusError(st C.enum_HlsStatus, context string) error {
	return &Error{Status: Status(st), Message: context}
}

// invalidArgument is an ErrInvalidArgument detected before calling libhls.
func invalidArgument(msg string) error {
	return &Error{Status: StatusInvalidArgument, Message: msg}
}
