//! Scrubbing thumbnails as plain values: the settings, the size of a thumbnail, and the layout of
//! the WebVTT thumbnail track (which tile of which sprite sheet shows which time). The WebVTT
//! writer (`output/`) and the sheet maker (`thumbnail/`) both read this one layout, so the
//! `#xywh=` of a cue and the tile drawn there cannot disagree.
//!
//! Times are on the playlist timeline: 0 is the start of the first segment, the time a player's
//! `currentTime` counts from.

/// Tiles per row of a sprite sheet.
pub const SHEET_COLUMNS: u32 = 5;
/// Rows of tiles per sprite sheet.
pub const SHEET_ROWS: u32 = 5;
/// Tiles per sprite sheet.
pub const TILES_PER_SHEET: u64 = (SHEET_COLUMNS * SHEET_ROWS) as u64;

/// Default thumbnail (and tile) width in pixels.
pub const DEFAULT_WIDTH: u32 = 320;
/// Default time between two tiles of the thumbnail track, in milliseconds.
pub const DEFAULT_INTERVAL_MS: u32 = 10_000;

/// Thumbnail settings of a context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThumbSettings {
    /// Width of a thumbnail and of a sprite tile in pixels; 0: no thumbnails.
    pub width: u32,
    /// Time between two tiles of `thumbnails.vtt`, in milliseconds.
    pub interval_ms: u32,
}

impl Default for ThumbSettings {
    fn default() -> ThumbSettings {
        ThumbSettings { width: DEFAULT_WIDTH, interval_ms: DEFAULT_INTERVAL_MS }
    }
}

impl ThumbSettings {
    /// True when thumbnails are served.
    pub fn enabled(&self) -> bool {
        self.width > 0 && self.interval_ms > 0
    }

    /// Thumbnail size for a picture shown at `display` (width, height after the sample aspect
    /// ratio and the display matrix): the configured width, the height that keeps the display
    /// aspect ratio, both even (4:2:0 JPEG) and at least 2.
    pub fn size(&self, display: (u32, u32)) -> (u32, u32) {
        let w = even(self.width);
        let (dw, dh) = (u64::from(display.0.max(1)), u64::from(display.1.max(1)));
        let h = (u64::from(w) * dh + dw / 2) / dw;
        (w, even(u32::try_from(h).unwrap_or(u32::MAX)))
    }

    /// The tiles of a presentation lasting `duration_ms`.
    pub fn layout(&self, duration_ms: u64) -> Layout {
        let interval = u64::from(self.interval_ms.max(1));
        Layout { interval_ms: interval, duration_ms, tiles: duration_ms.div_ceil(interval) }
    }
}

/// Rounds down to an even number, at least 2.
fn even(v: u32) -> u32 {
    (v & !1).max(2)
}

/// Where the tiles of the thumbnail track are: tile `i` shows time `i * interval` and is the cue
/// `[i * interval, min((i + 1) * interval, duration))`; it sits in sheet `i / 25`, at column
/// `i % 5` and row `(i / 5) % 5` of that sheet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Time between tiles (ms).
    pub interval_ms: u64,
    /// Presentation duration (ms).
    pub duration_ms: u64,
    /// Number of tiles (cues).
    pub tiles: u64,
}

/// One tile's place and times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Sprite sheet number (`thumbs_<sheet>.jpg`).
    pub sheet: u64,
    /// Column in the sheet.
    pub column: u32,
    /// Row in the sheet.
    pub row: u32,
    /// Cue start (ms): the time the tile shows.
    pub start_ms: u64,
    /// Cue end (ms).
    pub end_ms: u64,
}

impl Layout {
    /// Number of sprite sheets.
    pub fn sheets(&self) -> u64 {
        self.tiles.div_ceil(TILES_PER_SHEET)
    }

    /// Tile `i` (`i < tiles`).
    pub fn tile(&self, i: u64) -> Tile {
        let in_sheet = i % TILES_PER_SHEET;
        Tile {
            sheet: i / TILES_PER_SHEET,
            column: (in_sheet % u64::from(SHEET_COLUMNS)) as u32,
            row: (in_sheet / u64::from(SHEET_COLUMNS)) as u32,
            start_ms: i * self.interval_ms,
            end_ms: ((i + 1) * self.interval_ms).min(self.duration_ms),
        }
    }

    /// The tiles of sheet `sheet`, in order.
    pub fn sheet_tiles(&self, sheet: u64) -> impl Iterator<Item = Tile> + '_ {
        let first = sheet.saturating_mul(TILES_PER_SHEET).min(self.tiles);
        let end = (first + TILES_PER_SHEET).min(self.tiles);
        (first..end).map(|i| self.tile(i))
    }

    /// Columns and rows a sheet's image has: full width once a sheet has more than one row, and
    /// only the rows it uses (the last sheet may be shorter).
    pub fn sheet_grid(&self, sheet: u64) -> (u32, u32) {
        let n = self.sheet_tiles(sheet).count() as u32;
        if n == 0 {
            return (0, 0);
        }
        (n.min(SHEET_COLUMNS), n.div_ceil(SHEET_COLUMNS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_keep_the_display_aspect_ratio() {
        let s = ThumbSettings::default();
        assert_eq!(s.size((1024, 576)), (320, 180));
        assert_eq!(s.size((180, 320)), (320, 568));
        assert_eq!(ThumbSettings { width: 161, interval_ms: 1 }.size((640, 360)), (160, 90));
        assert_eq!(ThumbSettings { width: 2, interval_ms: 1 }.size((10_000, 10)), (2, 2));
    }

    #[test]
    fn tiles_cover_the_duration_in_sheets_of_25() {
        let l = ThumbSettings::default().layout(7_200_000);
        assert_eq!(l.tiles, 720);
        assert_eq!(l.sheets(), 29);
        assert_eq!(l.tile(26), Tile { sheet: 1, column: 1, row: 0, start_ms: 260_000, end_ms: 270_000 });
        assert_eq!(l.sheet_grid(28), (5, 4));
        let short = ThumbSettings::default().layout(30_040);
        assert_eq!(short.tiles, 4);
        assert_eq!(short.tile(3).end_ms, 30_040);
        assert_eq!(short.sheet_grid(0), (4, 1));
        assert_eq!(short.sheet_grid(1), (0, 0));
    }
}
