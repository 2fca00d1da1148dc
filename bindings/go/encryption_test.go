package hls_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	hls "libhls.dev/hls"
)

func encGetBytes(t *testing.T, m *hls.Media, name string) []byte {
	t.Helper()
	b, err := m.Get(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer b.Close()
	return append([]byte(nil), b.Bytes()...)
}

// A static AES-128 key: the playlist names the key URI, the init segment stays clear, and a
// segment decrypted with the key (IV = its segment number) is the clear segment.
func TestOpenEncryptedServesSegmentsThatDecryptToTheClearOnes(t *testing.T) {
	ctx := newContext(t)
	path := filepath.Join(mediaDir(t), "h264_aac.mp4")
	key := [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	enc := &hls.Encryption{Method: hls.EncryptionAES128, Key: key, KeyURI: "https://keys.example/k1"}
	if strings.Contains(enc.String(), "0102") {
		t.Fatalf("String shows the key: %s", enc)
	}
	m, err := ctx.OpenEncrypted(path, enc)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	clear, err := ctx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer clear.Close()
	if pl := string(encGetBytes(t, m, "t0.m3u8")); !strings.Contains(pl, `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k1"`) {
		t.Fatalf("no key line:\n%s", pl)
	}
	if !bytes.Equal(encGetBytes(t, m, "t0_init.mp4"), encGetBytes(t, clear, "t0_init.mp4")) {
		t.Fatal("the init segment is not the clear one")
	}
	seg, want := encGetBytes(t, m, "t0_2.m4s"), encGetBytes(t, clear, "t0_2.m4s")
	if bytes.Equal(seg, want) || len(seg)%16 != 0 {
		t.Fatalf("segment served in the clear or not whole blocks (%d bytes)", len(seg))
	}
	block, _ := aes.NewCipher(key[:])
	iv := make([]byte, 16)
	iv[15] = 2
	plain := make([]byte, len(seg))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, seg)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 16 || !bytes.Equal(plain[:len(plain)-pad], want) {
		t.Fatal("the decrypted segment differs from the clear one")
	}
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Tracks) == 0 {
		t.Fatal("no tracks")
	}
	_, err = ctx.OpenEncrypted(filepath.Join(mediaDir(t), "vp9_opus.webm"),
		&hls.Encryption{Method: hls.EncryptionSampleAES, Key: key, KeyURI: "k"})
	if !errors.Is(err, hls.ErrUnsupported) {
		t.Fatalf("SAMPLE-AES of VP9/Opus: %v, want ErrUnsupported", err)
	}
}
