#!/usr/bin/env bash
# Generate libhls test media from FFmpeg synthetic sources.
#
#   scripts/gen-media.sh [--long] [OUTDIR]
#
# OUTDIR defaults to <repo>/target/media (a relative OUTDIR argument is
# relative to the current directory). Every file is produced only when
# it is missing (the directory is a cache), written under a temporary name
# and renamed into place, so an interrupted run never leaves a half-written
# file behind. Output is deterministic for a given FFmpeg build and thread
# count (bitexact flags, no creation times, fixed seeds).
#
# Options:
#   --long     also generate long_10min.mp4 (720p, 10 min) and long_10min.mkv
#              (its Matroska remux), long_2h.mp4, long_2h.mkv (its Matroska
#              remux), long_2h_subs.mp4 (long_2h.mp4 + two 2-hour mov_text
#              tracks), long_2h_subs.mkv, long_2h_mkvmerge.mkv, long_2h_film.mkv
#   --list     print the names of the files this script can produce and exit
#   -h|--help  show this help
#
# Environment:
#   LIBHLS_MEDIA_THREADS  encoder threads (default 2; changing it changes
#                         the exact bytes x264/x265 produce)
#
# The subtitle sources (SRT/ASS) used for the muxed files are kept in
# OUTDIR/src/ so tests can compare against them. OUTDIR/manifest.txt lists
# every file with its size and a short description.
set -euo pipefail

# Bump when a recipe changes: cached files from other versions are deleted.
RECIPE_VERSION=2

log() { printf 'gen-media: %s\n' "$*" >&2; }
die() { printf 'gen-media: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)

# name -> description (also the list of everything this script can make).
declare -A DESC=(
    [h264_aac.mp4]='30s 640x360@25 H.264 (B-frames, irregular GOPs, scene cut at 13.32s) + AAC stereo 48k eng; faststart'
    [h264_2997.mp4]='20s 640x360@23.976 H.264 (B-frames) + AAC stereo 44.1k eng'
    [hevc_aac.mp4]='20s 640x360@25 HEVC (hvc1, keyint 48) + AAC stereo 48k eng'
    [multi_audio.mp4]='20s H.264 + AAC 2.0 eng "English" (default) + AC-3 5.1 fre "Français 5.1" + E-AC-3 2.0 spa "Español"'
    [multi_audio.mkv]='multi_audio.mp4 streams remuxed to Matroska + SRT eng + ASS fre (src/); all streams +21ms (AAC priming kept at 0), so cues start 1.021s'
    [audio_only.m4a]='20s AAC stereo 48k eng, no video'
    [audio_only.mp3]='20s MP3 (libmp3lame) stereo 44.1k, no video'
    [video_only.mp4]='20s 320x240@25 H.264 (mandelbrot, B-frames), no audio'
    [h264_aac.mkv]='h264_aac.mp4 streams remuxed to Matroska; all streams +21ms (AAC priming kept at 0)'
    [offset_start.mp4]='20s H.264 + AAC, +10s empty edits: video from 10.0s, audio tone from 10.5s (AAC priming frame at 10.479s)'
    [offset_start.mkv]='20s H.264 + AAC + SRT eng shifted +10s: video 10.0s, audio 9.979s (AAC priming), first cue 11.0s'
    [subs.mp4]='20s H.264 + AAC eng + mov_text eng (from src/eng.srt)'
    [subs_only.mkv]='Matroska with only an SRT eng subtitle stream (src/eng.srt)'
    [opus_flac.mkv]='20s H.264 + Opus stereo eng + FLAC stereo ger'
    [dts.mkv]='20s H.264 + DTS 5.1 (native dca encoder) eng'
    [truehd.mkv]='20s H.264 + TrueHD 5.1 (native truehd encoder) eng'
    [pcm.mov]='20s H.264 + PCM s16le stereo 48k eng (QuickTime)'
    [vorbis.mkv]='20s H.264 + Vorbis stereo 48k eng'
    [ac3_51.mp4]='20s H.264 + AC-3 5.1 48k eng'
    [hevc_aac.mkv]='hevc_aac.mp4 streams remuxed to Matroska (open GOPs: CRA keyframes with leading pictures)'
    [no_bframes.mkv]='20s 320x240@25 H.264 without B-frames (GOP 50, min 25) + AAC stereo 48k eng: audio at each keyframe is stored before it'
    [cues_front.mkv]='h264_aac.mp4 remuxed to Matroska with the Cues before the clusters (-reserve_index_space)'
    [mkvmerge_multi.mkv]='multi_audio.mp4 remuxed by mkvmerge: laced AAC, AC-3, E-AC-3 (8 frames per block), Cues for the video'
    [mkvmerge_subs.mkv]='multi_audio.mkv remuxed by mkvmerge: laced audio, SRT and ASS subtitles (walked, not read through Cues)'
    [h264_opengop.mkv]='20s 320x240@25 H.264 with open GOPs (x264 open-gop, bframes 3, keyint 50) + AAC stereo 48k eng'
    [subs_outlast.mkv]='h264_aac.mp4 (30 s) + an SRT of 100 cues every 0.5 s up to 49.9 s, by mkvmerge: subtitles outlast the video'
    [looped_4min.mkv]='h264_aac.mp4 video looped 8x (4 min, copied) + 4 min AAC tone: big enough to see what an open reads'
    [audio_only.mka]='audio_only.m4a remuxed to Matroska (audio-only: a Cue per cluster)'
    [h264_aac.ts]='h264_aac.mp4 streams remuxed to MPEG-TS (Annex-B H.264, ADTS AAC)'
    [hevc_aac.ts]='hevc_aac.mp4 streams remuxed to MPEG-TS (Annex-B HEVC with CRA, ADTS AAC)'
    [no_cues.mkv]='h264_aac.mp4 remuxed to Matroska through a pipe: no Cues, no SeekHead (indexed by packet scan)'
    [long_10min.mp4]='10min 1280x720@25 H.264 (keyint 50) + AAC stereo 48k; --long only'
    [long_10min.mkv]='long_10min.mp4 remuxed to Matroska by FFmpeg (720p frames, no B-frames); --long only'
    [long_2h.mp4]='2h 320x180@25 H.264 + AAC (1-min segment concatenated 120x); --long only'
    [long_2h.mkv]='long_2h.mp4 remuxed to Matroska (Cues at the end); --long only'
    [long_2h_mkvmerge.mkv]='long_2h.mp4 remuxed by mkvmerge (laced AAC, audio at each keyframe stored before it); --long only'
    [long_2h_subs.mkv]='long_2h_subs.mp4 remuxed to Matroska, its two mov_text tracks as SRT; --long only'
    [long_2h_subs.mp4]='long_2h.mp4 + mov_text eng (2399 cues every 3s, src/long_eng.srt) + mov_text fre (1439 cues every 5s, src/long_fre.srt); --long only'
    [empty.mp4]='BAD: zero bytes'
    [text.mp4]='BAD: plain text with an .mp4 name'
    [truncated.mp4]='BAD: first 40% of a moov-at-end copy of h264_aac.mp4 (no moov)'
    [truncated_tail.mp4]='BAD: first 60% of h264_aac.mp4 (moov intact, mdat cut)'
    [corrupt.mp4]='BAD: h264_aac.mp4 with 4 KiB of seeded random bytes in the middle of mdat'
    [no_av.mkv]='BAD: Matroska with only a subtitle stream (copy of subs_only.mkv)'
    [truncated.mkv]='BAD: first 60% of h264_aac.mkv (clusters cut, Cues lost)'
    # --- #14 roles and names ---
    [roles.mkv]='10s 320x240 H.264 + AAC eng (default, no title) + AC-3 5.1 fre (no title) + AAC eng commentary "Director'"'"'s Commentary" + AAC eng audio description (title "eng") + AAC pt-BR (title "Audio 5") + SRT eng SDH (hearing impaired) + SRT fre forced; by mkvmerge'
    # --- end #14 roles and names ---
    # --- #14 fragmented sources, variable frame rate, cover art (h-frag) ---
    [h264_aac_frag.mp4]='h264_aac.mp4 remuxed as fragmented MP4 (empty moov + mvex/trex, a moof per keyframe, default-base-is-moof)'
    [h264_aac_fragdur.mp4]='h264_aac.mp4 remuxed as fragmented MP4 with a moof per track every 0.7 s (separate_moof: fragments cut mid-GOP, audio and video interleaved irregularly; absolute base data offsets; mfra)'
    [h264_aac_sidx.mp4]='h264_aac.mp4 remuxed as fragmented MP4 with a global sidx (frag_keyframe+empty_moov+default_base_moof+global_sidx)'
    [vfr.mp4]='10s 320x240 H.264 (no B-frames, as phones record) at 60 fps for 5 s then 30 fps (variable frame rate, 90 kHz) + AAC stereo 48k'
    [vfr.mkv]='vfr.mp4 remuxed to Matroska (millisecond timestamps)'
    [vfr_bframes.mp4]='vfr.mp4 with B-frames (3): the reorder delay, two frames, is 33 ms at 60 fps and 67 ms at 30 fps'
    [cover.mp3]='audio_only.mp3 + a 64x64 PNG cover (ID3v2.3 APIC: an attached picture)'
    [cover.m4a]='audio_only.m4a + a 64x64 PNG cover (covr: an attached picture)'
    [cover.mkv]='audio_only.m4a AAC in Matroska + a JPEG cover attachment (attached picture) + a TrueType font attachment'
    # --- #14 geometry, colour, VP9, captions (h-geo) ---
    [phone_rotated.mp4]='8s 320x180@25 H.264 + AAC stored landscape, tkhd display matrix rotated 90 deg (a phone recording held upright: shown 180x320)'
    [anamorphic.mp4]='8s 720x576@25 H.264 with SAR 64:45 (pasp + VUI; a PAL 16:9 DVD rip, shown 1024x576) + AAC'
    [anamorphic.mkv]='anamorphic.mp4 remuxed to Matroska (DisplayWidth 1024, DisplayHeight 576)'
    [hdr10.mp4]='6s 320x180@25 HEVC Main 10 HDR10 (BT.2020, PQ, colr; mastering display + MaxCLL 1000/400 in SEI) + AAC'
    [hdr10.mkv]='hdr10.mp4 remuxed to Matroska (Colour element; mastering display only in the SEI)'
    [hlg.mp4]='6s 320x180@25 HEVC Main 10 HLG (BT.2020, ARIB STD-B67, colr) + AAC'
    [vp9_opus.webm]='10s 320x180@25 VP9 (libvpx-vp9, keyint 50) + Opus stereo 48k eng (a WebM download)'
    [captions.mp4]='8s 320x180@25 H.264 (no B-frames) with CEA-608 captions "HELLO" in GA94 SEI of every frame (injected) + AAC'
    [captions.ts]='captions.mp4 remuxed to MPEG-TS (Annex-B, the SEI kept)'
    [anamorphic.ts]='anamorphic.mp4 remuxed to MPEG-TS (the 64:45 SAR only in the SPS VUI)'
    [captions708.mp4]='captions.mp4 with a CEA-708 DTVCC packet (service 1) beside the CEA-608 pair in every SEI'
    [vp9_opus.mp4]='vp9_opus.webm remuxed to MP4 (vp09 entry with its vpcC, Opus)'
    [hdr10_bitstream.mp4]='hdr10.mp4 encoded without container colour: no colr, BT.2020/PQ only in the SPS VUI, HDR10 metadata only in the hvcC/SEI'
    # --- end #14 h-geo ---
    # --- #17 encryption benchmark (h-enc) ---
    [enc_720p.mp4]='12s 1280x720@25 H.264 (keyint 50, ~4 Mb/s) + AAC stereo 48k: the encryption benchmark'\''s 720p segments'
    [enc_1080p.mp4]='12s 1920x1080@25 H.264 (keyint 50, ~8 Mb/s) + AAC stereo 48k: the encryption benchmark'\''s 1080p segments'
    # --- end #17 encryption benchmark ---
    # --- #16 a film's audio on one frame grid ---
    [long_2h_film.mkv]='2h: long_2h.mp4'\''s video + one AAC track encoded in one pass (a film'\''s audio, on one frame grid from start to end; long_2h.mkv'\''s restarts every minute), Matroska by FFmpeg; --long only'
    # --- end #16 a film's audio ---
)
# Generation / manifest order.
ORDER=(
    h264_aac.mp4 h264_2997.mp4 hevc_aac.mp4 multi_audio.mp4 multi_audio.mkv
    audio_only.m4a audio_only.mp3 video_only.mp4 h264_aac.mkv
    offset_start.mp4 offset_start.mkv subs.mp4 subs_only.mkv opus_flac.mkv
    dts.mkv truehd.mkv pcm.mov vorbis.mkv ac3_51.mp4
    hevc_aac.mkv no_bframes.mkv cues_front.mkv no_cues.mkv mkvmerge_multi.mkv mkvmerge_subs.mkv
    h264_opengop.mkv subs_outlast.mkv looped_4min.mkv audio_only.mka h264_aac.ts hevc_aac.ts
    long_10min.mp4 long_2h.mp4 long_2h.mkv long_2h_subs.mp4 long_2h_subs.mkv long_2h_mkvmerge.mkv
    empty.mp4 text.mp4 truncated.mp4 truncated_tail.mp4 corrupt.mp4 no_av.mkv truncated.mkv
    # --- #14 roles and names ---
    roles.mkv
    # --- end #14 roles and names ---
    # --- #14 fragmented sources, variable frame rate, cover art (h-frag) ---
    h264_aac_frag.mp4 h264_aac_fragdur.mp4 h264_aac_sidx.mp4 vfr.mp4 vfr.mkv vfr_bframes.mp4 cover.mp3 cover.m4a
    cover.mkv
    # --- #14 h-geo ---
    phone_rotated.mp4 anamorphic.mp4 anamorphic.mkv hdr10.mp4 hdr10.mkv hlg.mp4 vp9_opus.webm
    captions.mp4 captions.ts anamorphic.ts hdr10_bitstream.mp4 vp9_opus.mp4 captions708.mp4
    # --- end #14 h-geo ---
    # --- #17 encryption benchmark (h-enc) ---
    enc_720p.mp4 enc_1080p.mp4
    # --- end #17 encryption benchmark ---
    # --- #16 a film's audio on one frame grid ---
    long_2h_film.mkv
    # --- end #16 a film's audio ---
    long_10min.mkv
)

# --- arguments --------------------------------------------------------------
LONG=0
OUTDIR=
while (($# > 0)); do
    case $1 in
        --long) LONG=1 ;;
        --list) printf '%s\n' "${ORDER[@]}"; exit 0 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option: $1 (see --help)" ;;
        *) [[ -z $OUTDIR ]] || die "more than one OUTDIR given"; OUTDIR=$1 ;;
    esac
    shift
done
if (($# > 0)); then
    [[ -z $OUTDIR && $# -eq 1 ]] || die "more than one OUTDIR given"
    OUTDIR=$1
fi
OUTDIR=${OUTDIR:-$REPO_ROOT/target/media}

THREADS=${LIBHLS_MEDIA_THREADS:-2}
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "LIBHLS_MEDIA_THREADS must be a positive integer"

for tool in ffmpeg ffprobe python3 flock; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/setup.sh)"
done

mkdir -p -- "$OUTDIR"
OUTDIR=$(cd -- "$OUTDIR" && pwd)
SRC="$OUTDIR/src"

# One generator at a time per OUTDIR (parallel test jobs may all call us).
exec 9>"$OUTDIR/.lock"
flock -w 1800 9 || die "timed out waiting for the lock on $OUTDIR"

# Leftovers of a run that was killed (SIGKILL) while holding the lock.
rm -rf -- "$OUTDIR"/.work.* "$OUTDIR"/.tmp.*
WORK=$(mktemp -d "$OUTDIR/.work.XXXXXX")
CUR_TMP=
cleanup() {
    [[ -z $CUR_TMP ]] || rm -f -- "$CUR_TMP"
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- cache versioning -------------------------------------------------------
stamp="$OUTDIR/.recipe-version"
if [[ -f $stamp && "$(<"$stamp")" != "$RECIPE_VERSION" ]]; then
    log "recipes changed (v$(<"$stamp") -> v$RECIPE_VERSION): discarding cached media"
    for name in "${ORDER[@]}"; do rm -f -- "${OUTDIR:?}/$name"; done
    rm -rf -- "${SRC:?}"
fi
mkdir -p -- "$SRC"
printf '%s\n' "$RECIPE_VERSION" >"$stamp"

# --- helpers ----------------------------------------------------------------
ENCODERS=$(ffmpeg -hide_banner -nostdin -encoders 2>/dev/null || true)
have_encoder() { grep -qE "^ [A-Z.]{6} $1 " <<<"$ENCODERS"; }

ff() { ffmpeg -nostdin -hide_banner -v error -y "$@"; }

# Output options for deterministic files.
BITEXACT=(-map_metadata -1 -map_chapters -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact)
# x264 with threads > 1 is not reproducible unless the threaded lookahead is
# off (observed with x264 164 at 320x240); keep it in every -x264-params.
X264_PARAMS=sync-lookahead=0
# H.264 with B-frames; callers add GOP settings.
X264=(-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -bf 3
    -threads "$THREADS" -x264-params "$X264_PARAMS")

# lavfi audio source: one sine per channel (distinctive per track/channel).
# tones LAYOUT RATE FREQ...
tones() {
    local layout=$1 rate=$2 expr='' f
    shift 2
    for f in "$@"; do expr+="${expr:+|}0.25*sin(2*PI*$f*t)"; done
    printf 'aevalsrc=%s:c=%s:s=%s' "$expr" "$layout" "$rate"
}
STEREO_48K=$(tones stereo 48000 440 660)
SURROUND_48K=$(tones 5.1 48000 300 400 500 60 700 800)

# MP4/MOV: also name the track in its hdlr box (what most tools show).
HDLR_A0=(-metadata:s:a:0 handler_name=English)

# 20 s 320x240 H.264 test video input for the audio-codec files.
SMALL_VIDEO_IN=(-f lavfi -t 20 -i testsrc2=size=320x240:rate=25)
SMALL_VIDEO_ENC=("${X264[@]}" -crf 28 -g 50 -keyint_min 25)

MADE=()
CACHED=()
SKIPPED=()

# produce NAME CMD... : run `CMD... TMPFILE` unless NAME exists, then rename.
# The recipe runs under set -e (not in a condition), so any failure aborts.
produce() {
    local name=$1
    shift
    local out="$OUTDIR/$name" tmp="$OUTDIR/.tmp.$name" t0=$SECONDS
    if [[ -e $out ]]; then
        CACHED+=("$name")
        return 0
    fi
    rm -f -- "$tmp"
    CUR_TMP=$tmp
    "$@" "$tmp"
    [[ -e $tmp ]] || die "$name: recipe wrote no output"
    mv -f -- "$tmp" "$out"
    CUR_TMP=
    MADE+=("$name")
    log "made $name ($(stat -c %s -- "$out") bytes, $((SECONDS - t0))s)"
}

# try_produce NAME CMD... : like produce, but a failing recipe (which must be
# a single command) only skips NAME with a message.
try_produce() {
    local name=$1
    shift
    local out="$OUTDIR/$name" tmp="$OUTDIR/.tmp.$name" t0=$SECONDS
    if [[ -e $out ]]; then
        CACHED+=("$name")
        return 0
    fi
    rm -f -- "$tmp"
    CUR_TMP=$tmp
    if "$@" "$tmp" 2>"$WORK/err" && [[ -s $tmp ]]; then
        mv -f -- "$tmp" "$out"
        MADE+=("$name")
        log "made $name ($(stat -c %s -- "$out") bytes, $((SECONDS - t0))s)"
    else
        rm -f -- "$tmp"
        skip "$name" "recipe failed: $(tr '\n' ' ' <"$WORK/err" | cut -c1-200)"
    fi
    CUR_TMP=
}

skip() {
    SKIPPED+=("$1: $2")
    log "SKIPPED $1: $2"
}

# write_src NAME : stdin -> OUTDIR/src/NAME (atomically, only when missing).
write_src() {
    local out="$SRC/$1"
    if [[ -e $out ]]; then
        cat >/dev/null
        return 0
    fi
    cat >"$out.tmp"
    mv -f -- "$out.tmp" "$out"
}

# --- subtitle sources -------------------------------------------------------
# Cue 2 spans the 6 s boundary; cue 3 carries '&' and '<'.
write_src eng.srt <<'EOF'
1
00:00:01,000 --> 00:00:03,000
Hello, world!

2
00:00:05,000 --> 00:00:07,500
This cue spans the 6 second boundary
<i>and has a second line in italics</i>

3
00:00:09,000 --> 00:00:11,000
Fish & chips < 5 pounds

4
00:00:12,000 --> 00:00:14,000
<b>Bold</b>, <u>underlined</u> and <font color="#ff0000">red</font> café

5
00:00:17,000 --> 00:00:19,500
Last cue
EOF

write_src fre.ass <<'EOF'
[Script Info]
; libhls test subtitles
Title: libhls test (fre)
ScriptType: v4.00+
WrapStyle: 0
PlayResX: 640
PlayResY: 360
ScaledBorderAndShadow: yes

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,DejaVu Sans,22,&H00FFFFFF,&H000000FF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,1,1.5,0.5,2,20,20,16,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:03.00,Default,,0,0,0,,Bonjour {\i1}tout le monde{\i0} !
Dialogue: 0,0:00:05.00,0:00:07.50,Default,,0,0,0,,{\pos(10,10)}Cette réplique chevauche\Nla limite des 6 secondes
Dialogue: 0,0:00:09.00,0:00:11.00,Default,,0,0,0,,Poisson & frites < 5 euros
Dialogue: 0,0:00:12.00,0:00:14.00,Default,,0,0,0,,{\b1}Gras{\b0} et {\i1}italique{\i0}
Dialogue: 0,0:00:17.00,0:00:19.50,Default,,0,0,0,,Dernière réplique
EOF

# --- recipes (last argument: output file) -----------------------------------
rec_h264_aac_mp4() {
    # testsrc2 then a hard cut to testsrc at 13.32 s (frame 333) so x264's
    # scenecut fires too; keyframes also forced at irregular times.
    ff -f lavfi -t 13.32 -i testsrc2=size=640x360:rate=25 \
        -f lavfi -t 16.68 -i testsrc=size=640x360:rate=25 \
        -f lavfi -t 30 -i "$STEREO_48K" \
        -filter_complex '[0:v][1:v]concat=n=2:v=1:a=0[v]' -filter_threads 1 \
        -map '[v]' -map 2:a \
        "${X264[@]}" -crf 26 -x264-params "$X264_PARAMS:keyint=60:min-keyint=10:scenecut=40" \
        -force_key_frames 0,1.5,4,4.2,9,17 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${HDLR_A0[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_h264_2997_mp4() {
    ff -f lavfi -t 20 -i testsrc2=size=640x360:rate=24000/1001 \
        -f lavfi -t 20 -i "$(tones stereo 44100 523.25 783.99)" \
        "${X264[@]}" -crf 26 -r 24000/1001 -g 48 -keyint_min 24 \
        -c:a aac -b:a 128k -ar 44100 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${HDLR_A0[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_hevc_aac_mp4() {
    ff -f lavfi -t 20 -i testsrc2=size=640x360:rate=25 \
        -f lavfi -t 20 -i "$STEREO_48K" \
        -c:v libx265 -preset ultrafast -crf 30 -pix_fmt yuv420p -tag:v hvc1 \
        -x265-params "log-level=error:keyint=48:min-keyint=24:pools=$THREADS:frame-threads=1" \
        -c:a aac -b:a 128k -ar 48000 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${HDLR_A0[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

MULTI_AUDIO_META=(
    -metadata:s:a:0 language=eng -metadata:s:a:0 title=English
    -metadata:s:a:1 language=fre -metadata:s:a:1 'title=Français 5.1'
    -metadata:s:a:2 language=spa -metadata:s:a:2 title=Español
    -disposition:a:0 default -disposition:a:1 0 -disposition:a:2 0
)

rec_multi_audio_mp4() {
    ff -f lavfi -t 20 -i testsrc2=size=640x360:rate=25 \
        -f lavfi -t 20 -i "$STEREO_48K" \
        -f lavfi -t 20 -i "$SURROUND_48K" \
        -f lavfi -t 20 -i "$(tones stereo 48000 1000 1500)" \
        -map 0:v -map 1:a -map 2:a -map 3:a \
        "${X264[@]}" -crf 26 -g 50 -keyint_min 25 \
        -c:a:0 aac -b:a:0 128k -ac:a:0 2 \
        -c:a:1 ac3 -b:a:1 384k -ac:a:1 6 \
        -c:a:2 eac3 -b:a:2 192k -ac:a:2 2 \
        -ar 48000 "${MULTI_AUDIO_META[@]}" \
        -metadata:s:a:0 handler_name=English -metadata:s:a:1 'handler_name=Français 5.1' \
        -metadata:s:a:2 handler_name=Español \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_multi_audio_mkv() {
    ff -i "$OUTDIR/multi_audio.mp4" -i "$SRC/eng.srt" -i "$SRC/fre.ass" \
        -map 0:v -map 0:a -map 1:s -map 2:s -c copy \
        "${MULTI_AUDIO_META[@]}" \
        -metadata:s:s:0 language=eng -metadata:s:s:0 title=English \
        -metadata:s:s:1 language=fre -metadata:s:s:1 title=Français \
        "${BITEXACT[@]}" "$1"
}

rec_audio_only_m4a() {
    ff -f lavfi -t 20 -i "$(tones stereo 48000 880 1320)" \
        -c:a aac -b:a 128k -ar 48000 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${HDLR_A0[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_audio_only_mp3() {
    ff -f lavfi -t 20 -i "$(tones stereo 44100 350 525)" \
        -c:a libmp3lame -b:a 128k -ar 44100 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English \
        -id3v2_version 4 -write_id3v1 0 "${BITEXACT[@]}" "$1"
}

rec_video_only_mp4() {
    ff -f lavfi -t 20 -i mandelbrot=size=320x240:rate=25 \
        "${X264[@]}" -crf 28 -g 50 -keyint_min 25 \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_h264_aac_mkv() {
    ff -i "$OUTDIR/h264_aac.mp4" -map 0:v -map 0:a -c copy \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English \
        "${BITEXACT[@]}" "$1"
}

rec_offset_start_mp4() {
    # Audio input starts 0.5 s after video, and everything is shifted by
    # 10 s (empty edit lists in the mp4).
    ff -f lavfi -t 20 -i testsrc2=size=640x360:rate=25 \
        -itsoffset 0.5 -f lavfi -t 19.5 -i "$(tones stereo 48000 440 660)" \
        "${X264[@]}" -crf 26 -g 50 -keyint_min 25 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${HDLR_A0[@]}" \
        -output_ts_offset 10 -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_offset_start_mkv() {
    ff -f lavfi -t 20 -i testsrc2=size=640x360:rate=25 \
        -f lavfi -t 20 -i "$STEREO_48K" \
        -i "$SRC/eng.srt" \
        -map 0:v -map 1:a -map 2:s \
        "${X264[@]}" -crf 26 -g 50 -keyint_min 25 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 -c:s copy \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English \
        -metadata:s:s:0 language=eng -metadata:s:s:0 title=English \
        -disposition:v:0 default -disposition:a:0 default \
        -output_ts_offset 10 "${BITEXACT[@]}" "$1"
}

rec_subs_mp4() {
    ff -f lavfi -t 20 -i testsrc2=size=640x360:rate=25 \
        -f lavfi -t 20 -i "$STEREO_48K" \
        -i "$SRC/eng.srt" \
        -map 0:v -map 1:a -map 2:s \
        "${X264[@]}" -crf 26 -g 50 -keyint_min 25 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 -c:s mov_text \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English \
        -metadata:s:s:0 language=eng -metadata:s:s:0 title=English \
        "${HDLR_A0[@]}" -metadata:s:s:0 handler_name=English \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_subs_only_mkv() {
    ff -i "$SRC/eng.srt" -map 0:s -c:s copy \
        -metadata:s:s:0 language=eng -metadata:s:s:0 title=English \
        "${BITEXACT[@]}" "$1"
}

rec_opus_flac_mkv() {
    ff "${SMALL_VIDEO_IN[@]}" \
        -f lavfi -t 20 -i "$(tones stereo 48000 330 495)" \
        -f lavfi -t 20 -i "$(tones stereo 48000 600 900)" \
        -map 0:v -map 1:a -map 2:a "${SMALL_VIDEO_ENC[@]}" \
        -c:a:0 libopus -b:a:0 96k -c:a:1 flac -sample_fmt:a:1 s16 -ar 48000 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=Opus \
        -metadata:s:a:1 language=ger -metadata:s:a:1 title=FLAC \
        -disposition:v:0 default -disposition:a:0 default -disposition:a:1 0 \
        "${BITEXACT[@]}" "$1"
}

# av_small ACODEC_ARGS... OUT : small H.264 video + one audio track from
# the 5.1 or stereo source chosen by the caller via AUDIO_SRC.
AUDIO_SRC=
av_small() {
    local out=${*: -1}
    local -a acodec=("${@:1:$#-1}") extra=()
    case $out in *.mp4 | *.mov) extra=("${HDLR_A0[@]}" -movflags +faststart) ;; esac
    ff "${SMALL_VIDEO_IN[@]}" -f lavfi -t 20 -i "$AUDIO_SRC" \
        -map 0:v -map 1:a "${SMALL_VIDEO_ENC[@]}" "${acodec[@]}" \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${extra[@]}" \
        -disposition:v:0 default -disposition:a:0 default \
        "${BITEXACT[@]}" "$out"
}

rec_long_10min_mp4() {
    ff -f lavfi -t 600 -i testsrc2=size=1280x720:rate=25 \
        -f lavfi -t 600 -i "$STEREO_48K" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -threads "$THREADS" \
        -x264-params "$X264_PARAMS" \
        -crf 30 -maxrate 1M -bufsize 2M -g 50 -keyint_min 50 -sc_threshold 0 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${HDLR_A0[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_long_2h_mp4() {
    # 2879488 samples = 2812 AAC frames after priming: the segment's audio
    # ends just before 60 s, so concatenated audio never overlaps (the mp4
    # muxer closes the ~10 ms gap by shortening the last frame's duration).
    local seg="$WORK/seg_1min.mp4" list="$WORK/concat.txt" i
    ff -f lavfi -t 60 -i testsrc2=size=320x180:rate=25 \
        -f lavfi -t 59.98933333 -i "$STEREO_48K" \
        "${X264[@]}" -crf 32 -g 50 -keyint_min 50 -sc_threshold 0 \
        -c:a aac -b:a 64k -ar 48000 -ac 2 "${BITEXACT[@]}" "$seg"
    for ((i = 0; i < 120; i++)); do
        printf "file '%s'\n" "$seg"
    done >"$list"
    ff -f concat -safe 0 -i "$list" -map 0:v -map 0:a -c copy \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${HDLR_A0[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

# long_srt NAME STEP LEN LANG : 2-hour SRT in OUTDIR/src, a cue every STEP s
# lasting LEN s, with some two-line, italic and '&'/'<' cues mixed in.
long_srt() {
    [[ ! -e $SRC/$1 ]] || return 0
    PYTHONIOENCODING=utf-8 python3 - "$2" "$3" "$4" >"$WORK/$1" <<'PY'
import sys
step, length, lang = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
word = {"eng": "Line", "fre": "Réplique"}[lang]
def ts(t):
    ms = int(round(t * 1000))
    return "%02d:%02d:%02d,%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)
i, t = 1, 1.0
while t + length <= 7199.0:
    text = "%s %d at %s" % (word, i, ts(t)[:8])
    if i % 7 == 0:
        text += "\n<i>second line</i>"
    if i % 11 == 0:
        text += " & 1 < 2"
    print("%d\n%s --> %s\n%s\n" % (i, ts(t), ts(t + length), text))
    i, t = i + 1, t + step
PY
    mv -f -- "$WORK/$1" "$SRC/$1"
}

rec_long_2h_subs_mp4() {
    long_srt long_eng.srt 3 2.5 eng
    long_srt long_fre.srt 5 4 fre
    ff -i "$OUTDIR/long_2h.mp4" -i "$SRC/long_eng.srt" -i "$SRC/long_fre.srt" \
        -map 0:v -map 0:a -map 1:s -map 2:s -c:v copy -c:a copy -c:s mov_text \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English "${HDLR_A0[@]}" \
        -metadata:s:s:0 language=eng -metadata:s:s:0 title=English \
        -metadata:s:s:0 handler_name=English \
        -metadata:s:s:1 language=fre -metadata:s:s:1 title=Français \
        -metadata:s:s:1 handler_name=Français \
        -disposition:s:0 0 -disposition:s:1 0 \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_empty() { : >"$1"; }

rec_text() {
    printf '%s\n' 'This is not an MP4 file.' 'It is plain text with an .mp4 extension,' \
        'used to check that libhls rejects non-media input cleanly.' >"$1"
}

# truncate_copy SRC PERCENT OUT
truncate_copy() {
    local size
    size=$(stat -c %s -- "$1")
    head -c "$((size * $2 / 100))" -- "$1" >"$3"
}

rec_moov_at_end() {
    # Same streams as h264_aac.mp4, but moov after mdat (no faststart).
    ff -i "$OUTDIR/h264_aac.mp4" -map 0 -c copy "${BITEXACT[@]}" -f mp4 "$1"
}

rec_truncated() { truncate_copy "$SRC/h264_aac_moov_end.mp4" 40 "$1"; }
rec_truncated_tail() { truncate_copy "$OUTDIR/h264_aac.mp4" 60 "$1"; }

rec_corrupt() {
    python3 - "$OUTDIR/h264_aac.mp4" "$1" <<'PY'
import random, struct, sys
src, dst = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
pos, mdat = 0, None
while pos + 8 <= len(data):
    size, kind = struct.unpack(">I4s", data[pos:pos + 8])
    hdr = 8
    if size == 1:
        size, hdr = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
    elif size == 0:
        size = len(data) - pos
    if size < hdr:
        sys.exit("bad box at %d" % pos)
    if kind == b"mdat":
        mdat = (pos + hdr, pos + size)
        break
    pos += size
if mdat is None:
    sys.exit("no mdat in " + src)
rng = random.Random(20240611)
n = 4096
start = (mdat[0] + mdat[1]) // 2 - n // 2
data[start:start + n] = bytes(rng.getrandbits(8) for _ in range(n))
open(dst, "wb").write(data)
PY
}

rec_copy() { cp -- "$1" "$2"; }

rec_hevc_aac_mkv() {
    ff -i "$OUTDIR/hevc_aac.mp4" -map 0:v -map 0:a -c copy \
        -metadata:s:a:0 language=eng "${BITEXACT[@]}" "$1"
}

rec_no_bframes_mkv() {
    ff "${SMALL_VIDEO_IN[@]}" -f lavfi -t 20 -i "$STEREO_48K" -map 0:v -map 1:a \
        "${X264[@]}" -bf 0 -crf 28 -g 50 -keyint_min 25 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 -metadata:s:a:0 language=eng \
        "${BITEXACT[@]}" "$1"
}

rec_cues_front_mkv() {
    ff -i "$OUTDIR/h264_aac.mp4" -map 0:v -map 0:a -c copy -reserve_index_space 8192 \
        -metadata:s:a:0 language=eng "${BITEXACT[@]}" "$1"
}

rec_no_cues_mkv() {
    ff -i "$OUTDIR/h264_aac.mp4" -map 0:v -map 0:a -c copy \
        -metadata:s:a:0 language=eng "${BITEXACT[@]}" -f matroska pipe:1 >"$1"
}

rec_mkvmerge() {
    mkvmerge -q --deterministic 20240611 -o "$2" "$1"
}

rec_h264_opengop_mkv() {
    ff "${SMALL_VIDEO_IN[@]}" -f lavfi -t 20 -i "$STEREO_48K" -map 0:v -map 1:a \
        -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -bf 3 -threads "$THREADS" \
        -x264-params "$X264_PARAMS:open-gop=1" -crf 28 -g 50 -keyint_min 25 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 -metadata:s:a:0 language=eng "${BITEXACT[@]}" "$1"
}

rec_looped_4min_mkv() {
    ff -stream_loop 7 -i "$OUTDIR/h264_aac.mp4" -f lavfi -t 240 -i "$STEREO_48K" -map 0:v -map 1:a \
        -c:v copy -c:a aac -b:a 96k -ar 48000 -ac 2 -t 240 -metadata:s:a:0 language=eng \
        "${BITEXACT[@]}" -f matroska "$1"
}

rec_mka() {
    ff -i "$OUTDIR/audio_only.m4a" -map 0:a -c copy -metadata:s:a:0 language=eng "${BITEXACT[@]}" -f matroska "$1"
}

rec_subs_outlast_mkv() {
    local i srt="$WORK/dense.srt"
    for ((i = 0; i < 100; i++)); do
        printf '%d\n00:00:%02d,%03d --> 00:00:%02d,%03d\nline %d\n\n' $((i + 1)) \
            $((i / 2)) $((i % 2 * 500)) $((i / 2)) $((i % 2 * 500 + 400)) "$i"
    done >"$srt"
    mkvmerge -q --deterministic 20240611 -o "$1" "$OUTDIR/h264_aac.mp4" --language 0:eng "$srt"
}

rec_ts() {
    ff -i "$1" -map 0:v -map 0:a -c copy -metadata:s:a:0 language=eng "${BITEXACT[@]}" -f mpegts "$2"
}

rec_long_2h_mkv() {
    ff -i "$OUTDIR/long_2h.mp4" -map 0 -c copy "${BITEXACT[@]}" "$1"
}

rec_long_2h_subs_mkv() {
    ff -i "$OUTDIR/long_2h_subs.mp4" -map 0 -c copy -c:s srt "${BITEXACT[@]}" "$1"
}

rec_truncated_mkv() { head -c "$(($(stat -c %s -- "$OUTDIR/h264_aac.mkv") * 6 / 10))" -- "$OUTDIR/h264_aac.mkv" >"$1"; }

# --- #14 roles and names ---
# Audio and subtitle roles as Matroska flags (FlagCommentary, FlagVisualImpaired,
# FlagHearingImpaired, FlagForced) and IETF languages, all written by mkvmerge.
rec_roles_mkv() {
    printf '1\n00:00:01,000 --> 00:00:03,000\n[door creaks] Hello?\n\n2\n00:00:05,000 --> 00:00:07,500\n[music] Who is there?\n\n3\n00:00:08,000 --> 00:00:09,500\nNobody.\n' >"$WORK/roles_sdh.srt"
    printf '1\n00:00:02,000 --> 00:00:04,000\n[Panneau] Rue de la Paix\n\n2\n00:00:07,000 --> 00:00:09,000\n[Lettre] Cher ami\n' >"$WORK/roles_forced.srt"
    ff -f lavfi -t 10 -i testsrc2=size=320x240:rate=25 \
        -f lavfi -t 10 -i "$STEREO_48K" -f lavfi -t 10 -i "$SURROUND_48K" \
        -f lavfi -t 10 -i "$(tones stereo 48000 550 825)" -f lavfi -t 10 -i "$(tones stereo 48000 330 495)" \
        -f lavfi -t 10 -i "$(tones stereo 48000 220 990)" \
        -i "$WORK/roles_sdh.srt" -i "$WORK/roles_forced.srt" \
        -map 0:v -map 1:a -map 2:a -map 3:a -map 4:a -map 5:a -map 6:s -map 7:s \
        "${X264[@]}" -crf 30 -g 50 -keyint_min 25 \
        -c:a aac -b:a 96k -ac 2 -c:a:1 ac3 -b:a:1 384k -ac:a:1 6 -ar 48000 -c:s srt \
        "${BITEXACT[@]}" "$WORK/roles_raw.mkv"
    mkvmerge -q --deterministic 20240611 -o "$1" \
        --language 0:und --default-track-flag 0:1 \
        --language 1:en --default-track-flag 1:1 \
        --language 2:fr --default-track-flag 2:0 \
        --language 3:en --track-name "3:Director's Commentary" --commentary-flag 3:1 --default-track-flag 3:0 \
        --language 4:en --track-name 4:eng --visual-impaired-flag 4:1 --default-track-flag 4:0 \
        --language 5:pt-BR --track-name "5:Audio 5" --default-track-flag 5:0 \
        --language 6:en --hearing-impaired-flag 6:1 --default-track-flag 6:0 \
        --language 7:fr --forced-display-flag 7:1 --default-track-flag 7:0 \
        "$WORK/roles_raw.mkv"
}
# --- end #14 roles and names ---
# --- #14 fragmented sources, variable frame rate, cover art (h-frag) ---
# rec_frag SRC MOVFLAGS [MUXER-OPTIONS...] OUT : SRC's streams remuxed as fragmented MP4.
rec_frag() {
    local src=$1 flags=$2 out=${*: -1}
    local extra=("${@:3:$#-3}")
    ff -i "$src" -map 0:v -map 0:a -c copy -movflags "$flags" "${extra[@]}" "${BITEXACT[@]}" -f mp4 "$out"
}

# 5 s at 60 fps then 5 s at 30 fps: two CFR parts (1/120 s timescale) joined by the concat
# demuxer and encoded once with their own timestamps, so every frame has its real duration in
# the stts. rec_vfr_mp4 BFRAMES ENCODER-TIME-BASE OUT
rec_vfr_mp4() {
    local bframes=$1 enc_tb=$2 out=$3 rate part
    for rate in 60 30; do
        part="$WORK/vfr_$rate.mp4"
        [[ -e $part ]] && continue
        ff -f lavfi -t 5 -i "testsrc2=size=320x240:rate=$rate" "${X264[@]}" -bf 0 -crf 12 \
            -video_track_timescale 120 "${BITEXACT[@]}" "$part"
    done
    printf "file '%s'\nfile '%s'\n" "$WORK/vfr_60.mp4" "$WORK/vfr_30.mp4" >"$WORK/vfr.txt"
    ff -f concat -safe 0 -i "$WORK/vfr.txt" -f lavfi -t 10 -i "$STEREO_48K" -map 0:v -map 1:a \
        -fps_mode vfr -enc_time_base:v "$enc_tb" "${X264[@]}" -bf "$bframes" -crf 28 -g 60 -keyint_min 30 \
        -video_track_timescale 90000 -c:a aac -b:a 96k -ar 48000 -ac 2 "${BITEXACT[@]}" "$out"
}

rec_vfr_mkv() {
    ff -i "$OUTDIR/vfr.mp4" -map 0 -c copy "${BITEXACT[@]}" -f matroska "$1"
}

# cover_image NAME CODEC : a 64x64 still in OUTDIR/src (png or mjpeg).
cover_image() {
    [[ -e $SRC/$1 ]] && return 0
    ff -f lavfi -i testsrc2=size=64x64:rate=1 -frames:v 1 -c:v "$2" "${BITEXACT[@]}" "$WORK/$1"
    mv -f -- "$WORK/$1" "$SRC/$1"
}

rec_cover_mp3() {
    cover_image cover.png png
    ff -i "$OUTDIR/audio_only.mp3" -i "$SRC/cover.png" -map 0:a -map 1:v -c:a copy -c:v png \
        -disposition:v attached_pic -id3v2_version 3 "${BITEXACT[@]}" -f mp3 "$1"
}

rec_cover_m4a() {
    cover_image cover.png png
    ff -i "$OUTDIR/audio_only.m4a" -i "$SRC/cover.png" -map 0:a -map 1:v -c:a copy -c:v png \
        -disposition:v attached_pic "${BITEXACT[@]}" -f ipod "$1"
}

rec_cover_mkv() {
    cover_image cover.jpg mjpeg
    local font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
    [[ -e $font ]] || font=$(find /usr/share/fonts -name '*.ttf' -print -quit 2>/dev/null || true)
    if [[ -z $font ]]; then
        # No font installed (fonts-dejavu-core): an attachment that says it is one will do.
        font="$WORK/font.ttf"
        printf '\0\1\0\0libhls test font' >"$font"
    fi
    ff -i "$OUTDIR/audio_only.m4a" -map 0:a -c copy -metadata:s:a:0 language=eng \
        -attach "$SRC/cover.jpg" -metadata:s:t:0 mimetype=image/jpeg -metadata:s:t:0 filename=cover.jpg \
        -attach "$font" -metadata:s:t:1 mimetype=application/x-truetype-font \
        -metadata:s:t:1 filename=font.ttf "${BITEXACT[@]}" -f matroska "$1"
}

# --- #14 geometry, colour, VP9, captions (h-geo) ---
SHORT_SMALL_IN=(-f lavfi -t 8 -i testsrc2=size=320x180:rate=25 -f lavfi -t 8 -i "$STEREO_48K")
SHORT_AAC=(-c:a aac -b:a 96k -ar 48000 -ac 2 -metadata:s:a:0 language=eng)

# Rewrites the display matrix of the first video track's tkhd: a 90 degree rotation (what a
# phone held upright writes; FFmpeg 5.1's muxer ignores rotate metadata). patch_rotation IN OUT
patch_rotation() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
def boxes(lo, hi):
    pos = lo
    while pos + 8 <= hi:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        hdr = 8
        if size == 1:
            size, hdr = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = hi - pos
        yield kind, pos, pos + hdr, pos + size
        pos += size
def child(lo, hi, name):
    return next(((b, e) for k, _, b, e in boxes(lo, hi) if k == name), None)
moov = child(0, len(data), b"moov")
done = False
for kind, _, b, e in boxes(*moov):
    if kind != b"trak":
        continue
    mdia = child(b, e, b"mdia")
    hdlr = child(*mdia, b"hdlr")
    if data[hdlr[0] + 8:hdlr[0] + 12] != b"vide":
        continue
    tkhd = child(b, e, b"tkhd")
    version = data[tkhd[0]]
    at = tkhd[0] + (52 if version == 1 else 40)
    height = struct.unpack(">I", data[at + 40:at + 44])[0]  # 16.16, before the matrix
    # a b u / c d v / x y w: x' = -y + height, y' = x (shown rotated 90 degrees clockwise)
    data[at:at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, height, 0, 0x40000000)
    done = True
    break
if not done:
    sys.exit("no video tkhd in " + src)
open(dst, "wb").write(data)
PY
}

rec_phone_rotated_mp4() {
    ff "${SHORT_SMALL_IN[@]}" "${X264[@]}" -crf 28 -g 50 -keyint_min 25 "${SHORT_AAC[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$WORK/upright.mp4"
    patch_rotation "$WORK/upright.mp4" "$1"
}

rec_anamorphic_mp4() {
    ff -f lavfi -t 8 -i testsrc2=size=720x576:rate=25 -f lavfi -t 8 -i "$STEREO_48K" \
        -vf setsar=64/45 "${X264[@]}" -crf 32 -g 50 -keyint_min 25 "${SHORT_AAC[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_anamorphic_mkv() {
    ff -i "$OUTDIR/anamorphic.mp4" -map 0:v -map 0:a -c copy -metadata:s:a:0 language=eng \
        "${BITEXACT[@]}" "$1"
}

# rec_hevc_hdr TRANSFER X265_EXTRA OUT: 6 s 10-bit HEVC with BT.2020 colour declared in the
# bitstream (VUI) and the container (colr / Matroska Colour).
rec_hevc_hdr() {
    rec_hevc_hdr_in "$1" "$2" "$3" -color_primaries bt2020 -color_trc "$1" -colorspace bt2020nc -color_range tv
}

# rec_hevc_hdr_in TRANSFER X265_EXTRA OUT CONTAINER_COLOUR_OPTIONS...
rec_hevc_hdr_in() {
    local transfer=$1 extra=$2 out=$3
    shift 3
    ff -f lavfi -t 6 -i testsrc2=size=320x180:rate=25 -f lavfi -t 6 -i "$STEREO_48K" \
        -vf format=yuv420p10le -c:v libx265 -preset ultrafast -crf 30 -tag:v hvc1 "$@" \
        -x265-params "log-level=error:keyint=50:min-keyint=25:pools=$THREADS:frame-threads=1:colorprim=bt2020:transfer=$transfer:colormatrix=bt2020nc$extra" \
        "${SHORT_AAC[@]}" -movflags +faststart "${BITEXACT[@]}" "$out"
}

rec_hdr10_mkv() {
    ff -i "$OUTDIR/hdr10.mp4" -map 0:v -map 0:a -c copy -metadata:s:a:0 language=eng \
        "${BITEXACT[@]}" "$1"
}

rec_vp9_opus_webm() {
    ff -f lavfi -t 10 -i testsrc2=size=320x180:rate=25 -f lavfi -t 10 -i "$STEREO_48K" \
        -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 300k -g 50 -keyint_min 50 -threads 1 \
        -c:a libopus -b:a 64k -ar 48000 -ac 2 -metadata:s:a:0 language=eng \
        "${BITEXACT[@]}" "$1"
}

rec_vp9_mp4() {
    ff -i "$OUTDIR/vp9_opus.webm" -map 0:v -map 0:a -c copy -metadata:s:a:0 language=eng \
        -movflags +faststart "${BITEXACT[@]}" "$1"
}

# Adds a CEA-608 caption ("HELLO", shown from frame 10 to frame 150) as an ATSC A/53 GA94 SEI
# (user_data_registered_itu_t_t35, country 0xB5, provider 0x0031, type 3) to every access unit
# of an Annex-B H.264 stream written with AUDs; with a third argument `708`, each SEI also
# carries a CEA-708 DTVCC packet (service 1, one space character). inject_cc IN OUT [708]
inject_cc() {
    python3 - "$@" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
dtvcc = sys.argv[3:] == ["708"]
data = open(src, "rb").read()
def odd(b):
    return b | (0 if bin(b).count("1") % 2 else 0x80)
def pair(a, b):
    return (odd(a), odd(b))
text = "HELLO "
script = {10: (0x14, 0x20), 11: (0x14, 0x20)}  # RCL, doubled
for i in range(0, len(text), 2):
    script[12 + i // 2] = (ord(text[i]), ord(text[i + 1]))
script[20], script[21] = (0x14, 0x2F), (0x14, 0x2F)  # EOC: show
script[150], script[151] = (0x14, 0x2C), (0x14, 0x2C)  # EDM: clear
def sei(frame):
    a, b = pair(*script.get(frame, (0, 0)))
    cc = bytes([0xFC, a, b])  # marker bits, cc_valid, cc_type 0 (608 field 1)
    if dtvcc:
        # DTVCC packet start (cc_type 3): sequence 0, size code 1; service 1, block size 1; then
        # cc_type 2: a space and padding.
        cc += bytes([0xFF, 0x01, 0x21, 0xFE, 0x20, 0x00])
    payload = bytes([0xB5, 0x00, 0x31]) + b"GA94" + bytes([0x03, 0x40 | len(cc) // 3, 0xFF]) + cc + bytes([0xFF])
    rbsp = bytes([4, len(payload)]) + payload + bytes([0x80])
    out, zeros = bytearray([0x06]), 0
    for x in rbsp:
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return b"\x00\x00\x00\x01" + bytes(out)
starts = []
i = 0
while True:
    i = data.find(b"\x00\x00\x01", i)
    if i < 0:
        break
    starts.append(i)
    i += 3
out, frame = bytearray(), 0
for k, s in enumerate(starts):
    end = starts[k + 1] if k + 1 < len(starts) else len(data)
    while end > s and data[end - 1] == 0 and k + 1 < len(starts):
        end -= 1
    nal = data[s:end]
    out += b"\x00" + nal if not nal.startswith(b"\x00\x00\x00\x01") else nal
    if nal[3] & 0x1F == 9:  # access unit delimiter: the SEI follows it
        out += sei(frame)
        frame += 1
if frame == 0:
    sys.exit("no access unit delimiters in " + src)
open(dst, "wb").write(out)
PY
}

# rec_captions_mp4 OUT [708]
rec_captions_mp4() {
    ff -f lavfi -t 8 -i testsrc2=size=320x180:rate=25 -c:v libx264 -preset veryfast -profile:v high \
        -pix_fmt yuv420p -bf 0 -threads "$THREADS" -x264-params "$X264_PARAMS:aud=1" -crf 28 -g 50 \
        -keyint_min 25 -bsf:v h264_mp4toannexb -f h264 "$WORK/plain.h264"
    inject_cc "$WORK/plain.h264" "$WORK/cc.h264" "${@:2}"
    ff -framerate 25 -i "$WORK/cc.h264" -f lavfi -t 8 -i "$STEREO_48K" -map 0:v -map 1:a -c:v copy \
        "${SHORT_AAC[@]}" -movflags +faststart "${BITEXACT[@]}" "$1"
}

rec_captions708_mp4() { rec_captions_mp4 "$1" 708; }
# --- end #14 h-geo ---

# --- generate ---------------------------------------------------------------
T_START=$SECONDS

produce h264_aac.mp4 rec_h264_aac_mp4
produce h264_2997.mp4 rec_h264_2997_mp4
produce hevc_aac.mp4 rec_hevc_aac_mp4
produce multi_audio.mp4 rec_multi_audio_mp4
produce multi_audio.mkv rec_multi_audio_mkv
produce audio_only.m4a rec_audio_only_m4a
if have_encoder libmp3lame; then
    produce audio_only.mp3 rec_audio_only_mp3
else
    skip audio_only.mp3 "ffmpeg has no libmp3lame encoder"
fi
produce video_only.mp4 rec_video_only_mp4
produce h264_aac.mkv rec_h264_aac_mkv
produce offset_start.mp4 rec_offset_start_mp4
produce offset_start.mkv rec_offset_start_mkv
produce subs.mp4 rec_subs_mp4
produce subs_only.mkv rec_subs_only_mkv
produce opus_flac.mkv rec_opus_flac_mkv

AUDIO_SRC=$SURROUND_48K
try_produce dts.mkv av_small -c:a dca -strict -2 -b:a 768k -ar 48000
try_produce truehd.mkv av_small -c:a truehd -strict -2 -ar 48000
AUDIO_SRC=$STEREO_48K
produce pcm.mov av_small -c:a pcm_s16le -ar 48000 -ac 2
if have_encoder libvorbis; then
    produce vorbis.mkv av_small -c:a libvorbis -q:a 4 -ar 48000 -ac 2
else
    try_produce vorbis.mkv av_small -c:a vorbis -strict -2 -ar 48000 -ac 2
fi
AUDIO_SRC=$SURROUND_48K
produce ac3_51.mp4 av_small -c:a ac3 -b:a 448k -ar 48000 -ac 6

produce hevc_aac.mkv rec_hevc_aac_mkv
produce no_bframes.mkv rec_no_bframes_mkv
produce cues_front.mkv rec_cues_front_mkv
produce no_cues.mkv rec_no_cues_mkv
if command -v mkvmerge >/dev/null 2>&1; then
    produce mkvmerge_multi.mkv rec_mkvmerge "$OUTDIR/multi_audio.mp4"
    produce mkvmerge_subs.mkv rec_mkvmerge "$OUTDIR/multi_audio.mkv"
    produce subs_outlast.mkv rec_subs_outlast_mkv
else
    skip mkvmerge_multi.mkv "mkvmerge (mkvtoolnix) is not installed"
    skip mkvmerge_subs.mkv "mkvmerge (mkvtoolnix) is not installed"
    skip subs_outlast.mkv "mkvmerge (mkvtoolnix) is not installed"
fi
produce h264_opengop.mkv rec_h264_opengop_mkv
produce looped_4min.mkv rec_looped_4min_mkv
produce audio_only.mka rec_mka
produce h264_aac.ts rec_ts "$OUTDIR/h264_aac.mp4"
produce hevc_aac.ts rec_ts "$OUTDIR/hevc_aac.mp4"

if ((LONG)); then
    produce long_10min.mp4 rec_long_10min_mp4
    produce long_2h.mp4 rec_long_2h_mp4
    produce long_2h.mkv rec_long_2h_mkv
    produce long_2h_subs.mp4 rec_long_2h_subs_mp4
    produce long_2h_subs.mkv rec_long_2h_subs_mkv
    if command -v mkvmerge >/dev/null 2>&1; then
        produce long_2h_mkvmerge.mkv rec_mkvmerge "$OUTDIR/long_2h.mp4"
    else
        skip long_2h_mkvmerge.mkv "mkvmerge (mkvtoolnix) is not installed"
    fi
fi

# Bad inputs.
produce empty.mp4 rec_empty
produce text.mp4 rec_text
if [[ ! -e $SRC/h264_aac_moov_end.mp4 ]]; then
    rec_moov_at_end "$WORK/moov_end.mp4"
    mv -f -- "$WORK/moov_end.mp4" "$SRC/h264_aac_moov_end.mp4"
fi
produce truncated.mp4 rec_truncated
produce truncated_tail.mp4 rec_truncated_tail
produce corrupt.mp4 rec_corrupt
produce no_av.mkv rec_copy "$OUTDIR/subs_only.mkv"
produce truncated.mkv rec_truncated_mkv
# --- #14 roles and names ---
if command -v mkvmerge >/dev/null 2>&1; then
    produce roles.mkv rec_roles_mkv
else
    skip roles.mkv "mkvmerge (mkvtoolnix) is not installed"
fi
# --- end #14 roles and names ---

# --- #14 fragmented sources, variable frame rate, cover art (h-frag) ---
produce h264_aac_frag.mp4 rec_frag "$OUTDIR/h264_aac.mp4" frag_keyframe+empty_moov+default_base_moof
produce h264_aac_fragdur.mp4 rec_frag "$OUTDIR/h264_aac.mp4" empty_moov+separate_moof -frag_duration 700000
produce h264_aac_sidx.mp4 rec_frag "$OUTDIR/h264_aac.mp4" frag_keyframe+empty_moov+default_base_moof+global_sidx
produce vfr.mp4 rec_vfr_mp4 0 1/120
produce vfr.mkv rec_vfr_mkv
produce vfr_bframes.mp4 rec_vfr_mp4 3 1/60
if have_encoder libmp3lame; then
    produce cover.mp3 rec_cover_mp3
else
    skip cover.mp3 "ffmpeg has no libmp3lame encoder"
fi
produce cover.m4a rec_cover_m4a
produce cover.mkv rec_cover_mkv

# --- #14 h-geo ---
produce phone_rotated.mp4 rec_phone_rotated_mp4
produce anamorphic.mp4 rec_anamorphic_mp4
produce anamorphic.mkv rec_anamorphic_mkv
produce hdr10.mp4 rec_hevc_hdr smpte2084 \
    ":hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400"
produce hdr10.mkv rec_hdr10_mkv
produce hlg.mp4 rec_hevc_hdr arib-std-b67 ""
produce vp9_opus.webm rec_vp9_opus_webm
produce captions.mp4 rec_captions_mp4
produce captions.ts rec_ts "$OUTDIR/captions.mp4"
produce anamorphic.ts rec_ts "$OUTDIR/anamorphic.mp4"
produce hdr10_bitstream.mp4 rec_hevc_hdr_in smpte2084 \
    ":hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400"
produce vp9_opus.mp4 rec_vp9_mp4
produce captions708.mp4 rec_captions708_mp4
# --- end #14 h-geo ---

# --- #17 encryption benchmark (h-enc) ---
rec_enc_bench() { # <size> <bitrate> <out>
    ff -f lavfi -t 12 -i "testsrc2=size=$1:rate=25" \
        -f lavfi -t 12 -i "$STEREO_48K" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -threads "$THREADS" \
        -x264-params "$X264_PARAMS" \
        -b:v "$2" -maxrate "$2" -bufsize "$2" -g 50 -keyint_min 50 -sc_threshold 0 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 \
        -metadata:s:a:0 language=eng "${HDLR_A0[@]}" \
        -movflags +faststart "${BITEXACT[@]}" "$3"
}
produce enc_720p.mp4 rec_enc_bench 1280x720 4M
produce enc_1080p.mp4 rec_enc_bench 1920x1080 8M
# --- end #17 encryption benchmark ---

# --- #16 a film's audio on one frame grid ---
# long_2h.mp4 is one minute repeated: its AAC starts again every minute after a
# 512-sample frame. A film's audio is encoded in one pass: this one keeps the
# 2-hour video and encodes its audio once, so Matroska opens can be measured on
# a 2-hour file whose audio lies on one frame grid from start to end.
rec_long_2h_film_mkv() {
    ff -i "$OUTDIR/long_2h.mp4" -f lavfi -t 7200 -i "$STEREO_48K" \
        -map 0:v -map 1:a -c:v copy -c:a aac -b:a 64k -ar 48000 -ac 2 \
        -metadata:s:a:0 language=eng -metadata:s:a:0 title=English -shortest \
        "${BITEXACT[@]}" "$1"
}
if ((LONG)); then
    produce long_2h_film.mkv rec_long_2h_film_mkv
fi
# --- end #16 a film's audio ---

# The 2-hour Matroska files are 320x180: a whole GOP fits one boundary probe's window. A film's
# frames are tens of KB; this one is long_10min.mp4 (720p, no B-frames) remuxed by FFmpeg, so
# that Matroska opens are measured on the frame sizes films have.
rec_remux_mkv() {
    ff -i "$1" -map 0 -c copy "${BITEXACT[@]}" "$2"
}
if ((LONG)); then
    produce long_10min.mkv rec_remux_mkv "$OUTDIR/long_10min.mp4"
fi

# --- manifest ---------------------------------------------------------------
{
    printf '# libhls test media, recipe v%s, generated by scripts/gen-media.sh\n' "$RECIPE_VERSION"
    printf '# name\tbytes\tdescription\n'
    for name in "${ORDER[@]}"; do
        [[ -e $OUTDIR/$name ]] || continue
        printf '%s\t%s\t%s\n' "$name" "$(stat -c %s -- "$OUTDIR/$name")" "${DESC[$name]}"
    done
    printf '# src/eng.srt\tSRT source of every SRT/mov_text track (cue 5.0-7.5s spans 6s; "&" and "<" at 9s)\n'
    printf '# src/fre.ass\tASS source of multi_audio.mkv track 5 (italics, \\N, \\pos, same cue times)\n'
    printf '# src/h264_aac_moov_end.mp4\th264_aac.mp4 remuxed with moov after mdat (source of truncated.mp4)\n'
    printf '# src/long_eng.srt, src/long_fre.srt\tSRT sources of long_2h_subs.mp4 (--long)\n'
    for s in "${SKIPPED[@]}"; do
        printf '# skipped %s\n' "$s"
    done
} >"$WORK/manifest.txt"
mv -f -- "$WORK/manifest.txt" "$OUTDIR/manifest.txt"

printf 'gen-media: %d made, %d cached, %d skipped in %ds -> %s%s\n' \
    "${#MADE[@]}" "${#CACHED[@]}" "${#SKIPPED[@]}" "$((SECONDS - T_START))" "$OUTDIR" \
    "$( ((LONG)) || echo ' (without --long)')"
