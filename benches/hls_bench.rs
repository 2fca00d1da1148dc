//! libhls benchmarks: prints tables comparing libhls with FFmpeg tools on the same files in one
//! run (ratios, not absolute times, are what to read on a noisy machine).
//!
//! Run: `cargo bench --bench hls_bench` (needs `scripts/gen-media.sh --long`). Sections can be
//! picked with `BENCH=open,mkv,segments,cache,subs,transcode,cold` (`cold` is not in the default
//! set: `BENCH=cold cargo bench --bench hls_bench`; `COLD_RUNS=n` fresh processes per file,
//! `COLD_FILES=a.mp4,b.mkv` other files of `target/media` than the 2-hour and 10-minute ones).
//! `BENCH=thumbs` (not in the default set either): first thumbnail sprite sheet latency and the
//! cost of one thumbnail JPEG, beside FFmpeg making the same sheet.
//! `BENCH=pidx` (not in the default set either): open of the 2-hour files in a fresh process
//! each time, indexed from the media vs read from a persisted index (`PIDX_RUNS=n`).
//! `BENCH=encryption`: the cost of AES-128 and SAMPLE-AES (cbcs) per segment beside the clear
//! segment, 720p and 1080p (`enc_720p.mp4`, `enc_1080p.mp4`; not in the default set).
//! `BENCH=clip`: the open of a clipped presentation beside the whole file's (not in the default
//! set either).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hls::{Config, Context};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn media(name: &str) -> PathBuf {
    root().join("target/media").join(name)
}

fn bench_dir() -> PathBuf {
    let d = root().join("target/bench");
    std::fs::create_dir_all(&d).expect("target/bench");
    d
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn run_cmd(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let st = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("spawn");
    assert!(st.success(), "command failed: {cmd:?}");
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Every name a presentation serves, from its playlists.
fn all_names(ctx: &Context, m: &hls::engine::Media) -> Vec<String> {
    let mut names = Vec::new();
    let (master, _) = ctx.get(m, "master.m3u8").expect("master");
    let master = String::from_utf8_lossy(&master).to_string();
    let mut playlists: Vec<String> =
        master.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(String::from).collect();
    for l in master.lines().filter(|l| l.starts_with("#EXT-X-MEDIA")) {
        if let Some(u) = l.split("URI=\"").nth(1).and_then(|r| r.split('"').next()) {
            playlists.push(u.to_string());
        }
    }
    playlists.sort();
    playlists.dedup();
    for p in playlists {
        let (pl, _) = ctx.get(m, &p).expect("media playlist");
        for l in String::from_utf8_lossy(&pl).lines() {
            if let Some(u) = l.strip_prefix("#EXT-X-MAP:URI=\"").and_then(|r| r.strip_suffix('"')) {
                names.push(u.to_string());
            } else if !l.starts_with('#') && !l.is_empty() {
                names.push(l.to_string());
            }
        }
    }
    names
}

fn ctx_with(cache: u64) -> Context {
    Context::new(Config { cache_bytes: cache, ..Config::default() })
}

fn open_time_once(path: &Path) -> Duration {
    let ctx = ctx_with(0);
    let t = Instant::now();
    let _m = ctx.open(path).expect("open");
    t.elapsed()
}

fn open_time(path: &Path) -> Duration {
    median(
        (0..5)
            .map(|_| {
                let ctx = ctx_with(0);
                let t = Instant::now();
                let _m = ctx.open(path).expect("open");
                t.elapsed()
            })
            .collect(),
    )
}

fn section_open() {
    println!("\n## Open (index) time vs ffprobe -show_packets\n");
    println!("| file | size | libhls hls_open: first in this process / median of the next 10 | ffprobe -show_packets | ratio (median) |");
    println!("|---|---|---|---|---|");
    for f in ["long_10min.mp4", "long_2h.mp4", "h264_aac.mkv"] {
        let p = media(f);
        if !p.exists() {
            println!("| {f} | missing (run scripts/gen-media.sh --long) | | | |");
            continue;
        }
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        let first = {
            let ctx = ctx_with(0);
            let t = Instant::now();
            let _m = ctx.open(&p).expect("open");
            t.elapsed()
        };
        let ours = median((0..10).map(|_| open_time_once(&p)).collect());
        let probe = run_cmd(Command::new("ffprobe").args(["-v", "error", "-show_packets"]).arg(&p));
        println!(
            "| {f} | {:.1} MB | {} / {} | {} | {:.0}x faster |",
            size as f64 / 1e6,
            ms(first),
            ms(ours),
            ms(probe),
            probe.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

/// Bytes this process has read through read(2)/pread(2) so far (`rchar` of /proc/self/io).
fn bytes_read() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("rchar:").and_then(|v| v.trim().parse().ok())))
        .unwrap_or(0)
}

/// Median open time and bytes read by one open, with or without the Cues.
fn mkv_open(path: &Path, use_cues: bool, runs: usize) -> (Duration, u64, String) {
    let mut times = Vec::new();
    let (mut bytes, mut from) = (0, String::new());
    for _ in 0..runs {
        let ctx = Context::new(Config { cache_bytes: 0, use_container_index: use_cues, ..Config::default() });
        let before = bytes_read();
        let t = Instant::now();
        let m = ctx.open(path).expect("open");
        times.push(t.elapsed());
        bytes = bytes_read() - before;
        from = m.index.indexed_from.name().to_string();
    }
    (median(times), bytes, from)
}

fn section_mkv() {
    println!("\n## Matroska open: from the Cues vs a packet scan vs ffprobe -show_packets\n");
    println!("| file | size | segments | from Cues: time / bytes read | packet scan: time / bytes read | ffprobe -show_packets | scan / Cues |");
    println!("|---|---|---|---|---|---|---|");
    for f in ["long_2h.mkv", "long_2h_mkvmerge.mkv", "long_2h_subs.mkv", "h264_aac.mkv", "multi_audio.mkv"] {
        let p = media(f);
        if !p.exists() {
            println!("| {f} | missing (run scripts/gen-media.sh --long) | | | | | |");
            continue;
        }
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        let segments = Context::new(Config::default()).open(&p).expect("open").index.segment_count();
        let (cue_t, cue_b, cue_from) = mkv_open(&p, true, 7);
        let (scan_t, scan_b, _) = mkv_open(&p, false, 3);
        let probe = run_cmd(Command::new("ffprobe").args(["-v", "error", "-show_packets"]).arg(&p));
        println!(
            "| {f} | {:.1} MB | {segments} | {} / {:.2} MB ({cue_from}) | {} / {:.1} MB | {} | {:.0}x |",
            size as f64 / 1e6,
            ms(cue_t),
            cue_b as f64 / 1e6,
            ms(scan_t),
            scan_b as f64 / 1e6,
            ms(probe),
            scan_t.as_secs_f64() / cue_t.as_secs_f64()
        );
    }
}

/// Every playlist and segment of `path`, cold, on one thread (no cache).
fn all_segments_time(path: &Path) -> (Duration, usize) {
    let ctx = ctx_with(0);
    let m = ctx.open(path).expect("open");
    let names = all_names(&ctx, &m);
    let t = Instant::now();
    for n in &names {
        ctx.get(&m, n).expect("segment");
    }
    (t.elapsed(), names.len())
}

fn section_mkv_segments() {
    println!(
        "\n## Every segment of the 2-hour file, cold, one thread: Matroska (block reads) vs MP4 (sample-table reads)\n"
    );
    println!("| file | resources | time |");
    println!("|---|---|---|");
    for f in ["long_2h.mkv", "long_2h.mp4"] {
        let p = media(f);
        if !p.exists() {
            println!("| {f} | missing (run scripts/gen-media.sh --long) | |");
            continue;
        }
        let runs: Vec<(Duration, usize)> = (0..3).map(|_| all_segments_time(&p)).collect();
        let n = runs[0].1;
        println!("| {f} | {n} | {} |", ms(median(runs.into_iter().map(|r| r.0).collect())));
    }
}

fn section_segments() {
    println!("\n## Every segment of a 10-minute 720p file (cold, no cache)\n");
    let p = media("long_10min.mp4");
    if !p.exists() {
        println!("long_10min.mp4 missing (run scripts/gen-media.sh --long)");
        return;
    }
    let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
    let cat = run_cmd(Command::new("sh").arg("-c").arg(format!("cat '{}' > /dev/null", p.display())));
    let out = bench_dir().join("ffmpeg-hls");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("out dir");
    let ff = run_cmd(
        Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(&p)
            .args([
                "-map",
                "0:v",
                "-map",
                "0:a",
                "-c",
                "copy",
                "-f",
                "hls",
                "-hls_time",
                "6",
                "-hls_playlist_type",
                "vod",
            ])
            .args(["-hls_segment_type", "fmp4"])
            .arg(out.join("index.m3u8")),
    );
    let t = Instant::now();
    let ctx = ctx_with(0);
    let m = ctx.open(&p).expect("open");
    let names = all_names(&ctx, &m);
    let mut bytes = 0usize;
    for n in &names {
        bytes += ctx.get(&m, n).expect("segment").0.len();
    }
    let ours = t.elapsed();
    println!("| what | time | vs ffmpeg |");
    println!("|---|---|---|");
    println!(
        "| libhls: open + all {} resources ({:.1} MB) | {} | {:.2}x |",
        names.len(),
        bytes as f64 / 1e6,
        ms(ours),
        ours.as_secs_f64() / ff.as_secs_f64()
    );
    println!("| ffmpeg -c copy -f hls -hls_segment_type fmp4 | {} | 1.00x |", ms(ff));
    println!(
        "| cat file > /dev/null ({:.1} MB) | {} | {:.2}x |",
        size as f64 / 1e6,
        ms(cat),
        cat.as_secs_f64() / ff.as_secs_f64()
    );
    println!("\nTarget: libhls <= 0.5x of ffmpeg's remux time.");
}

fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn section_cache() {
    println!("\n## Shared engine: cache, parallelism, single-flight opens, memory\n");
    let p = media("long_10min.mp4");
    let p2 = media("long_2h.mp4");
    if !p.exists() || !p2.exists() {
        println!("long media missing (run scripts/gen-media.sh --long)");
        return;
    }
    println!("| measure | value | target |");
    println!("|---|---|---|");
    // Cache-hit latency.
    let ctx = ctx_with(256 << 20);
    let m = ctx.open(&p).expect("open");
    let names = all_names(&ctx, &m);
    let name = names.iter().find(|n| n.ends_with(".m4s")).expect("a segment").clone();
    ctx.get(&m, &name).expect("warm");
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        let (b, _) = ctx.get(&m, &name).expect("hit");
        std::hint::black_box(b.len());
    }
    let per = t.elapsed().as_secs_f64() * 1e9 / n as f64;
    println!("| cache-hit latency (zero-copy, Arc clone) | {per:.0} ns | < 2000 ns |");
    // The same segment as headers + file ranges (what hls_get_parts hands out): a cache hit
    // and the fstat identity check of the descriptor.
    let t = Instant::now();
    for _ in 0..n {
        let (b, _) = ctx.get_body(&m, &name).expect("hit");
        std::hint::black_box(m.checked_file().expect("unchanged"));
        std::hint::black_box(b);
    }
    let per = t.elapsed().as_secs_f64() * 1e9 / n as f64;
    println!("| cache-hit latency as file ranges (Arc clone + fstat) | {per:.0} ns | < 2000 ns |");

    // Cold segment throughput, 1 vs 2 threads.
    let segs: Vec<String> = names.iter().filter(|n| n.ends_with(".m4s")).cloned().collect();
    let cold = |threads: usize| -> f64 {
        let ctx = Arc::new(ctx_with(0));
        let m = ctx.open(&p).expect("open");
        let segs = Arc::new(segs.clone());
        let t = Instant::now();
        std::thread::scope(|s| {
            for i in 0..threads {
                let (ctx, m, segs) = (ctx.clone(), m.clone(), segs.clone());
                s.spawn(move || {
                    for n in segs.iter().skip(i).step_by(threads) {
                        ctx.get(&m, n).expect("segment");
                    }
                });
            }
        });
        segs.len() as f64 / t.elapsed().as_secs_f64()
    };
    let one = cold(1);
    let two = cold(2);
    println!("| cold segments/s, 1 thread | {one:.0} | |");
    println!("| cold segments/s, 2 threads | {two:.0} ({:.2}x) | >= 1.8x |", two / one);

    // 10 concurrent first opens vs one (each in a fresh context, alternating, median of 5).
    let mut singles = Vec::new();
    let mut tens = Vec::new();
    let mut indexings = 0;
    for _ in 0..5 {
        singles.push(open_time_once(&p2));
        let ctx = Arc::new(ctx_with(0));
        let t = Instant::now();
        let handles: Vec<_> = std::thread::scope(|s| {
            let joins: Vec<_> = (0..10)
                .map(|_| {
                    let ctx = ctx.clone();
                    let p2 = p2.clone();
                    s.spawn(move || ctx.open(&p2).expect("open"))
                })
                .collect();
            joins.into_iter().map(|j| j.join().expect("thread")).collect()
        });
        tens.push(t.elapsed());
        drop(handles);
        let stats: serde_json::Value = serde_json::from_str(&ctx.stats_json()).expect("stats");
        indexings = stats["indexings"].as_u64().unwrap_or(0);
    }
    let (one, ten) = (median(singles), median(tens));
    println!(
        "| 10 concurrent first opens of a 2-hour file ({indexings} indexing) | {} vs one {} ({:.2}x) | ~1x |",
        ms(ten),
        ms(one),
        ten.as_secs_f64() / one.as_secs_f64()
    );

    // RSS after 10 000 mixed requests with a 64 MiB budget (and without a cache, to show what
    // the indexes themselves cost), each in a fresh process.
    for budget in ["0", "64"] {
        let out = Command::new(std::env::current_exe().expect("exe"))
            .env("BENCH", "rss_child")
            .env("RSS_BUDGET_MB", budget)
            .output()
            .expect("rss child");
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// Runs in its own process: RSS before and after 10 000 mixed requests over two files.
fn rss_child() {
    let files = [media("long_10min.mp4"), media("long_2h.mp4")];
    let before = rss_mb();
    let budget: u64 = std::env::var("RSS_BUDGET_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let ctx = ctx_with(budget << 20);
    let lists: Vec<(Arc<hls::engine::Media>, Vec<String>)> = files
        .iter()
        .map(|f| {
            let m = ctx.open(f).expect("open");
            let n = all_names(&ctx, &m);
            (m, n)
        })
        .collect();
    let mut seed = 12345u64;
    for _ in 0..10_000 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let (m, names) = &lists[(seed >> 33) as usize % lists.len()];
        let n = &names[(seed >> 40) as usize % names.len()];
        ctx.get(m, n).expect("request");
    }
    let after = rss_mb();
    println!(
        "| RSS after 10 000 mixed requests over 2 files (10 min + 2 h), {budget} MiB budget | {after:.0} MB: +{:.0} MB over the process at start ({before:.0} MB: binary + FFmpeg libraries) | growth <= {budget} MiB + 30 MB |",
        after - before
    );
}

fn section_subs() {
    println!("\n## Subtitles: every WebVTT segment of a 2-hour film with two subtitle tracks\n");
    let with = media("long_2h_subs.mp4");
    let without = media("long_2h.mp4");
    if !with.exists() || !without.exists() {
        println!("long_2h_subs.mp4 missing (run scripts/gen-media.sh --long)");
        return;
    }
    let ctx = ctx_with(0);
    let m = ctx.open(&with).expect("open");
    let vtt: Vec<String> = all_names(&ctx, &m).into_iter().filter(|n| n.ends_with(".vtt")).collect();
    // The first WebVTT name of each track reads that track's cues (`model::cues::Cues`: read on
    // first use, not by the open); every later one is served from them.
    let firsts: Vec<&String> =
        vtt.iter().filter(|n| n.split('_').nth(1).is_some_and(|k| k == "0.vtt") || !n.contains('_')).collect();
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<&String> = firsts.into_iter().filter(|n| seen.insert(n.split(['_', '.']).next())).collect();
    let t = Instant::now();
    for n in &firsts {
        ctx.get(&m, n).expect("vtt");
    }
    let first = t.elapsed();
    let t = Instant::now();
    let mut bytes = 0;
    for n in &vtt {
        bytes += ctx.get(&m, n).expect("vtt").0.len();
    }
    let all = t.elapsed();
    let o_with = open_time(&with);
    let o_without = open_time(&without);
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| first WebVTT name of each of the {} subtitle tracks (reads the track's cues) | {} | |",
        firsts.len(),
        ms(first)
    );
    println!(
        "| all {} WebVTT segments ({:.1} KB), after those | {} | < 5 ms |",
        vtt.len(),
        bytes as f64 / 1e3,
        ms(all)
    );
    println!("| open with two subtitle tracks | {} | |", ms(o_with));
    println!("| open of the same film without subtitles | {} | |", ms(o_without));
    println!("| extra open cost of the subtitle tracks | {} | |", ms(o_with.saturating_sub(o_without)));
}

fn section_transcode() {
    println!("\n## Audio transcode to AAC\n");
    let p = media("ac3_51.mp4");
    if !p.exists() {
        println!("ac3_51.mp4 missing");
        return;
    }
    let cfg = |policy| Config { cache_bytes: 0, transcode: policy, ..Config::default() };
    let tctx = Context::new(cfg(hls::model::config::TranscodePolicy::BrowserSafe));
    let cctx = Context::new(cfg(hls::model::config::TranscodePolicy::Unplayable));
    let tm = tctx.open(&p).expect("open");
    let cm = cctx.open(&p).expect("open");
    let audio = tm.index.tracks.iter().find(|t| t.kind == hls::model::track::TrackKind::Audio).expect("audio").stream;
    let segs: Vec<String> = (0..tm.index.segment_count()).map(|k| format!("t{audio}_{k}.m4s")).collect();
    let t = Instant::now();
    for n in &segs {
        tctx.get(&tm, n).expect("transcoded segment");
    }
    let all = t.elapsed();
    let secs = tm.index.duration_us as f64 / 1e6;
    let one_t = median(
        (0..5)
            .map(|_| {
                let c = Context::new(cfg(hls::model::config::TranscodePolicy::BrowserSafe));
                let m = c.open(&p).expect("open");
                let t = Instant::now();
                c.get(&m, &segs[1]).expect("segment");
                t.elapsed()
            })
            .collect(),
    );
    let one_c = median(
        (0..5)
            .map(|_| {
                let c = Context::new(cfg(hls::model::config::TranscodePolicy::Unplayable));
                let m = c.open(&p).expect("open");
                let t = Instant::now();
                c.get(&m, &segs[1]).expect("segment");
                t.elapsed()
            })
            .collect(),
    );
    drop(cm);
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| transcode speed (AC-3 5.1 -> AAC stereo, 1 core) | {:.0}x real time | >= 100x |",
        secs / all.as_secs_f64()
    );
    println!("| one cold transcoded segment | {} | |", ms(one_t));
    println!("| one cold copied segment (same track, AC-3 passthrough) | {} | |", ms(one_c));
}

fn main() {
    let which = std::env::var("BENCH").unwrap_or_else(|_| "open,mkv,segments,cache,subs,transcode".into());
    if !which.ends_with("_child") {
        println!("# libhls benchmark ({} cores)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    for s in which.split(',') {
        match s {
            "open" => section_open(),
            "mkv" => {
                section_mkv();
                section_mkv_segments();
            }
            "segments" => section_segments(),
            "cache" => section_cache(),
            "subs" => section_subs(),
            "transcode" => section_transcode(),
            "rss_child" => rss_child(),
            "cold" => section_cold(),
            "cold_child" => cold_child(),
            "thumbs" => section_thumbs(),
            "pidx" => section_pidx(),
            "pidx_child" => pidx_child(),
            "encryption" => section_encryption(),
            "clip" => section_clip(),
            other => println!("unknown section {other}"),
        }
    }
}

/// Runs in its own process: open, master playlist and first media playlist of `COLD_FILE`,
/// timed apart; prints `open_us master_us media_us index_bytes duration_us heap_bytes cpu_us
/// process_cpu_us` (`index_bytes`: segments and cues; `heap_bytes`: everything the index holds,
/// sample records included; `cpu_us`: the thread's CPU time for the three, which a loaded
/// machine does not inflate as it does wall times; `process_cpu_us`: the same for every thread
/// of the process, which counts the work an open hands to helper threads, such as the
/// Matroska boundary probes). With `COLD_HEAP_AFTER_ALL` set, every resource is then served and
/// the index heap after it printed on stderr.
fn cold_child() {
    let p = PathBuf::from(std::env::var("COLD_FILE").expect("COLD_FILE"));
    let ctx = ctx_with(0);
    let process = process_cpu();
    let cpu = thread_cpu();
    let t = Instant::now();
    let m = ctx.open(&p).expect("open");
    let open = t.elapsed();
    let t = Instant::now();
    let (master, _) = ctx.get(&m, "master.m3u8").expect("master");
    let master_t = t.elapsed();
    let first = String::from_utf8_lossy(&master)
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .expect("a variant")
        .to_string();
    let t = Instant::now();
    let (pl, _) = ctx.get(&m, &first).expect("media playlist");
    let media_t = t.elapsed();
    let cpu = thread_cpu() - cpu;
    let process = process_cpu() - process;
    assert!(!pl.is_empty());
    println!(
        "{} {} {} {} {} {} {} {}",
        open.as_micros(),
        master_t.as_micros(),
        media_t.as_micros(),
        m.index.approx_bytes(),
        m.index.duration_us,
        m.index.heap_bytes(),
        cpu.as_micros(),
        process.as_micros()
    );
    if std::env::var_os("COLD_HEAP_AFTER_ALL").is_some() {
        // The index heap once every playlist and segment was served (records built on demand
        // included): on stderr, outside the figures `section_cold` reads.
        for n in all_names(&ctx, &m) {
            ctx.get(&m, &n).expect("resource");
        }
        eprintln!("index heap after every resource: {} bytes", m.index.heap_bytes());
    }
}

/// Cold open: each run a fresh process (page cache warm), median of the runs.
fn section_cold() {
    let runs: usize = std::env::var("COLD_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(21);
    println!("\n## Cold open after a fresh process start (page cache warm), median of {runs} processes\n");
    println!("| file | open | master | first media playlist | total | total CPU (thread) | total CPU (process) | target | index bytes per hour of media | index heap per hour (sample records included) |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let all =
        "long_2h.mp4,long_2h.mkv,long_2h_subs.mkv,long_2h_mkvmerge.mkv,long_2h_subs.mp4,long_10min.mp4,long_10min.mkv"
            .to_string();
    let files = std::env::var("COLD_FILES").unwrap_or(all);
    for f in files.split(',') {
        let p = media(f);
        if !p.exists() {
            println!("| {f} | missing (run scripts/gen-media.sh --long) | | | | | | | | |");
            continue;
        }
        let mut rows: Vec<[u64; 8]> = Vec::new();
        for _ in 0..runs {
            let out = Command::new(std::env::current_exe().expect("exe"))
                .env("BENCH", "cold_child")
                .env("COLD_FILE", &p)
                .output()
                .expect("cold child");
            let line = String::from_utf8_lossy(&out.stdout);
            let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            assert_eq!(v.len(), 8, "cold child output: {line}");
            rows.push([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
        }
        let med = |i: usize| {
            let mut c: Vec<u64> = rows.iter().map(|r| r[i]).collect();
            c.sort_unstable();
            c[c.len() / 2]
        };
        let mut totals: Vec<u64> = rows.iter().map(|r| r[0] + r[1] + r[2]).collect();
        totals.sort_unstable();
        let us = |v: u64| format!("{:.2} ms", v as f64 / 1e3);
        let hours = rows[0][4] as f64 / 3.6e9;
        println!(
            "| {f} | {} | {} | {} | {} | {} | {} | <= 5 ms | {:.0} KB ({:.0} KB for {:.2} h) | {:.1} MB ({:.1} MB) |",
            us(med(0)),
            us(med(1)),
            us(med(2)),
            us(totals[totals.len() / 2]),
            us(med(6)),
            us(med(7)),
            rows[0][3] as f64 / 1e3 / hours,
            rows[0][3] as f64 / 1e3,
            hours,
            rows[0][5] as f64 / 1e6 / hours,
            rows[0][5] as f64 / 1e6
        );
    }
}

/// CPU time of every thread of the process so far.
fn process_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through the valid pointer it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of the calling thread (wall times on a loaded machine mostly measure the queue).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through the valid pointer it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Scrubbing thumbnails: the first sprite sheet (25 tiles, one every 10 s: the first 250 s) of a
/// freshly opened file, uncached, against FFmpeg making the same 5x5 sheet from the keyframes
/// (`-skip_frame nokey`, so it decodes keyframes only but demuxes every packet of those 250 s);
/// and one `thumb_<ms>.jpg` at 40 times spread over the file, uncached.
fn section_thumbs() {
    println!("\n## Thumbnails: first sprite sheet and one thumbnail JPEG (uncached, 320 px tiles)\n");
    println!("| file | open | first sheet thumbs_0.jpg (25 tiles): wall / CPU | sheet bytes | ffmpeg -skip_frame nokey 5x5 sheet | ratio (wall) | one thumb_<ms>.jpg (mean of 40): wall / CPU | thumbnail bytes |");
    println!("|---|---|---|---|---|---|---|---|");
    for f in ["long_2h.mp4", "long_2h.mkv", "long_10min.mp4", "h264_aac.mp4"] {
        let p = media(f);
        if !p.exists() {
            println!("| {f} | missing (run scripts/gen-media.sh --long) | | | | | | |");
            continue;
        }
        let mut opens = Vec::new();
        let mut sheets = Vec::new();
        let mut sheet_cpu = Vec::new();
        let mut sheet_bytes = 0;
        for _ in 0..3 {
            let ctx = ctx_with(0);
            let t = Instant::now();
            let m = ctx.open(&p).expect("open");
            opens.push(t.elapsed());
            let (t, c) = (Instant::now(), thread_cpu());
            let (b, _) = ctx.get(&m, "thumbs_0.jpg").expect("sheet");
            sheets.push(t.elapsed());
            sheet_cpu.push(thread_cpu() - c);
            sheet_bytes = b.len();
        }
        let out = bench_dir().join("ffmpeg-sheet.jpg");
        let ff = median(
            (0..3)
                .map(|_| {
                    run_cmd(
                        Command::new("ffmpeg")
                            .args(["-v", "error", "-y", "-skip_frame", "nokey", "-t", "250", "-i"])
                            .arg(&p)
                            .args(["-an", "-sn", "-vf", "fps=1/10,scale=320:-2,tile=5x5", "-frames:v", "1"])
                            .arg(&out),
                    )
                })
                .collect(),
        );
        let ctx = ctx_with(0);
        let m = ctx.open(&p).expect("open");
        let info: serde_json::Value = serde_json::from_str(&m.info_json()).expect("info");
        let duration_ms = (info["duration"].as_f64().expect("duration") * 1000.0) as u64;
        let n = 40u64;
        let mut bytes = 0;
        let (t, c) = (Instant::now(), thread_cpu());
        for i in 0..n {
            let (b, _) = ctx.get(&m, &format!("thumb_{}.jpg", duration_ms * i / n)).expect("thumbnail");
            bytes += b.len();
        }
        let per = t.elapsed() / n as u32;
        let per_cpu = (thread_cpu() - c) / n as u32;
        let sheet = median(sheets);
        println!(
            "| {f} | {} | {} / {} | {:.0} KB | {} | {:.1}x | {} / {} | {:.1} KB |",
            ms(median(opens)),
            ms(sheet),
            ms(median(sheet_cpu)),
            sheet_bytes as f64 / 1e3,
            ms(ff),
            ff.as_secs_f64() / sheet.as_secs_f64(),
            ms(per),
            ms(per_cpu),
            bytes as f64 / n as f64 / 1e3
        );
    }
}

/// Runs in its own process: open of `PIDX_FILE` (with the index directory `PIDX_DIR` when set),
/// then its master and first media playlist; prints `open_us master_us media_us from_disk`.
fn pidx_child() {
    let p = PathBuf::from(std::env::var("PIDX_FILE").expect("PIDX_FILE"));
    let dir = std::env::var_os("PIDX_DIR").map(PathBuf::from);
    let ctx = Context::new(Config { cache_bytes: 0, index_dir: dir, ..Config::default() });
    let t = Instant::now();
    let m = ctx.open(&p).expect("open");
    let open = t.elapsed();
    let t = Instant::now();
    let (master, _) = ctx.get(&m, "master.m3u8").expect("master");
    let master_t = t.elapsed();
    let first = String::from_utf8_lossy(&master)
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .expect("a variant")
        .to_string();
    let t = Instant::now();
    ctx.get(&m, &first).expect("media playlist");
    let media_t = t.elapsed();
    let disk = matches!(m.origin, hls::engine::index_dir::IndexOrigin::Disk(_));
    println!("{} {} {} {}", open.as_micros(), master_t.as_micros(), media_t.as_micros(), u8::from(disk));
}

/// Open of the 2-hour files in fresh processes: indexed from the media (no index directory)
/// vs read from a persisted index written by an earlier process.
fn section_pidx() {
    let runs: usize = std::env::var("PIDX_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(21);
    println!("\n## Open in a fresh process: cold index vs persisted index (page cache warm), {runs} processes each\n");
    println!("| file | cold open median / p90 | first open with the directory (indexes, writes the file) | persisted open median / p90 | target | index file | master + first media playlist after a persisted open (median) |");
    println!("|---|---|---|---|---|---|---|");
    let dir = bench_dir().join("pidx");
    let child = |file: &Path, with_dir: bool| -> [u64; 4] {
        let mut cmd = Command::new(std::env::current_exe().expect("exe"));
        cmd.env("BENCH", "pidx_child").env("PIDX_FILE", file);
        if with_dir {
            cmd.env("PIDX_DIR", &dir);
        }
        let out = cmd.output().expect("pidx child");
        let line = String::from_utf8_lossy(&out.stdout);
        let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        assert_eq!(v.len(), 4, "pidx child output: {line} {}", String::from_utf8_lossy(&out.stderr));
        [v[0], v[1], v[2], v[3]]
    };
    let stat = |mut v: Vec<u64>| -> (u64, u64) {
        v.sort_unstable();
        (v[v.len() / 2], v[(v.len() * 9 / 10).min(v.len() - 1)])
    };
    let us = |v: u64| format!("{:.3} ms", v as f64 / 1e3);
    for f in ["long_2h.mp4", "long_2h.mkv", "long_2h_subs.mp4", "long_2h_subs.mkv"] {
        let p = media(f);
        if !p.exists() {
            println!("| {f} | missing (run scripts/gen-media.sh --long) | | | | | |");
            continue;
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pidx dir");
        let cold: Vec<u64> = (0..runs).map(|_| child(&p, false)[0]).collect();
        // The first process with the directory indexes and writes the file.
        let first = child(&p, true);
        assert_eq!(first[3], 0, "{f}: an index file before the first open");
        let rows: Vec<[u64; 4]> = (0..runs).map(|_| child(&p, true)).collect();
        assert!(rows.iter().all(|r| r[3] == 1), "{f}: a persisted open indexed the media");
        let size: u64 =
            std::fs::read_dir(&dir).expect("dir").flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum();
        let (cm, cp) = stat(cold);
        let (pm, pp) = stat(rows.iter().map(|r| r[0]).collect());
        let (after, _) = stat(rows.iter().map(|r| r[1] + r[2]).collect());
        println!(
            "| {f} | {} / {} | {} | {} / {} | < 0.5 ms | {:.2} MB | {} |",
            us(cm),
            us(cp),
            us(first[0]),
            us(pm),
            us(pp),
            size as f64 / 1e6,
            us(after)
        );
    }
}

/// Medians of generating (no cache) every segment of rendition `r` of `path` once per
/// presentation opened with each of `options`, `rounds` times over, the presentations taken in
/// turn segment by segment, in rotating order (so the load on a shared machine hits each
/// alike): per option, the
/// median thread CPU time, the median wall time, and the mean bytes of a segment.
fn segment_times(
    path: &Path,
    options: &[hls::model::open::OpenOptions],
    r: &str,
    rounds: usize,
) -> Vec<(Duration, Duration, usize)> {
    let ctx = ctx_with(0);
    let ms: Vec<_> = options.iter().map(|o| ctx.open_with(path, o).expect("open")).collect();
    let names: Vec<String> = all_names(&ctx, &ms[0])
        .into_iter()
        .filter(|n| n.starts_with(&format!("{r}_")) && n.ends_with(".m4s"))
        .collect();
    let mut cpu = vec![Vec::new(); ms.len()];
    let mut wall = vec![Vec::new(); ms.len()];
    let mut bytes = vec![0; ms.len()];
    for round in 0..rounds {
        for (s, n) in names.iter().enumerate() {
            // Each presentation first, second, third in turn (what the previous request left in
            // the allocator and the caches favours the next).
            for i in (0..ms.len()).map(|j| (j + round + s) % ms.len()) {
                let m = &ms[i];
                let (c, t) = (thread_cpu(), Instant::now());
                let (b, _) = ctx.get(m, n).expect("segment");
                wall[i].push(t.elapsed());
                cpu[i].push(thread_cpu() - c);
                if round == 0 {
                    bytes[i] += b.len();
                }
            }
        }
    }
    (0..ms.len()).map(|i| (median(cpu[i].clone()), median(wall[i].clone()), bytes[i] / names.len().max(1))).collect()
}

fn section_encryption() {
    use hls::model::encryption::{Encryption, IvPolicy, Method, TrackKey};
    use hls::model::open::OpenOptions;
    println!("\n## Encryption: one copied media segment generated cold (no libhls cache), median\n");
    println!("Thread CPU time (wall time in brackets: on a shared machine it mostly measures the queue);");
    println!("the three presentations are served in turn, segment by segment, in rotating order.\n");
    let rounds: usize = std::env::var("ENC_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    let with = |method| OpenOptions {
        encryption: Some(Encryption::Static(TrackKey {
            method,
            key: *b"0123456789abcdef",
            key_id: *b"libhls-bench-kid",
            iv: IvPolicy::Constant([7; 16]),
            uri: "https://keys.example/k".into(),
            ..TrackKey::default()
        })),
        ..OpenOptions::default()
    };
    let floor = openssl_cbc_rate();
    match floor {
        Some(f) => println!("OpenSSL AES-128-CBC (serial CBC floor, CPU time, 16 KiB buffers): {:.0} MB/s\n", f / 1e6),
        None => println!("(no `openssl`: the serial CBC floor is not measured)\n"),
    }
    println!("| file | rendition | segment | clear | AES-128 | +% | +% at the CBC floor | SAMPLE-AES (cbcs) | +% |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for file in ["enc_720p.mp4", "enc_1080p.mp4", "long_10min.mp4"] {
        let p = media(file);
        if !p.exists() {
            println!("| {file} | missing (scripts/gen-media.sh) | | | | | | |");
            continue;
        }
        for r in ["t0", "t1"] {
            let t =
                segment_times(&p, &[OpenOptions::default(), with(Method::Aes128), with(Method::SampleAes)], r, rounds);
            let [(clear, clear_wall, size), (aes, aes_wall, _), (cbcs, cbcs_wall, _)] = t[..] else { unreachable!() };
            let pct = |d: Duration| (d.as_secs_f64() / clear.as_secs_f64() - 1.0) * 100.0;
            let at_floor =
                floor.map_or("n/a".into(), |f| format!("{:+.0} %", size as f64 / f / clear.as_secs_f64() * 100.0));
            println!(
                "| {file} | {} | {:.0} KB | {} ({}) | {} ({}) | {:+.1} % | {at_floor} | {} ({}) | {:+.1} % |",
                if r == "t0" { "video" } else { "audio" },
                size as f64 / 1e3,
                ms(clear),
                ms(clear_wall),
                ms(aes),
                ms(aes_wall),
                pct(aes),
                ms(cbcs),
                ms(cbcs_wall),
                pct(cbcs)
            );
        }
    }
    section_encryption_alone(rounds, floor);
    println!("\nTarget: encryption adds < 15 % to a cold copied segment (`aes` crate, AES-NI).");
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// OpenSSL's AES-128-CBC encryption rate (bytes per second of CPU time, 16 KiB buffers), the
/// serial CBC floor: each block waits for the previous one's ciphertext, so one chain runs at the
/// latency of the AES instructions whatever the code around them. None without `openssl`.
fn openssl_cbc_rate() -> Option<f64> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "1", "-bytes", "16384", "-evp", "aes-128-cbc"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.to_ascii_uppercase().starts_with("AES-128-CBC"))?;
    let k: f64 = line.split_whitespace().last()?.strip_suffix('k')?.parse().ok()?;
    Some(k * 1000.0)
}

/// The H.264/HEVC NAL length size an init segment's `avcC`/`hvcC` declares.
fn nal_length_size(init: &[u8]) -> Option<hls::output::fmp4::NalLayout> {
    let find = |tag: &[u8]| init.windows(4).position(|w| w == tag);
    if let Some(i) = find(b"avcC") {
        return Some(hls::output::fmp4::NalLayout { length_size: usize::from(init[i + 8] & 3) + 1, hevc: false });
    }
    find(b"hvcC").map(|i| hls::output::fmp4::NalLayout { length_size: usize::from(init[i + 25] & 3) + 1, hevc: true })
}

/// The encryption of segments already in memory, on its own: every clear segment of each
/// rendition read once, then `rounds` times over copied into a new buffer, encrypted there
/// AES-128 (whole, in place), and encrypted cbcs from it (written once into the encrypted
/// segment, as the engine does from what it read: the copy included) and in place (the `mdat`
/// moved after). Medians of thread CPU time per segment, beside OpenSSL's serial CBC rate for
/// the same bytes.
fn section_encryption_alone(rounds: usize, floor: Option<f64>) {
    use hls::output::{encrypt, fmp4};
    println!("\n### The encryption alone: a clear segment in memory (median per segment)\n");
    println!("| file | rendition | segment | copy | AES-128 in place | MB/s | OpenSSL CBC floor | cbcs, copy included | cbcs in place |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let key = *b"0123456789abcdef";
    for file in ["enc_720p.mp4", "enc_1080p.mp4", "long_10min.mp4"] {
        let p = media(file);
        if !p.exists() {
            continue;
        }
        let ctx = ctx_with(0);
        let m = ctx.open(&p).expect("open");
        let names = all_names(&ctx, &m);
        for r in ["t0", "t1"] {
            let init = names.iter().find(|n| n.starts_with(&format!("{r}_")) && n.ends_with(".mp4"));
            let init = ctx.get(&m, init.expect("init")).expect("init").0;
            let segments: Vec<Vec<u8>> = names
                .iter()
                .filter(|n| n.starts_with(&format!("{r}_")) && n.ends_with(".m4s"))
                .map(|n| ctx.get(&m, n).expect("segment").0.to_vec())
                .collect();
            let video = r == "t0";
            let prot = fmp4::Protection {
                key,
                key_id: *b"libhls-bench-kid",
                constant_iv: [7; 16],
                crypt_byte_block: if video { 1 } else { 0 },
                skip_byte_block: if video { 9 } else { 0 },
                pssh: &[],
                nal: if video { nal_length_size(&init) } else { None },
            };
            let (mut copy, mut aes, mut cbcs, mut cbcs_in_place) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                for s in &segments {
                    // The room the engine reads a segment with: 16 bytes (AES-128), or what cbcs
                    // adds for the segment's samples (the count of its `trun`).
                    let trun = s.windows(4).position(|w| w == b"trun").expect("trun");
                    let samples = u32::from_be_bytes(s[trun + 8..trun + 12].try_into().unwrap()) as usize;
                    let room = fmp4::growth_estimate(samples);
                    let c = thread_cpu();
                    let mut buf = Vec::with_capacity(s.len() + room);
                    buf.extend_from_slice(s);
                    copy.push(thread_cpu() - c);
                    let c = thread_cpu();
                    let out = encrypt::aes128_cbc_pkcs7_in_place(&key, &[7; 16], buf);
                    aes.push(thread_cpu() - c);
                    let c = thread_cpu();
                    let enc = fmp4::encrypt_segment(s, &prot).expect("cbcs");
                    cbcs.push(thread_cpu() - c);
                    // Encrypted right after the copy (the bytes in cache).
                    let mut buf = Vec::with_capacity(s.len() + room);
                    buf.extend_from_slice(s);
                    let c = thread_cpu();
                    let enc2 = fmp4::encrypt_segment_in_place(buf, &prot).expect("cbcs");
                    cbcs_in_place.push(thread_cpu() - c);
                    assert!(enc == enc2);
                    std::hint::black_box((out, enc, enc2));
                }
            }
            let size = segments.iter().map(Vec::len).sum::<usize>() / segments.len().max(1);
            let aes = median(aes);
            println!(
                "| {file} | {} | {:.0} KB | {} | {} | {:.0} | {} | {} | {} |",
                if video { "video" } else { "audio" },
                size as f64 / 1e3,
                us(median(copy)),
                us(aes),
                size as f64 / aes.as_secs_f64() / 1e6,
                floor.map_or("n/a".into(), |f| us(Duration::from_secs_f64(size as f64 / f))),
                us(median(cbcs)),
                us(median(cbcs_in_place)),
            );
        }
    }
}

// --- clip ---

/// Medians of the times to open `path` with each of `options` in a fresh context (no cache),
/// over `runs` rounds that take them in turn (so load on the machine hits each alike).
fn open_with_times(path: &Path, options: &[hls::model::open::OpenOptions], runs: usize) -> Vec<Duration> {
    let mut times = vec![Vec::new(); options.len()];
    for _ in 0..runs {
        for (o, t) in options.iter().zip(times.iter_mut()) {
            let ctx = ctx_with(0);
            let start = Instant::now();
            let _m = ctx.open_with(path, o).expect("open");
            t.push(start.elapsed());
        }
    }
    times.into_iter().map(median).collect()
}

/// A clipped open beside the whole file's: a one-minute clip from the middle, both policies.
fn section_clip() {
    use hls::model::open::{Clip, ClipPolicy, OpenOptions};
    println!("\n## Clipped open vs whole open (fresh context each, median)\n");
    println!("| file | whole open | clip [mid, mid+60 s) keyframe-aligned | keyframe-forward | clip / whole |");
    println!("|---|---|---|---|---|");
    for (f, runs) in [("long_10min.mp4", 9), ("long_2h.mp4", 5), ("long_2h.mkv", 1), ("h264_aac.ts", 9)] {
        let p = media(f);
        if !p.exists() {
            println!("| {f} | missing (run scripts/gen-media.sh --long) | | | |");
            continue;
        }
        let whole_opts = OpenOptions::default();
        let duration_ms = {
            let ctx = ctx_with(0);
            let m = ctx.open(&p).expect("open");
            (m.index.duration_us / 1000) as u64
        };
        let from = duration_ms / 2;
        let to = (from + 60_000).min(duration_ms);
        let clip = |policy| OpenOptions {
            clip: Some(Clip { from_ms: from, to_ms: Some(to), policy }),
            ..OpenOptions::default()
        };
        let t = open_with_times(
            &p,
            &[whole_opts, clip(ClipPolicy::KeyframeAligned), clip(ClipPolicy::KeyframeForward)],
            runs,
        );
        let (whole, aligned, forward) = (t[0], t[1], t[2]);
        println!(
            "| {f} | {} | {} | {} | {:.2} |",
            ms(whole),
            ms(aligned),
            ms(forward),
            aligned.as_secs_f64() / whole.as_secs_f64()
        );
    }
}
