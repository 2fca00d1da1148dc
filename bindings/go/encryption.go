package hls

/*
#include <stdlib.h>
#include <hls.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// EncryptionMethod is how a presentation's segments are protected (HlsEncryptionMethod).
type EncryptionMethod int

const (
	// EncryptionNone serves in the clear.
	EncryptionNone EncryptionMethod = C.HLS_ENCRYPTION_NONE
	// EncryptionAES128 encrypts whole media segments AES-128-CBC with PKCS7 padding
	// (METHOD=AES-128); init segments stay clear.
	EncryptionAES128 EncryptionMethod = C.HLS_ENCRYPTION_AES_128
	// EncryptionSampleAES encrypts samples in place, CMAF cbcs (METHOD=SAMPLE-AES).
	EncryptionSampleAES EncryptionMethod = C.HLS_ENCRYPTION_SAMPLE_AES
)

// Encryption is a static key for OpenEncrypted (hls_open_options_set_encryption). libhls never
// serves the key: KeyURI names where your server does (behind its own checks).
type Encryption struct {
	Method EncryptionMethod
	Key    [16]byte
	// KeyURI is written in the playlists.
	KeyURI string
	// IV, when set, is one constant IV (written as IV=0x...); nil uses the segment number.
	IV *[16]byte
	// KeyID is the SAMPLE-AES key ID (tenc default_KID).
	KeyID [16]byte
	// KeyFormat and KeyFormatVersions, when not empty, are written as KEYFORMAT and
	// KEYFORMATVERSIONS (e.g. "com.apple.streamingkeydelivery" and "1" for FairPlay).
	KeyFormat, KeyFormatVersions string
}

// String never shows the key.
func (e *Encryption) String() string {
	return fmt.Sprintf("Encryption(method %d, key URI %q)", e.Method, e.KeyURI)
}

func keyStatus(st uint32, what string) error {
	if st == uint32(C.HLS_OK) {
		return nil
	}
	return &Error{Status: Status(st), Message: what}
}

// options builds HlsOpenOptions holding e (the caller frees them).
func (e *Encryption) options() (*C.HlsOpenOptions, error) {
	info := C.hls_key_info_new()
	if info == nil {
		return nil, &Error{Status: StatusInternal, Message: "hls_key_info_new: out of memory"}
	}
	defer C.hls_key_info_free(info)
	uri, err := cString(e.KeyURI, "key URI")
	if err != nil {
		return nil, err
	}
	key, kid := e.Key, e.KeyID
	if err := keyStatus(C.hls_key_info_set_method(info, C.int(e.Method)), "encryption method"); err != nil {
		return nil, err
	}
	if err := keyStatus(C.hls_key_info_set_key(info, (*C.uint8_t)(unsafe.Pointer(&key[0]))), "key"); err != nil {
		return nil, err
	}
	if err := keyStatus(C.hls_key_info_set_key_id(info, (*C.uint8_t)(unsafe.Pointer(&kid[0]))), "key ID"); err != nil {
		return nil, err
	}
	if err := keyStatus(C.hls_key_info_set_uri(info, cPtr(uri)), "key URI"); err != nil {
		return nil, err
	}
	if e.IV != nil {
		iv := *e.IV
		if err := keyStatus(C.hls_key_info_set_iv(info, C.HLS_IV_CONSTANT, (*C.uint8_t)(unsafe.Pointer(&iv[0]))), "IV"); err != nil {
			return nil, err
		}
	}
	if e.KeyFormat != "" || e.KeyFormatVersions != "" {
		var kf, kv *C.char
		if e.KeyFormat != "" {
			kf = C.CString(e.KeyFormat)
			defer C.free(unsafe.Pointer(kf))
		}
		if e.KeyFormatVersions != "" {
			kv = C.CString(e.KeyFormatVersions)
			defer C.free(unsafe.Pointer(kv))
		}
		if err := keyStatus(C.hls_key_info_set_keyformat(info, kf, kv), "KEYFORMAT"); err != nil {
			return nil, err
		}
	}
	opts := C.hls_open_options_new()
	if opts == nil {
		return nil, &Error{Status: StatusInternal, Message: "hls_open_options_new: out of memory"}
	}
	if err := keyStatus(C.hls_open_options_set_encryption(opts, info), "encryption"); err != nil {
		C.hls_open_options_free(opts)
		return nil, err
	}
	runtime.KeepAlive(uri)
	return opts, nil
}

// OpenEncrypted opens path like Open, its presentation encrypted with the static key e
// (hls_open_with). Opens with equal keys share one presentation; each key is its own.
func (c *Context) OpenEncrypted(path string, e *Encryption) (*Media, error) {
	cpath, err := cString(path, "path")
	if err != nil {
		return nil, err
	}
	opts, err := e.options()
	if err != nil {
		return nil, err
	}
	defer C.hls_open_options_free(opts)
	var m *C.HlsMedia
	var cerr *C.HlsError
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	st := C.hls_open_with(c.ptr, cPtr(cpath), opts, &m, &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(cpath)
	if st != C.HLS_OK {
		return nil, takeError(st, cerr)
	}
	media := &Media{ptr: m}
	runtime.SetFinalizer(media, (*Media).Close)
	return media, nil
}
