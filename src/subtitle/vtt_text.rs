//! ASS event text and plain text to WebVTT cue text, as FFmpeg's `webvtt` encoder converts it
//! (override tags to `<b>`/`<i>`/`<u>`, line breaks), plus escaping of `&`, `<`, `>`, `\h` as a
//! space, dropped drawings and dropped empty lines.

#![deny(unsafe_code)]

use std::fmt::Write as _;

use super::ass::{find_style, split_dialog, AssStyle};

/// Maximum depth of nested styling tags, as in FFmpeg's `webvtt` encoder.
const TAG_STACK_LIMIT: usize = 64;
/// Longest style name a `\r` override may carry (FFmpeg's `\r%127[^\}]`).
const MAX_STYLE_NAME_LEN: usize = 127;

/// ASS event text (the Text field of a Dialogue, i.e. after the 8th comma of
/// `ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text`) to
/// WebVTT cue text, as FFmpeg's `webvtt` encoder converts it:
/// `\N`/`\n` → newline, `{\i1}`/`{\i0}` → `<i>`/`</i>`, `{\b1}`/`{\b0}` →
/// `<b>`/`</b>`, `{\u1}`/`{\u0}` → `<u>`/`</u>` (closing a tag also closes
/// the tags opened after it), `{\r}` closes all, other override tags are
/// removed and tags still open are closed at the end. In addition `\h` →
/// space, drawings (`{\p1}` … `{\p0}`) are removed, `&`, `<`, `>` are
/// escaped and empty lines are dropped. No style is applied (see
/// [`CueExtractor`](super::CueExtractor) for styled events).
pub fn ass_text_to_webvtt(ass_text: &str) -> String {
    let mut writer = VttWriter::new(&[]);
    write_ass_text(&mut writer, ass_text);
    drop_empty_lines(&writer.finish())
}

/// Converts a full decoded ASS event line (`ReadOrder,Layer,Style,...,Text`),
/// applying the bold/italic/underline of its style first.
pub(super) fn ass_event_to_webvtt(line: &str, styles: &[AssStyle]) -> String {
    let (style, text) = split_dialog(line);
    let mut writer = VttWriter::new(styles);
    writer.apply_style(style);
    write_ass_text(&mut writer, text);
    drop_empty_lines(&writer.finish())
}

/// Plain subtitle text to WebVTT: escaped, empty lines dropped.
pub(super) fn plain_text_to_webvtt(text: &str) -> String {
    let mut writer = VttWriter::new(&[]);
    writer.text(text);
    drop_empty_lines(&writer.finish())
}

/// Builds WebVTT text with a stack of open `b`/`i`/`u` tags, mirroring the
/// callbacks of FFmpeg's `webvtt` encoder.
struct VttWriter<'s> {
    out: String,
    stack: Vec<u8>,
    drawing: bool,
    styles: &'s [AssStyle],
}

impl<'s> VttWriter<'s> {
    /// An empty writer resolving `\r` and event styles in `styles`.
    fn new(styles: &'s [AssStyle]) -> Self {
        VttWriter { out: String::new(), stack: Vec::new(), drawing: false, styles }
    }

    /// Appends escaped text (nothing while in drawing mode).
    fn text(&mut self, run: &str) {
        if self.drawing {
            return;
        }
        for ch in run.chars() {
            match ch {
                '&' => self.out.push_str("&amp;"),
                '<' => self.out.push_str("&lt;"),
                '>' => self.out.push_str("&gt;"),
                other => self.out.push(other),
            }
        }
    }

    /// Appends a line break (nothing while in drawing mode).
    fn new_line(&mut self) {
        if !self.drawing {
            self.out.push('\n');
        }
    }

    /// A `\b`, `\i`, `\s`, `\u` override: open, or close down to the last
    /// open tag of that kind (strike-through is not supported).
    fn style(&mut self, tag: u8, open: bool) {
        if tag == b's' {
            return;
        }
        if open {
            self.open_tag(tag);
        } else if let Some(pos) = self.stack.iter().rposition(|&t| t == tag) {
            self.close_down_to(pos);
        }
    }

    /// `\r[Style]`: closes every tag and applies the named style ("Default"
    /// when unnamed).
    fn cancel_overrides(&mut self, style: &str) {
        self.close_down_to(0);
        self.apply_style(style);
    }

    /// Opens the tags for the bold/italic/underline flags of a style.
    fn apply_style(&mut self, name: &str) {
        let Some(style) = find_style(self.styles, name) else {
            return;
        };
        let (bold, italic, underline) = (style.bold, style.italic, style.underline);
        for (on, tag) in [(bold, b'b'), (italic, b'i'), (underline, b'u')] {
            if on {
                self.open_tag(tag);
            }
        }
    }

    /// Pushes and writes an opening tag, unless the stack is full.
    fn open_tag(&mut self, tag: u8) {
        if self.stack.len() < TAG_STACK_LIMIT {
            self.stack.push(tag);
            self.out.push('<');
            self.out.push(char::from(tag));
            self.out.push('>');
        }
    }

    /// Closes open tags until only `len` remain.
    fn close_down_to(&mut self, len: usize) {
        while self.stack.len() > len {
            if let Some(tag) = self.stack.pop() {
                let _ = write!(self.out, "</{}>", char::from(tag));
            }
        }
    }

    /// Closes every open tag and returns the text.
    fn finish(mut self) -> String {
        self.close_down_to(0);
        self.out
    }
}

/// Walks ASS text: text runs, `\N`/`\n` line breaks, `\h` hard spaces and
/// `{\...}` override blocks (a `{` not followed by `\` is plain text).
fn write_ass_text(writer: &mut VttWriter<'_>, text: &str) {
    let bytes = text.as_bytes();
    let (mut i, mut run_start) = (0, 0);
    while i < bytes.len() {
        let next = match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'n' | b'N')) => Some(Token::NewLine),
            (b'\\', Some(b'h')) => Some(Token::HardSpace),
            (b'{', Some(b'\\')) => Some(Token::Block),
            _ => None,
        };
        let Some(token) = next else {
            i += 1;
            continue;
        };
        writer.text(text.get(run_start..i).unwrap_or(""));
        i = match token {
            Token::NewLine => {
                writer.new_line();
                i + 2
            }
            Token::HardSpace => {
                writer.text(" ");
                i + 2
            }
            Token::Block => parse_override_block(writer, text, i + 1),
        };
        run_start = i;
    }
    writer.text(text.get(run_start..).unwrap_or(""));
}

/// What interrupts a text run.
enum Token {
    NewLine,
    HardSpace,
    Block,
}

/// Parses the override codes of a `{\...}` block starting at the first `\`;
/// returns the index after the closing `}` (or the end of the text).
/// Junk between codes is skipped up to the next `\` or `}`.
fn parse_override_block(writer: &mut VttWriter<'_>, text: &str, mut i: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        match bytes.get(i) {
            Some(b'\\') => i = parse_override_code(writer, text, i),
            Some(b'}') => return i + 1,
            Some(_) => i = skip_to_separator(bytes, i),
            None => return bytes.len(),
        }
    }
}

/// Index of the next `\` or `}` at or after `from` (or the end of `bytes`).
fn skip_to_separator(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|tail| tail.iter().position(|&c| c == b'\\' || c == b'}'))
        .map_or(bytes.len(), |p| from + p)
}

/// Applies one override code starting at the `\` at `i`; returns the index
/// after it (always > `i`). Codes WebVTT cannot express are skipped.
fn parse_override_code(writer: &mut VttWriter<'_>, text: &str, i: usize) -> usize {
    let bytes = text.as_bytes();
    if let Some(next) = style_code(writer, bytes, i) {
        return next;
    }
    if let Some(next) = reset_code(writer, text, i) {
        return next;
    }
    if let Some(next) = drawing_code(writer, bytes, i) {
        return next;
    }
    skip_to_separator(bytes, i + 1)
}

/// `\b1` `\b0` `\b` (and `i`, `s`, `u`), as FFmpeg's `\%1[bisu]%1[01\}]`: a
/// tag letter then `1` (open), `0` or a separator (close).
fn style_code(writer: &mut VttWriter<'_>, bytes: &[u8], i: usize) -> Option<usize> {
    let tag = *bytes.get(i + 1)?;
    if !b"bisu".contains(&tag) {
        return None;
    }
    let (open, next) = match *bytes.get(i + 2)? {
        b'1' => (true, i + 3),
        b'0' => (false, i + 3),
        b'\\' | b'}' => (false, i + 2),
        _ => return None,
    };
    writer.style(tag, open);
    Some(next)
}

/// `\r` or `\rStyle` followed by a separator: cancel overrides.
fn reset_code(writer: &mut VttWriter<'_>, text: &str, i: usize) -> Option<usize> {
    if text.as_bytes().get(i + 1) != Some(&b'r') {
        return None;
    }
    let sep = skip_to_separator(text.as_bytes(), i + 2);
    let name = text.get(i + 2..sep)?;
    if sep >= text.len() || name.len() > MAX_STYLE_NAME_LEN {
        return None;
    }
    writer.cancel_overrides(name);
    Some(sep)
}

/// `\p<scale>`: drawing mode on (scale > 0) or off (0).
fn drawing_code(writer: &mut VttWriter<'_>, bytes: &[u8], i: usize) -> Option<usize> {
    if bytes.get(i + 1) != Some(&b'p') {
        return None;
    }
    let digits = bytes.get(i + 2..)?;
    let count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 {
        return None;
    }
    writer.drawing = digits[..count].iter().any(|&d| d != b'0');
    Some(skip_to_separator(bytes, i + 2 + count))
}

/// Removes empty (or blank) lines, which would end a WebVTT cue early;
/// a carriage return counts as a line break.
fn drop_empty_lines(text: &str) -> String {
    let lines: Vec<&str> = text.split(['\n', '\r']).filter(|line| !line.trim().is_empty()).collect();
    lines.join("\n")
}

/// True when the cue text has nothing but tags and white space.
pub(super) fn is_visibly_empty(text: &str) -> bool {
    let mut in_tag = false;
    for ch in text.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_whitespace() => return false,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ass_text_conversion() {
        let cases = [
            (r"{\pos(10,10)}{\i1}x{\i0}\Ny", "<i>x</i>\ny"),
            (r"a\nb", "a\nb"),
            (r"a\hb", "a b"),
            (r"before{\p1}m 0 0 l 100 0{\p0}after", "beforeafter"),
            (r"{\p1}m 0 0 l 100 0", ""),
            ("x & y <z> -->", "x &amp; y &lt;z&gt; --&gt;"),
            (r"{\b1}a{\i1}b{\b0}c{\i0}d", "<b>a<i>b</i></b>cd"),
            (r"{\i1}a{\i1}b{\i0}c", "<i>a<i>b</i>c</i>"),
            (r"{\b1\i1}open", "<b><i>open</i></b>"),
            (r"{\u1}u{\r}plain", "<u>u</u>plain"),
            (r"{\i1}a{\i}b", "<i>a</i>b"),
            (r"{\s1}s{\s0}", "s"),
            (r"{\fnArial\fs20\c&H00FF00&\an8\blur2\be1}t", "t"),
            ("{comment}t}", "{comment}t}"),
            (r"{\i1 }x", "<i>x</i>"),
            (r"a\N\Nb\N", "a\nb"),
            (r"x{\i1", "x<i></i>"),
            ("", ""),
        ];
        for (ass, vtt) in cases {
            assert_eq!(ass_text_to_webvtt(ass), vtt, "{ass:?}");
        }
    }
}
