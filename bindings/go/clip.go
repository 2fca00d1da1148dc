package hls

/*
#include <hls.h>
*/
import "C"

import (
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"time"
)

// ClipPolicy says where a clip starts relative to the keyframes (HlsClipPolicy).
type ClipPolicy int

const (
	// ClipKeyframeAligned (the default) decodes from the keyframe at or before the clip's start
	// and hides what precedes the start with the init segments' edit lists: players that apply
	// edit lists (Safari, FFmpeg, Chromium's MSE) start exactly at the asked time.
	ClipKeyframeAligned ClipPolicy = C.HLS_CLIP_KEYFRAME_ALIGNED
	// ClipKeyframeForward starts at the first keyframe at or after the clip's start; nothing is
	// hidden.
	ClipKeyframeForward ClipPolicy = C.HLS_CLIP_KEYFRAME_FORWARD
)

// OpenOption is a per-open setting for Context.Open: how one media is presented. Opens of one
// file with equal options share one presentation; different options are different
// presentations (their cache entries never mix).
type OpenOption func(*C.HlsOpenOptions) error

// WithClip opens the media as the clip [from, to) of its presentation (whole milliseconds;
// to 0: to the end). Audio is cut on its own frames, subtitles to the range. A from at or
// beyond the media's end makes Open fail with ErrInvalidArgument.
func WithClip(from, to time.Duration, policy ClipPolicy) OpenOption {
	return func(o *C.HlsOpenOptions) error {
		f, err := millis(from, "WithClip from")
		if err != nil {
			return err
		}
		t, err := millis(to, "WithClip to")
		if err != nil {
			return err
		}
		return setterError(C.hls_open_options_set_clip(o, C.uint64_t(f), C.uint64_t(t), C.int(policy)), "WithClip")
	}
}

// WithURIQuery appends "?"+query to every URI the presentation's playlists write, so that
// requests for them carry it back (a clip's "clip_from=…&clip_to=…"). Names given to Get are
// always without it.
func WithURIQuery(query string) OpenOption {
	return func(o *C.HlsOpenOptions) error {
		q, err := cString(query, "WithURIQuery")
		if err != nil {
			return err
		}
		st := C.hls_open_options_set_uri_query(o, cPtr(q))
		runtime.KeepAlive(q)
		return setterError(st, "WithURIQuery")
	}
}

// ClipQuery reads the clip arguments of a request's query, "clip_from" and "clip_to"
// (milliseconds), as the nginx module does: ok is false when neither is there; an error for a
// value that is not a decimal number of milliseconds or an empty range. canonical is the query
// the clip's playlists append to their URIs.
func ClipQuery(q url.Values) (from, to time.Duration, canonical string, ok bool, err error) {
	var ms [2]uint64
	for i, name := range []string{"clip_from", "clip_to"} {
		if !q.Has(name) {
			continue
		}
		ok = true
		v := q.Get(name)
		n, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil || len(v) > 15 || v == "" || v[0] == '+' {
			return 0, 0, "", false, invalidArgument(fmt.Sprintf("%s=%q is not a number of milliseconds", name, v))
		}
		ms[i] = n
	}
	if !ok {
		return 0, 0, "", false, nil
	}
	if ms[1] != 0 && ms[0] >= ms[1] {
		return 0, 0, "", false, invalidArgument("clip_from must be before clip_to")
	}
	canonical = fmt.Sprintf("clip_from=%d", ms[0])
	if ms[1] != 0 {
		canonical += fmt.Sprintf("&clip_to=%d", ms[1])
	}
	return time.Duration(ms[0]) * time.Millisecond, time.Duration(ms[1]) * time.Millisecond, canonical, true, nil
}
