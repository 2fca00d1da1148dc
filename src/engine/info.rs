//! The info JSON of one opened media: what was found (duration, every track with its codec,
//! language and whether and how it is served).

use crate::engine::index_dir::IndexOrigin;
use crate::engine::media::Media;
use crate::model::names::Resource;
use crate::model::time::us_to_seconds;
use crate::model::track::{Delivery, TrackKind};
use crate::output::playlist;

impl Media {
    /// What was found: duration and every track with codec, language, and whether it is served.
    pub fn info_json(&self) -> String {
        let ix = &self.index;
        let tracks: Vec<serde_json::Value> = ix
            .tracks
            .iter()
            .map(|t| {
                let mut v = serde_json::json!({
                    "index": t.stream,
                    "rendition": t.id.to_string(),
                    "type": t.kind.name(),
                    "codec": t.codec_name,
                    "codec_string": t.codec_string(),
                    "language": t.language,
                    "title": t.title,
                    "default": t.default,
                    "forced": t.forced,
                    "served": t.is_served(),
                    "delivery": match &t.delivery {
                        Delivery::Copy { .. } => "copy",
                        Delivery::Transcode { .. } => "transcode-aac",
                        Delivery::Cues(_) => "webvtt",
                        Delivery::NotServed(_) => "none",
                    },
                    "reason": t.not_served_reason(),
                    "playlist": t.is_served().then(|| Resource::MediaPlaylist(t.id).name()),
                    "segments": if t.kind == TrackKind::Subtitle && t.is_served() { ix.segment_count() } else { t.segments.len() },
                    "width": (t.kind == TrackKind::Video).then_some(t.width),
                    "height": (t.kind == TrackKind::Video).then_some(t.height),
                    "frame_rate": t.frame_rate.filter(|_| t.kind == TrackKind::Video),
                    "sample_rate": (t.kind == TrackKind::Audio).then_some(t.sample_rate),
                    "channels": (t.kind == TrackKind::Audio).then_some(t.channels),
                    "timescale": t.is_fmp4().then_some(t.map.timescale),
                });
                // Only encrypted renditions say how (the clear info is as before).
                if let Some(k) = self.track_key(t.id) {
                    v["encryption"] = serde_json::json!({
                        "method": k.method.name(),
                        "uri": k.uri,
                        "key_id": crate::model::encryption::hex(&k.key_id),
                        "iv": match k.iv {
                            crate::model::encryption::IvPolicy::SegmentNumber => "segment-number",
                            crate::model::encryption::IvPolicy::Constant(_) => "constant",
                        },
                        "keyformat": k.keyformat,
                        "keyformatversions": k.keyformat_versions,
                        "pssh": !k.pssh.is_empty(),
                    });
                }
                v
            })
            .collect();
        let ld = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let r = &self.reads;
        let source = ix.identity.is_source().then(|| {
            serde_json::json!({
                "identity": self.key.location.describe(),
                "size": ix.identity.size,
                "open_reads": r.open_reads,
                "open_bytes": r.open_bytes,
                "segments_read": ld(&r.segments),
                "segment_reads": ld(&r.segment_reads),
                "segment_bytes": ld(&r.segment_bytes),
            })
        });
        let mut info = serde_json::json!({
            "path": ix.path.display().to_string(),
            "format": ix.format,
            "duration": us_to_seconds(ix.duration_us),
            "segments": ix.segment_count(),
            "target_duration": playlist::target_duration(ix),
            "indexed_from": ix.indexed_from.name(),
            "index_time_ms": ix.index_time.as_secs_f64() * 1e3,
            "index_from_disk": matches!(self.origin, IndexOrigin::Disk(_)),
            "tracks": tracks,
            "thumbnails": self.thumbnails_json(),
        });
        if let (Some(source), Some(obj)) = (source, info.as_object_mut()) {
            obj.insert("source".into(), source);
        }
        // --- clip --- (only for clips: whole files' info is unchanged)
        if let (Some(c), Some(o)) = (self.key.options.clip, info.as_object_mut()) {
            o.insert(
                "clip".into(),
                serde_json::json!({ "from_ms": c.from_ms, "to_ms": c.to_ms, "policy": c.policy.name() }),
            );
        }
        info.to_string()
    }
}
