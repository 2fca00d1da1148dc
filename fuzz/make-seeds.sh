#!/usr/bin/env bash
# Re-makes the committed seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the test
# media (target/media, scripts/gen-media.sh): short cuts of real files (stream copy, no
# re-encoding), each < 64 KB, and hand-made seeds for the raw readers. Run from anywhere; needs
# ffmpeg and mkvmerge. The corpora are committed: this script is how they were made.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
media="$root/target/media"
c="$root/fuzz/corpus"
cut() { # cut SRC OUT SECONDS [ffmpeg output options...]
  local src="$1" out="$2" secs="$3"; shift 3
  mkdir -p "$(dirname "$out")"
  ffmpeg -nostdin -loglevel error -y -i "$media/$src" -t "$secs" -c copy "$@" "$out"
}
rm -rf "$c"
# MP4/MOV (sample tables)
cut captions.mp4 "$c/serve_mp4/h264_aac_1s.mp4" 1.2 -map 0
cut phone_rotated.mp4 "$c/serve_mp4/rotated.mp4" 0.6
cut hdr10.mp4 "$c/serve_mp4/hevc_hdr10.mp4" 0.6
cut vp9_opus.mp4 "$c/serve_mp4/vp9_opus.mp4" 0.5
cut ac3_51.mp4 "$c/serve_mp4/ac3.mp4" 0.7 -map 0:a
cut audio_only.m4a "$c/serve_mp4/aac.m4a" 1.5
cut subs.mp4 "$c/serve_mp4/mov_text.mp4" 12 -map 0:s -map 0:a -t 1.2
cut pcm.mov "$c/serve_mp4/pcm.mov" 0.2 -map 0:a
cut vfr_bframes.mp4 "$c/serve_mp4/bframes_edit.mp4" 0.8 -map 0:v
# fragmented MP4
cut captions.mp4 "$c/serve_fmp4/frag_keyframe.mp4" 1.2 -movflags frag_keyframe+empty_moov+default_base_moof
cut phone_rotated.mp4 "$c/serve_fmp4/separate_moof.mp4" 0.8 -movflags frag_keyframe+empty_moov+separate_moof -frag_duration 300000
cut hlg.mp4 "$c/serve_fmp4/sidx.mp4" 0.6 -movflags frag_keyframe+empty_moov+default_base_moof+global_sidx
# Matroska / WebM
cut vp9_opus.webm "$c/serve_mkv/vp9_opus.webm" 0.5
cut hdr10.mkv "$c/serve_mkv/hevc.mkv" 0.6
cut captions.mp4 "$c/serve_mkv/h264_aac.mkv" 1.2
cp "$media/subs_only.mkv" "$c/serve_mkv/subs_only.mkv"
cut multi_audio.mkv "$c/serve_mkv/subs_ac3.mkv" 12 -map 0:s -map 0:2 -t 1.2
ffmpeg -nostdin -loglevel error -y -i "$media/audio_only.mka" -t 1.5 -c copy "$c/serve_mkv/aac.mka"
mkvmerge -q -o "$c/serve_mkv/mkvmerge_laced.mkv" "$c/serve_mkv/h264_aac.mkv" || true
# MPEG-TS
cut captions.ts "$c/serve_ts/h264_aac.ts" 1.0
cut hevc_aac.ts "$c/serve_ts/hevc_audio.ts" 2.0 -map 0:a
cut anamorphic.ts "$c/serve_ts/anamorphic.ts" 0.3 -map 0:v
# MP3 and ADTS
cut audio_only.mp3 "$c/serve_mp3/audio.mp3" 1.5
cut cover.mp3 "$c/serve_mp3/cover.mp3" 0.5
cut audio_only.m4a "$c/serve_mp3/adts.aac" 1.5 -f adts
# the box and EBML readers on raw bytes: the same files
mkdir -p "$c/mp4_boxes" "$c/mkv_ebml"
cp "$c"/serve_mp4/{h264_aac_1s.mp4,ac3.mp4,mov_text.mp4,bframes_edit.mp4} "$c"/serve_fmp4/*.mp4 "$c/mp4_boxes/"
cp "$c"/serve_mkv/*.mk* "$c"/serve_mkv/*.webm "$c/mkv_ebml/"
# subtitles: codec byte (0 SubRip, 1 ASS, 2 SSA, 3 mov_text, 4 WebVTT, 5 text; FFmpeg decodes SSA
# files as ASS: the ssa seed is an SSA v4 header under ASS), header, packets, separated by
# \x1e\x1e (see hls::fuzzing::subtitles)
s="$c/subtitles"; mkdir -p "$s"
printf '\x00\x1e\x1e<i>Italic</i> and <b>bold</b> & more\x1e\x1e1 < 2 & 3 > 0\nsecond line\x1e\x1e<font color="red">x</font>' > "$s/srt"
printf '\x01%s\x1e\x1e0,0,Default,,0,0,0,,{\\pos(10,10)}Positioned\x1e\x1e1,0,Loud,,0,0,0,,{\\i1}x{\\i0} y\\Nz{\\p1}m 0 0 l 100 0{\\p0}\\h' \
  "$(sed -n '1,/^\[Events\]/p' "$media/src/fre.ass")" > "$s/ass"
printf '\x01[Script Info]\nScriptType: v4.00\n\n[V4 Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, TertiaryColour, BackColour, Bold, Italic, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, AlphaLevel, Encoding\nStyle: Default,Arial,20,16777215,65535,65535,0,-1,0,1,2,2,2,10,10,10,0,0\n\n[Events]\nFormat: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\x1e\x1e0,0,Default,,0,0,0,,{\\b1}a{\\b0} b' > "$s/ssa"
printf '\x03\x1e\x1e\x00\x05hello\x1e\x1e\x00\x0bstyled text\x00\x00\x00\x12styl\x00\x01\x00\x00\x00\x06\x00\x01\x03\x12\xff\xff\xff\xff\x1e\x1e\x00\x00' > "$s/mov_text"
printf '\x04\x1e\x1e<v Bob>voice</v> &amp; <c.red>cls</c>\x1e\x1eline1\nline2 <b>b</b>' > "$s/webvtt"
printf '\x05\x1e\x1eplain text\nline two\x1e\x1e' > "$s/text"
# names
n="$c/names"; mkdir -p "$n"
i=0; for x in master.m3u8 t0.m3u8 t12_init.mp4 t3_45.m4s t1a_0.m4s t2.vtt t2_7.vtt t0_iframes.m3u8 t0_i3.m4s ../t0.m3u8 t01.m3u8; do i=$((i+1)); printf "%s" "$x" > "$n/name$i"; done
# the C API: call sequences (hls::fuzzing's c_api target decodes them)
a="$c/c_api"; mkdir -p "$a"
printf '\x00\x03\x01\x05\x01\x03\x00\x08\x02\x02\x00\x0a\x00\x06\x00\x0f\x00\x07\x00' > "$a/open_get_close"
printf '\x01\x00\x04\x07\x63\x01\x00\x05\x01\x01\x00\x10\x03\x11\x00' > "$a/bad_policy"
# persisted index files: written by the library itself (Python binding), kept raw when small and
# as [u32 length][serialized part][tables] for the sealing harness (hls::fuzzing::index_file)
x="$c/index_file"; mkdir -p "$x"; tmp=$(mktemp -d)
LIBHLS_LIBRARY="$root/target/release/libhls.so" PYTHONPATH="$root/bindings/python/src" python3 - "$tmp" "$media" "$x" <<'PY'
import glob, os, struct, sys
import libhls
tmp, media, out = sys.argv[1:]
ctx = libhls.Context(index_dir=tmp)
for f in ["h264_aac.mp4", "h264_aac.mkv", "audio_only.mp3", "h264_aac.ts", "subs.mp4"]:
    with ctx.open(os.path.join(media, f)):
        pass
for i, f in enumerate(sorted(glob.glob(os.path.join(tmp, "*.hlsidx")))):
    b = open(f, "rb").read()
    meta_len, tables_at = struct.unpack_from("<Q", b, 24)[0], struct.unpack_from("<Q", b, 32)[0]
    open(os.path.join(out, f"sealed-{i}"), "wb").write(struct.pack("<I", meta_len) + b[64:64 + meta_len] + b[tables_at:])
    if len(b) < 20000:
        open(os.path.join(out, f"raw-{i}"), "wb").write(b)
PY
rm -rf "$tmp"
du -sh "$c"/*
find "$c" -type f -size +63k -print | sed 's/^/TOO BIG: /'
