//! Roles, names and audio groups in the master playlist, read as a player reads them: what the
//! viewer sees in the language menu (NAME), what players match on (LANGUAGE, CHARACTERISTICS,
//! AUTOSELECT, DEFAULT, FORCED), and whether every AUDIO group offers every language (RFC 8216
//! §4.3.4.1.1) with the variants' CODECS naming their group's codecs.
//!
//! `roles.mkv` (scripts/gen-media.sh) holds: AAC eng (default, no title), AC-3 5.1 fre (no title),
//! AAC eng commentary "Director's Commentary", AAC eng audio description (title "eng"), AAC pt-BR
//! (title "Audio 5"), SRT eng SDH, SRT fre forced. The masters are made in process through the
//! Rust API (indexing only: no segment is generated).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{attr, ensure_media, media_dir, Attr, MasterPlaylist};
use hls::model::config::TranscodePolicy;
use hls::{Config, Context};

/// A master playlist and the RFC 6381 string of every rendition it names (`t2a.m3u8`), from
/// the info JSON.
struct Master {
    m: MasterPlaylist,
    codecs: BTreeMap<String, String>,
}

impl std::ops::Deref for Master {
    type Target = MasterPlaylist;
    fn deref(&self) -> &MasterPlaylist {
        &self.m
    }
}

impl Master {
    fn codec_of(&self, uri: &str) -> &str {
        self.codecs.get(uri).map(String::as_str).unwrap_or_else(|| panic!("no rendition {uri} in info.json"))
    }
}

fn master_with(file: &str, policy: Option<TranscodePolicy>) -> Master {
    ensure_media(&[file]).expect("media");
    let mut cfg = Config::default();
    if let Some(p) = policy {
        cfg.transcode = p;
    }
    let ctx = Context::new(cfg);
    let media = ctx.open(&media_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let (bytes, _) = ctx.get(&media, "master.m3u8").unwrap_or_else(|e| panic!("{file} master: {e}"));
    let m = MasterPlaylist::parse(std::str::from_utf8(&bytes).expect("utf-8"));
    assert!(m.problems.is_empty(), "{file}: {:?}", m.problems);
    let info: serde_json::Value = serde_json::from_str(&media.info_json()).expect("info json");
    let codecs = info["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .filter_map(|t| Some((t["playlist"].as_str()?.to_string(), t["codec_string"].as_str()?.to_string())))
        .collect();
    Master { m, codecs }
}

/// The master under the default configuration.
fn master(file: &str) -> Master {
    master_with(file, None)
}

fn get(a: &[Attr], k: &str) -> Option<String> {
    attr(a, k).map(|x| x.value.clone())
}

/// EXT-X-MEDIA renditions of one TYPE.
fn renditions<'a>(m: &'a MasterPlaylist, ty: &str) -> Vec<&'a Vec<Attr>> {
    m.media.iter().filter(|a| get(a, "TYPE").as_deref() == Some(ty)).collect()
}

/// Renditions of one TYPE by GROUP-ID, in order.
fn groups<'a>(m: &'a MasterPlaylist, ty: &str) -> BTreeMap<String, Vec<&'a Vec<Attr>>> {
    let mut g: BTreeMap<String, Vec<&Vec<Attr>>> = BTreeMap::new();
    for a in renditions(m, ty) {
        g.entry(get(a, "GROUP-ID").unwrap_or_default()).or_default().push(a);
    }
    g
}

/// The renditions named `name` (one per group).
fn named<'a>(m: &'a MasterPlaylist, ty: &str, name: &str) -> Vec<&'a Vec<Attr>> {
    renditions(m, ty).into_iter().filter(|a| get(a, "NAME").as_deref() == Some(name)).collect()
}

#[test]
fn commentary_is_never_picked_for_the_viewer() {
    let m = master("roles.mkv");
    let c = named(&m, "AUDIO", "Director's Commentary");
    assert_eq!(c.len(), groups(&m, "AUDIO").len(), "the commentary is in every AUDIO group:\n{}", m.text);
    for a in c {
        assert_eq!(get(a, "AUTOSELECT").as_deref(), Some("NO"), "{a:?}");
        assert_eq!(get(a, "DEFAULT").as_deref(), Some("NO"), "{a:?}");
    }
}

#[test]
fn sdh_subtitles_and_audio_description_carry_accessibility_characteristics() {
    let m = master("roles.mkv");
    let sdh = named(&m, "SUBTITLES", "English (SDH)");
    assert_eq!(sdh.len(), 1, "{}", m.text);
    assert_eq!(
        get(sdh[0], "CHARACTERISTICS").as_deref(),
        Some("public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound")
    );
    let ad = named(&m, "AUDIO", "English (audio description)");
    assert!(!ad.is_empty(), "{}", m.text);
    for a in ad {
        assert_eq!(get(a, "CHARACTERISTICS").as_deref(), Some("public.accessibility.describes-video"), "{a:?}");
        assert_eq!(get(a, "DEFAULT").as_deref(), Some("NO"), "audio description is not the default: {a:?}");
    }
    // Nothing else claims a characteristic.
    for a in &m.media {
        let n = get(a, "NAME").unwrap_or_default();
        if n != "English (SDH)" && n != "English (audio description)" {
            assert_eq!(get(a, "CHARACTERISTICS"), None, "{a:?}");
        }
    }
}

#[test]
fn forced_subtitles_stay_forced() {
    let m = master("roles.mkv");
    let f = named(&m, "SUBTITLES", "Français (forced)");
    assert_eq!(f.len(), 1, "{}", m.text);
    assert_eq!(get(f[0], "FORCED").as_deref(), Some("YES"));
    assert_eq!(get(f[0], "LANGUAGE").as_deref(), Some("fr"));
    for a in renditions(&m, "SUBTITLES").into_iter().filter(|a| get(a, "NAME") != get(f[0], "NAME")) {
        assert_eq!(get(a, "FORCED").as_deref(), Some("NO"), "{a:?}");
    }
}

#[test]
fn language_menu_shows_names_not_codes() {
    let m = master("roles.mkv");
    let audio: BTreeSet<String> = renditions(&m, "AUDIO").iter().filter_map(|a| get(a, "NAME")).collect();
    let want: BTreeSet<String> =
        ["English", "Français (5.1)", "Director's Commentary", "English (audio description)", "Português"]
            .map(String::from)
            .into();
    assert_eq!(audio, want, "audio NAMEs:\n{}", m.text);
    let subs: Vec<String> = renditions(&m, "SUBTITLES").iter().filter_map(|a| get(a, "NAME")).collect();
    assert_eq!(subs, ["English (SDH)", "Français (forced)"]);
    // multi_audio.mp4 has titles ("Français 5.1"): they are kept.
    let m = master("multi_audio.mp4");
    let audio: BTreeSet<String> = renditions(&m, "AUDIO").iter().filter_map(|a| get(a, "NAME")).collect();
    assert_eq!(audio, ["English", "Français 5.1", "Español"].map(String::from).into(), "{}", m.text);
    // ac3_51.mp4's track is titled "English", the language's own name: the layout is added.
    let m = master("ac3_51.mp4");
    let audio: BTreeSet<String> = renditions(&m, "AUDIO").iter().filter_map(|a| get(a, "NAME")).collect();
    assert_eq!(audio, ["English (5.1)"].map(String::from).into(), "{}", m.text);
}

#[test]
fn languages_are_rfc5646_tags_players_match_on() {
    let m = master("roles.mkv");
    let by_name = |n: &str| named(&m, "AUDIO", n).first().and_then(|a| get(a, "LANGUAGE"));
    assert_eq!(by_name("English").as_deref(), Some("en"));
    assert_eq!(by_name("Français (5.1)").as_deref(), Some("fr"));
    // FFmpeg 5.1 gives Matroska's legacy Language ("por"); the region comes from LanguageIETF.
    assert_eq!(by_name("Português").as_deref(), Some("pt-BR"));
    for a in &m.media {
        let l = get(a, "LANGUAGE").unwrap_or_default();
        assert!(l.len() == 2 || l.contains('-'), "LANGUAGE {l:?} is a container code, not RFC 5646: {a:?}");
    }
    for file in ["multi_audio.mkv", "mkvmerge_multi.mkv"] {
        let m = master(file);
        let langs: BTreeSet<String> = m.media.iter().filter_map(|a| get(a, "LANGUAGE")).collect();
        assert_eq!(langs, ["en", "fr", "es"].map(String::from).into(), "{file}: {}", m.text);
    }
    // The same tags whatever the indexing path (Cues or a packet scan).
    let ctx = Context::new(Config { use_container_index: false, ..Config::default() });
    let media = ctx.open(&media_dir().join("roles.mkv")).expect("open");
    let (scanned, _) = ctx.get(&media, "master.m3u8").expect("master");
    // (BANDWIDTH differs: the Cues path estimates segment sizes.)
    let media_lines =
        |t: &str| t.lines().filter(|l| l.starts_with("#EXT-X-MEDIA:")).map(String::from).collect::<Vec<_>>();
    assert_eq!(media_lines(std::str::from_utf8(&scanned).expect("utf-8")), media_lines(&master("roles.mkv").text));
}

/// A rendition as §4.3.4.1.1 compares it: NAME, and every attribute but URI, CHANNELS and GROUP-ID.
type Rendition = (String, Vec<(String, String)>);

/// The §4.3.4.1.1 rule on one master, with one DEFAULT per group (the same track in each) and
/// variants whose CODECS name their group's codecs; returns the AUDIO groups.
fn check_groups(file: &str, m: &Master) -> BTreeMap<String, Vec<Vec<Attr>>> {
    let gs = groups(m, "AUDIO");
    let key = |a: &Vec<Attr>| -> Rendition {
        let mut rest: Vec<(String, String)> = a
            .iter()
            .filter(|x| !matches!(x.name.as_str(), "URI" | "CHANNELS" | "GROUP-ID"))
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect();
        rest.sort();
        (get(a, "NAME").unwrap_or_default(), rest)
    };
    let sets: Vec<BTreeSet<Rendition>> = gs.values().map(|v| v.iter().map(|a| key(a)).collect()).collect();
    for s in &sets[1..] {
        assert_eq!(s, &sets[0], "{file}: AUDIO groups differ beyond URI and CHANNELS:\n{}", m.text);
    }
    for (id, members) in &gs {
        let defaults: Vec<String> = members
            .iter()
            .filter(|a| get(a, "DEFAULT").as_deref() == Some("YES"))
            .filter_map(|a| get(a, "NAME"))
            .collect();
        assert_eq!(defaults.len(), 1, "{file}: group {id} has DEFAULT=YES on {defaults:?}");
    }
    for (a, uri) in &m.variants {
        let Some(g) = get(a, "AUDIO") else { continue };
        let codecs: BTreeSet<String> = get(a, "CODECS").unwrap_or_default().split(',').map(String::from).collect();
        let members = gs.get(&g).unwrap_or_else(|| panic!("{file}: variant {uri} names undefined group {g}"));
        for r in members {
            let c = m.codec_of(&get(r, "URI").unwrap_or_default()).to_string();
            assert!(codecs.contains(&c), "{file}: variant with AUDIO={g} CODECS={codecs:?} lacks {c} of {r:?}");
        }
    }
    gs.into_iter().map(|(k, v)| (k, v.into_iter().cloned().collect())).collect()
}

#[test]
fn every_audio_group_offers_every_language() {
    for file in ["roles.mkv", "multi_audio.mp4", "multi_audio.mkv", "mkvmerge_multi.mkv", "ac3_51.mp4", "opus_flac.mkv"]
    {
        let m = master(file);
        let gs = check_groups(file, &m);
        assert!(!gs.is_empty(), "{file}: no AUDIO group:\n{}", m.text);
    }
    // Under every policy.
    for policy in [TranscodePolicy::Never, TranscodePolicy::Unplayable, TranscodePolicy::BrowserSafe] {
        for file in ["roles.mkv", "multi_audio.mp4"] {
            check_groups(file, &master_with(file, Some(policy)));
        }
    }
}

/// The AUDIO group whose every member is AAC.
fn aac_group(m: &Master) -> Option<String> {
    let gs = groups(m, "AUDIO");
    let id = gs
        .iter()
        .find(|(_, members)| {
            members.iter().all(|a| m.codec_of(&get(a, "URI").unwrap_or_default()).starts_with("mp4a.40."))
        })
        .map(|(id, _)| id.clone())?;
    Some(id)
}

#[test]
fn ac3_films_have_sound_in_every_browser_by_default() {
    for file in ["ac3_51.mp4", "multi_audio.mp4", "multi_audio.mkv", "mkvmerge_multi.mkv", "roles.mkv"] {
        let m = master(file);
        let id = aac_group(&m).unwrap_or_else(|| panic!("{file}: no all-AAC AUDIO group:\n{}", m.text));
        // Players start with the first variant they decode: it is the AAC one, and its CODECS
        // name nothing a browser lacks.
        let (first, _) = &m.variants[0];
        assert_eq!(get(first, "AUDIO").as_deref(), Some(id.as_str()), "{file}:\n{}", m.text);
        let codecs = get(first, "CODECS").unwrap_or_default();
        assert!(codecs.split(',').all(|c| !matches!(c, "ac-3" | "ec-3")), "{file}: first variant CODECS={codecs}");
        // The AC-3/E-AC-3 originals stay, for the players that decode them.
        assert!(m.variants.iter().any(|(a, _)| get(a, "CODECS").is_some_and(|c| c.contains("ac-3"))), "{file}");
    }
    // HLS_TRANSCODE_NEVER still means no transcoding: no AAC rendition, one group of originals.
    let m = master_with("ac3_51.mp4", Some(TranscodePolicy::Never));
    assert!(!m.text.contains("t1a.m3u8"), "{}", m.text);
    assert_eq!(aac_group(&m), None);
}
