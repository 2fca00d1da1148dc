//! Scrubbing thumbnails of one opened media: `thumb_<ms>.jpg`, the WebVTT thumbnail track
//! `thumbnails.vtt` and its sprite sheets `thumbs_<k>.jpg`.
//!
//! **Which picture**: a thumbnail of time `t` (ms on the playlist timeline, 0 = start of the
//! first segment) shows the last keyframe (a picture that decodes alone) presented at or before
//! `t`, in the segment that holds `t`; so it is at most one keyframe interval early. Only that
//! keyframe is read and decoded: MP4 sample tables give its file position (one positioned read
//! of one sample); other containers read the one segment that holds it through the segment
//! readers (the Matroska block walk from the segment's cluster, or a demuxer seek), never from the
//! start of the file. A sheet decodes at most one keyframe per tile (tiles showing the same
//! keyframe share one decode).
//!
//! **Which track**: the first served video track whose samples are copied.

use crate::container::read::read_vec_at;
use crate::engine::cache::Bytes;
use crate::engine::media::Media;
use crate::error::{Error, ErrorKind, Result};
use crate::model::names::Resource;
use crate::model::thumbs::Layout;
use crate::model::track::{Delivery, SampleReader, Track, TrackKind};
use crate::output::{fmp4, webvtt};
use crate::thumbnail::{self, Image, Keyframe};
use crate::{codec, codec::Codec};

/// One keyframe read for a thumbnail: its bytes and when it is presented (µs, presentation
/// timeline).
struct Key {
    sample: Vec<u8>,
    pts_us: i64,
}

/// The last segment read for keyframes (by the readers other than MP4 sample tables): a sheet's
/// tiles that fall in one segment read it once.
#[derive(Default)]
struct SegmentMemo {
    segment: Option<(usize, Bytes, Vec<fmp4::ReadSample>)>,
}

impl Media {
    /// The video track thumbnails are made from.
    fn thumb_track(&self) -> Option<&Track> {
        self.index
            .served(TrackKind::Video)
            .find(|t| matches!(t.delivery, Delivery::Copy { .. }) && !t.segments.is_empty())
    }

    /// Presentation start (µs) and duration (ms) of the playlist timeline.
    fn thumb_timeline(&self) -> (i64, u64) {
        let b = &self.index.boundaries_us;
        let (first, last) = (b.first().copied().unwrap_or(0), b.last().copied().unwrap_or(0));
        (first, ((last - first).max(0) / 1000) as u64)
    }

    fn thumb_layout(&self) -> Layout {
        self.thumbs.layout(self.thumb_timeline().1)
    }

    /// The size of a thumbnail (and of a tile) of `t`.
    fn thumb_size(&self, t: &Track) -> (u32, u32) {
        self.thumbs.size(t.displayed_size())
    }

    /// What the info JSON says of the thumbnails: `null` when there are none.
    pub(crate) fn thumbnails_json(&self) -> serde_json::Value {
        let Some(t) = self.thumb_track().filter(|_| self.thumbs.enabled()) else { return serde_json::Value::Null };
        let layout = self.thumb_layout();
        let (w, h) = self.thumb_size(t);
        serde_json::json!({
            "track": Resource::ThumbnailTrack.name(),
            "thumbnail": "thumb_<ms>.jpg",
            "rendition": t.id.to_string(),
            "width": w,
            "height": h,
            "interval": layout.interval_ms as f64 / 1000.0,
            "tiles": layout.tiles,
            "sheets": layout.sheets(),
            "sheet_columns": crate::model::thumbs::SHEET_COLUMNS,
            "sheet_rows": crate::model::thumbs::SHEET_ROWS,
        })
    }

    /// Checks that a thumbnail resource exists (else `NotFound`, saying why).
    pub(crate) fn check_thumbnail(&self, r: &Resource, name: &str) -> Result<()> {
        let missing = |why: String| Err(Error::new(ErrorKind::NotFound, format!("{name}: {why}")));
        if !self.thumbs.enabled() {
            return missing("thumbnails are disabled (thumbnail width 0)".into());
        }
        if self.thumb_track().is_none() {
            let why = if self.index.served(TrackKind::Video).next().is_none() {
                "has no video (audio only): there are no thumbnails"
            } else {
                "has no video track served as copied samples: there are no thumbnails"
            };
            return missing(format!("{} {why}", self.index.path.display()));
        }
        let (_, duration_ms) = self.thumb_timeline();
        match *r {
            Resource::Thumbnail(ms) if ms >= duration_ms => missing(format!(
                "{ms} ms is past the end of the presentation ({duration_ms} ms): thumbnails exist for 0..{duration_ms} ms"
            )),
            Resource::ThumbnailSheet(k) if k >= self.thumb_layout().sheets() => {
                missing(format!("the thumbnail track has {} sprite sheets", self.thumb_layout().sheets()))
            }
            _ => Ok(()),
        }
    }

    /// Generates a thumbnail resource that [`Media::check_thumbnail`] accepted.
    pub(crate) fn generate_thumbnail(&self, r: &Resource) -> Result<Vec<u8>> {
        let t = self.thumb_track().ok_or_else(|| Error::internal("no thumbnail track"))?;
        let ctx = |e: Error| e.context(format!("{}: {}", self.index.path.display(), r.name()));
        let (origin_us, _) = self.thumb_timeline();
        match *r {
            Resource::ThumbnailTrack => Ok(webvtt::render_thumbnail_track(&self.thumb_layout(), self.thumb_size(t))),
            Resource::Thumbnail(ms) => {
                let key =
                    self.keyframe_at(t, origin_us + ms as i64 * 1000, &mut SegmentMemo::default()).map_err(ctx)?;
                let image = self.render(t, &key, self.thumb_size(t)).map_err(ctx)?;
                Ok(thumbnail::jpeg(&image)?)
            }
            Resource::ThumbnailSheet(k) => self.sheet(t, k, origin_us).map_err(ctx),
            _ => Err(Error::internal("not a thumbnail")),
        }
    }

    /// Sprite sheet `k`: its tiles in rows of five, each the keyframe at its cue's start.
    fn sheet(&self, t: &Track, k: u64, origin_us: i64) -> Result<Vec<u8>> {
        let layout = self.thumb_layout();
        let (cols, rows) = layout.sheet_grid(k);
        let (w, h) = self.thumb_size(t);
        let mut sheet = Image::black(cols * w, rows * h);
        let mut last: Option<(i64, Image)> = None;
        let mut memo = SegmentMemo::default();
        for tile in layout.sheet_tiles(k) {
            let key = self.keyframe_at(t, origin_us + tile.start_ms as i64 * 1000, &mut memo)?;
            let image = match last.take() {
                Some((pts, image)) if pts == key.pts_us => image,
                _ => self.render(t, &key, (w, h))?,
            };
            sheet.place(&image, tile.column * w, tile.row * h);
            last = Some((key.pts_us, image));
        }
        Ok(thumbnail::jpeg(&sheet)?)
    }

    /// Decodes and scales one keyframe of `t`.
    fn render(&self, t: &Track, key: &Key, size: (u32, u32)) -> Result<Image> {
        let Delivery::Copy { config, .. } = &t.delivery else { return Err(Error::internal("not a copied track")) };
        let record = match config.codec {
            Codec::Vp9 => Vec::new(),
            _ => codec::decoder_config_record(config)?,
        };
        let key = Keyframe { codec: config.codec, record: &record, sample: &key.sample };
        Ok(thumbnail::picture(&key, &config.picture, size)?)
    }

    /// The last keyframe of `t` presented at or before `at_us` (presentation timeline), in the
    /// segment that holds `at_us` (its first picture when none is that early).
    fn keyframe_at(&self, t: &Track, at_us: i64, memo: &mut SegmentMemo) -> Result<Key> {
        let b = &self.index.boundaries_us;
        let k = b.partition_point(|&x| x <= at_us).saturating_sub(1).min(t.segments.len() - 1);
        if let SampleReader::ByPosition { table } = &t.reader {
            let seg = t.segments[k];
            let recs = table
                .range(seg.first as usize..seg.first as usize + seg.samples as usize)
                .ok_or_else(|| Error::internal("segment outside the sample table"))?
                .map_err(|_| self.damaged_error())?;
            if recs.is_empty() {
                return Err(Error::internal("segment outside the sample table"));
            }
            let pick = recs
                .iter()
                .filter(|r| r.key() && t.map.out_us(r.pts()) <= at_us)
                .max_by_key(|r| r.pts())
                .unwrap_or(&recs[0]);
            let len = pick.size() as usize;
            let sample = read_vec_at(self.checked_input()?, pick.pos, len, len).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidMedia,
                    format!("sample at byte {}: {e} (file truncated or changed)", pick.pos),
                )
            })?;
            return Ok(Key { sample, pts_us: t.map.out_us(pick.pts()) });
        }
        // Other readers: the segment as served, its samples read back from its trun.
        if memo.segment.as_ref().is_none_or(|(j, ..)| *j != k) {
            let segment = self.materialise(self.media_segment(t, k)?)?;
            let samples = fmp4::segment_samples(&segment)?;
            memo.segment = Some((k, segment, samples));
        }
        let Some((_, segment, samples)) = &memo.segment else { return Err(Error::internal("no segment")) };
        let pts_us = |s: &fmp4::ReadSample| {
            let out = s.decode_time as i64 + t.map.held + i64::from(s.meta.composition_offset);
            t.map.ticks_to_us(out)
        };
        let pick = samples
            .iter()
            .filter(|s| s.independent && pts_us(s) <= at_us)
            .max_by_key(|s| pts_us(s))
            .or_else(|| samples.first())
            .ok_or_else(|| Error::internal("empty segment"))?;
        Ok(Key { sample: segment[pick.bytes.clone()].to_vec(), pts_us: pts_us(pick) })
    }
}
