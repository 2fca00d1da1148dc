//! End-to-end checks: real streams made by the `ffmpeg` CLI are repackaged with this module and
//! read back by FFmpeg. Each test returns early (passing) when `ffmpeg`/`ffprobe` are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::codec::{self, Codec, CodecConfig};
use crate::model::time;

use super::test_util::{find, parse_boxes};
use super::{write_init, write_media_segment, SampleMeta, TrackInit, TrackKind};

fn have_ffmpeg() -> bool {
    static HAVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAVE.get_or_init(|| {
        ["ffmpeg", "ffprobe"]
            .iter()
            .all(|tool| Command::new(tool).arg("-version").output().is_ok_and(|o| o.status.success()))
    })
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("libhls-fmp4-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command; returns (success, stdout, stderr).
fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes a source file with `ffmpeg -v error -y <args> <dir/name>`.
fn make_source(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut all = vec!["-v", "error", "-y"];
    all.extend_from_slice(args);
    all.push(path.to_str().unwrap());
    let (ok, _, err) = run("ffmpeg", &all);
    assert!(ok, "ffmpeg failed making {name}: {err}");
    path
}

#[derive(Default)]
struct Packet {
    pts: Option<i64>,
    dts: Option<i64>,
    duration: Option<i64>,
    key: bool,
    data: Vec<u8>,
}

#[derive(Default)]
struct Probe {
    extradata: Vec<u8>,
    time_base: (i64, i64),
    width: u32,
    height: u32,
    sample_rate: u32,
    channels: u32,
    packets: Vec<Packet>,
}

/// Decodes one line of ffprobe's hex dump (`00000010: 0003 0002 ...  ascii`).
fn hexdump_line(line: &str) -> Option<Vec<u8>> {
    let b = line.as_bytes();
    if b.len() < 12 || b[8] != b':' || !b[..8].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let area: String = line[10..line.len().min(49)].chars().filter(|c| !c.is_whitespace()).collect();
    Some((0..area.len() / 2).map(|i| u8::from_str_radix(&area[2 * i..2 * i + 2], 16).unwrap()).collect())
}

fn num<T: std::str::FromStr>(v: &str) -> Option<T> {
    v.parse().ok()
}

/// Streams, packets and their data of stream 0, as FFmpeg demuxes them.
fn probe(path: &Path) -> Probe {
    let (ok, out, err) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "0",
            "-show_streams",
            "-show_packets",
            "-show_data",
            path.to_str().unwrap(),
        ],
    );
    assert!(ok, "ffprobe failed: {err}");
    let mut p = Probe::default();
    let mut target: Option<&str> = None;
    for line in out.lines() {
        if let (Some(t), Some(bytes)) = (target, hexdump_line(line)) {
            let buf = if t == "data" { &mut p.packets.last_mut().unwrap().data } else { &mut p.extradata };
            buf.extend_from_slice(&bytes);
            continue;
        }
        target = None;
        if line == "[PACKET]" {
            p.packets.push(Packet::default());
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let pkt = p.packets.last_mut();
        match (key, pkt) {
            ("data", _) => target = Some("data"),
            ("extradata", _) => target = Some("extradata"),
            ("pts", Some(k)) => k.pts = num(value),
            ("dts", Some(k)) => k.dts = num(value),
            ("duration", Some(k)) => k.duration = num(value),
            ("flags", Some(k)) => k.key = value.starts_with('K'),
            ("time_base", _) => {
                let (n, d) = value.split_once('/').unwrap();
                p.time_base = (n.parse().unwrap(), d.parse().unwrap());
            }
            ("width", _) => p.width = num(value).unwrap_or(0),
            ("height", _) => p.height = num(value).unwrap_or(0),
            ("sample_rate", _) => p.sample_rate = num(value).unwrap_or(0),
            ("channels", _) => p.channels = num(value).unwrap_or(0),
            _ => {}
        }
    }
    assert!(!p.packets.is_empty(), "no packets in {}", path.display());
    p
}

/// One packet as expected back: (pts, dts, duration, size, key), in the output timescale.
type Expected = (i64, i64, i64, usize, bool);

/// A repackaged stream: the init, two media segments and the packets they must yield.
struct Packaged {
    init: Vec<u8>,
    segments: Vec<Vec<u8>>,
    expected: Vec<Expected>,
}

/// Repackages `p` as init + 2 segments, splitting at a key packet after a third of them.
fn package(
    p: &Probe,
    cfg: &CodecConfig,
    kind: TrackKind,
    timescale: u32,
    convert: &dyn Fn(&[u8]) -> Vec<u8>,
) -> Packaged {
    let rescale = |t: i64| time::rescale(t, i64::from(timescale) * p.time_base.0, p.time_base.1);
    let times: Vec<(i64, i64)> = p
        .packets
        .iter()
        .map(|k| {
            let dts = k.dts.or(k.pts).unwrap();
            (rescale(k.pts.unwrap_or(dts)), rescale(dts))
        })
        .collect();
    let dts0 = times[0].1;
    let mut expected = Vec::new();
    let mut metas = Vec::new();
    let mut datas = Vec::new();
    for (i, k) in p.packets.iter().enumerate() {
        let (pts, dts) = times[i];
        let duration = match k.duration.filter(|&d| d > 0) {
            Some(d) => rescale(d),
            None => times.get(i + 1).map_or(expected.last().map_or(1, |e: &Expected| e.2), |n| n.1 - dts),
        };
        let data = convert(&k.data);
        let sync = kind == TrackKind::Audio || k.key;
        metas.push(SampleMeta {
            size: data.len() as u32,
            duration: duration as u32,
            composition_offset: (pts - dts) as i32,
            sync,
        });
        expected.push((pts - dts0, dts - dts0, duration, data.len(), sync));
        datas.push(data);
    }
    let split = (metas.len() / 3..metas.len()).find(|&i| metas[i].sync).unwrap();
    assert!(split > 0);
    let t = TrackInit {
        track_id: 1,
        kind,
        timescale,
        language: *b"und",
        codec: cfg,
        media_time: 0,
        edit_ignored_by_mse: false,
    };
    let init = write_init(&t).unwrap();
    let segments = [(0, split), (split, metas.len())]
        .iter()
        .enumerate()
        .map(|(n, &(a, b))| {
            let payload = datas[a..b].concat();
            write_media_segment(n as u32 + 1, 1, expected[a].1 as u64, &metas[a..b], &payload).unwrap()
        })
        .collect();
    Packaged { init, segments, expected }
}

/// Checks what FFmpeg makes of the packaged stream, as one file and as an HLS playlist.
fn verify(dir: &Path, out: &Packaged) {
    for seg in &out.segments {
        let boxes = parse_boxes(seg);
        let data_offset = find(&boxes, "moof/traf/trun").u32_at(8) as usize;
        assert_eq!(data_offset, find(&boxes, "moof").size as usize + 8);
    }
    let file = dir.join("out.mp4");
    std::fs::write(&file, [out.init.clone(), out.segments.concat()].concat()).unwrap();
    // -count_frames decodes every frame: decoder complaints land in stderr.
    let entries = "packet=pts,dts,duration,size,flags:stream=nb_read_frames";
    let (ok, stdout, err) = run(
        "ffprobe",
        &["-v", "error", "-count_frames", "-show_entries", entries, "-of", "csv=p=0", file.to_str().unwrap()],
    );
    assert!(ok && err.is_empty(), "ffprobe errors: {err}");
    let lines: Vec<&str> = stdout.lines().map(|l| l.trim_end_matches(',')).collect();
    let got: Vec<String> = lines.iter().filter(|l| l.matches(',').count() == 4).map(|l| l.to_string()).collect();
    let frames =
        lines.iter().find(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())).copied().unwrap_or_default();
    // FFmpeg's mov demuxer reports no duration for samples of a fragment it has not read
    // past yet (its own fragmented output shows the same), so durations compare when given.
    let want: Vec<String> = out
        .expected
        .iter()
        .zip(&got)
        .map(|(e, g)| {
            let duration = if g.split(',').nth(2) == Some("N/A") { "N/A".to_string() } else { e.2.to_string() };
            format!("{},{},{duration},{},{}", e.0, e.1, e.3, if e.4 { "K_" } else { "__" })
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(frames, out.expected.len().to_string());
    verify_hls(dir, out);
}

/// Writes init.mp4, seg1.m4s, seg2.m4s and a VOD playlist, and decodes it through FFmpeg's
/// HLS demuxer.
fn verify_hls(dir: &Path, out: &Packaged) {
    std::fs::write(dir.join("init.mp4"), &out.init).unwrap();
    let mut m3u8 = String::from(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n",
    );
    for (i, seg) in out.segments.iter().enumerate() {
        std::fs::write(dir.join(format!("seg{i}.m4s")), seg).unwrap();
        m3u8.push_str(&format!("#EXTINF:1.0,\nseg{i}.m4s\n"));
    }
    m3u8.push_str("#EXT-X-ENDLIST\n");
    let playlist = dir.join("index.m3u8");
    std::fs::write(&playlist, m3u8).unwrap();
    let args = [
        "-v",
        "error",
        "-count_frames",
        "-select_streams",
        "0",
        "-show_entries",
        "stream=nb_read_frames",
        "-of",
        "default=nw=1:nk=1",
    ];
    let (ok, frames, err) = run("ffprobe", &[&args[..], &[playlist.to_str().unwrap()]].concat());
    assert!(ok && err.is_empty(), "HLS playback errors: {err}");
    assert_eq!(frames.lines().next().map(str::trim), Some(out.expected.len().to_string().as_str()));
}

fn config_from(p: &Probe, codec: Codec) -> CodecConfig {
    CodecConfig {
        codec,
        extradata: p.extradata.clone(),
        first_packet: p.packets[0].data.clone(),
        width: p.width,
        height: p.height,
        sample_rate: p.sample_rate,
        channels: p.channels,
        bits_per_sample: 0,
        picture: Default::default(),
        frame_rate: 0.0,
        bit_rate: 0,
    }
}

/// Makes a source, repackages its first stream and checks the result with FFmpeg.
fn round_trip(name: &str, file: &str, args: &[&str], codec: Codec, convert: &dyn Fn(&[u8]) -> Vec<u8>) -> CodecConfig {
    let dir = TempDir::new(name);
    let src = make_source(&dir.0, file, args);
    let p = probe(&src);
    let cfg = config_from(&p, codec);
    let (kind, timescale) = match codec {
        Codec::H264 | Codec::Hevc | Codec::Av1 | Codec::Vp9 => (TrackKind::Video, 90000),
        _ => (TrackKind::Audio, p.sample_rate),
    };
    let out = package(&p, &cfg, kind, timescale, convert);
    verify(&dir.0, &out);
    cfg
}

const VIDEO_SRC: [&str; 6] = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "1"];
const AUDIO_SRC: [&str; 6] = ["-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "1"];

fn args(src: &[&'static str], rest: &[&'static str]) -> Vec<&'static str> {
    [src, rest].concat()
}

#[test]
fn h264_from_mpegts_annexb() {
    if !have_ffmpeg() {
        return;
    }
    let a = args(
        &VIDEO_SRC,
        &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "2", "-g", "12", "-sc_threshold", "0", "-f", "mpegts"],
    );
    let cfg = round_trip("h264", "v.ts", &a, Codec::H264, &|d| {
        assert!(codec::is_annexb(d));
        codec::annexb_to_length_prefixed(d)
    });
    assert!(codec::is_annexb(&cfg.extradata));
    assert_eq!(codec::codec_string(&cfg).unwrap(), "avc1.64000b");
}

#[test]
fn hevc_from_mpegts_annexb() {
    if !have_ffmpeg() {
        return;
    }
    let x265 = "log-level=error:keyint=12:min-keyint=12:scenecut=0:bframes=2";
    let a = args(&VIDEO_SRC, &["-c:v", "libx265", "-pix_fmt", "yuv420p", "-x265-params", x265, "-f", "mpegts"]);
    let cfg = round_trip("hevc", "v.ts", &a, Codec::Hevc, &|d| codec::annexb_to_length_prefixed(d));
    assert!(codec::codec_string(&cfg).unwrap().starts_with("hvc1.1.6.L"));
}

#[test]
fn av1_from_mp4() {
    if !have_ffmpeg() {
        return;
    }
    let a = args(
        &VIDEO_SRC,
        &[
            "-c:v",
            "libsvtav1",
            "-preset",
            "12",
            "-svtav1-params",
            "verbosity=0",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "12",
            "-f",
            "mp4",
        ],
    );
    let cfg = round_trip("av1", "v.mp4", &a, Codec::Av1, &|d| d.to_vec());
    assert_eq!(codec::codec_string(&cfg).unwrap(), "av01.0.00M.08");
    // The sequence header OBU in the first packet yields the same av1C fields (SVT-AV1's
    // in-band header differs from its global one in later bits, so the OBUs differ).
    let raw = CodecConfig { extradata: Vec::new(), ..cfg.clone() };
    let rebuilt = codec::decoder_config_record(&raw).unwrap();
    assert_eq!(rebuilt[..4], cfg.extradata[..4]);
    assert_eq!(rebuilt[4], 0x0A);
    assert_eq!(codec::codec_string(&raw).unwrap(), "av01.0.00M.08");
}

#[test]
fn aac_from_adts() {
    if !have_ffmpeg() {
        return;
    }
    let a = args(&AUDIO_SRC, &["-ac", "2", "-c:a", "aac", "-f", "adts"]);
    let cfg = round_trip("aac", "a.aac", &a, Codec::Aac, &|d| d[codec::adts_header_len(d).unwrap()..].to_vec());
    assert!(cfg.extradata.is_empty());
    assert_eq!(codec::codec_string(&cfg).unwrap(), "mp4a.40.2");
}

#[test]
fn ac3_5_1_from_raw() {
    if !have_ffmpeg() {
        return;
    }
    let a = args(&AUDIO_SRC, &["-ac", "6", "-c:a", "ac3", "-f", "ac3"]);
    let cfg = round_trip("ac3", "a.ac3", &a, Codec::Ac3, &|d| d.to_vec());
    assert_eq!(codec::dac3_payload(&cfg.first_packet).unwrap(), [0x10, 0x3d, 0xe0]);
}

#[test]
fn eac3_from_raw() {
    if !have_ffmpeg() {
        return;
    }
    let a = args(&AUDIO_SRC, &["-ac", "6", "-c:a", "eac3", "-f", "eac3"]);
    round_trip("eac3", "a.eac3", &a, Codec::Eac3, &|d| d.to_vec());
}

#[test]
fn opus_from_ogg() {
    if !have_ffmpeg() {
        return;
    }
    let a = args(&AUDIO_SRC, &["-ac", "2", "-c:a", "libopus", "-f", "ogg"]);
    round_trip("opus", "a.ogg", &a, Codec::Opus, &|d| d.to_vec());
}

#[test]
fn flac_from_raw() {
    if !have_ffmpeg() {
        return;
    }
    let a = args(&AUDIO_SRC, &["-ac", "2", "-c:a", "flac", "-f", "flac"]);
    round_trip("flac", "a.flac", &a, Codec::Flac, &|d| d.to_vec());
}

#[test]
fn mp3_from_raw() {
    if !have_ffmpeg() {
        return;
    }
    let a = args(&AUDIO_SRC, &["-ac", "2", "-c:a", "libmp3lame", "-f", "mp3"]);
    round_trip("mp3", "a.mp3", &a, Codec::Mp3, &|d| d.to_vec());
}
