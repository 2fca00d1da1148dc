//! Text subtitles served as WebVTT.
//!
//! Cues are extracted **once**: while the media is indexed, or from the track's samples at its
//! first WebVTT request where the container says where they are ([`Cues`]); the indexer feeds
//! every packet of a text subtitle stream to a [`CueExtractor`], which decodes
//! it with FFmpeg's own subtitle decoder (SubRip, ASS/SSA, mov_text/tx3g,
//! WebVTT, ... all come out as ASS events) and converts each event to WebVTT
//! cue text the way FFmpeg's `webvtt` encoder does. The result is a compact,
//! sorted [`CueTrack`]; serving a WebVTT media segment is then a pure
//! in-memory lookup ([`CueTrack::overlapping`], O(log n + k)) plus rendering
//! ([`render_segment`]). Nothing here re-opens the media file, and its cues are read from it once.
//!
//! [`CueTrack`]: crate::model::cues::CueTrack
//! [`Cues`]: crate::model::cues::Cues
//! [`CueTrack::overlapping`]: crate::model::cues::CueTrack::overlapping
//! [`render_segment`]: crate::output::webvtt::render_segment
//!
//! Deliberate differences from `ffmpeg -i SRC -map 0:s:N -f webvtt -`
//! (FFmpeg 5.1), all of which only touch output FFmpeg gets wrong:
//! * `&`, `<`, `>` in the subtitle text are escaped (FFmpeg writes them raw,
//!   which is invalid WebVTT);
//! * `\h` becomes a space and ASS drawings (`{\p1}...{\p0}`) are dropped
//!   (FFmpeg prints `\h` and the drawing commands literally);
//! * empty lines inside a cue are removed (a blank line would end the cue),
//!   and cues with no visible text are skipped (FFmpeg writes empty cues);
//! * cue times are written as `HH:MM:SS.mmm` (FFmpeg omits a zero hour);
//! * a malformed override block (`{\i1 x}`) is skipped up to the next `\` or
//!   `}` instead of dropping the rest of the event, and open tags are always
//!   closed at the end of each event.
//!
//! Files: `classify` (which codecs are served), `extract` ([`CueExtractor`]: the FFmpeg
//! subtitle decoder, pending cues, open ends), `ass` (ASS/SSA styles and event lines),
//! `vtt_text` (ASS event text and plain text to WebVTT cue text). The WebVTT file writer is
//! [`crate::output::webvtt`]; the cue list is [`crate::model::cues`].

#![deny(unsafe_op_in_unsafe_fn)]

mod ass;
mod classify;
mod extract;
mod vtt_text;

pub use classify::classify;
pub use extract::CueExtractor;
pub use vtt_text::ass_text_to_webvtt;

#[cfg(test)]
mod tests;
