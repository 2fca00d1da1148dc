//! ASS/SSA: the styles of the subtitle header (`[V4+ Styles]` / `[V4 Styles]`), parsed the way
//! FFmpeg's `ass_split` does, the style lookup of `ff_ass_style_get`, and the fields of a decoded
//! event line.

#![deny(unsafe_code)]

/// Index of the `[V4+ Styles]` section (ASS) in the per-section tables.
const V4_PLUS: usize = 0;
/// Index of the `[V4 Styles]` section (SSA) in the per-section tables.
const V4: usize = 1;
/// Longest section name FFmpeg reads (`ass_split.c`: `[%15[0-9A-Za-z+ ]]`).
const MAX_SECTION_NAME_LEN: usize = 15;
/// Fields of a decoded event line before its Text:
/// `ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect`.
const EVENT_FIELDS_BEFORE_TEXT: usize = 8;
/// Position of the Style field in a decoded event line.
const EVENT_STYLE_FIELD: usize = 2;
/// The style an event or `\r` override without a style name uses.
const DEFAULT_STYLE_NAME: &str = "Default";

/// The parts of an ASS style that WebVTT can express.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct AssStyle {
    pub(super) name: String,
    pub(super) bold: bool,
    pub(super) italic: bool,
    pub(super) underline: bool,
}

/// Style fields we care about; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StyleField {
    Name,
    Bold,
    Italic,
    Underline,
    Other,
}

/// Field names of `[V4+ Styles]`, in FFmpeg's (ass_split.c) order.
const V4_PLUS_FIELDS: &[&str] = &[
    "Name",
    "Fontname",
    "Fontsize",
    "PrimaryColour",
    "SecondaryColour",
    "OutlineColour",
    "BackColour",
    "Bold",
    "Italic",
    "Underline",
    "StrikeOut",
    "ScaleX",
    "ScaleY",
    "Spacing",
    "Angle",
    "BorderStyle",
    "Outline",
    "Shadow",
    "Alignment",
    "MarginL",
    "MarginR",
    "MarginV",
    "Encoding",
];

/// Field names of `[V4 Styles]` (SSA), in FFmpeg's order.
const V4_FIELDS: &[&str] = &[
    "Name",
    "Fontname",
    "Fontsize",
    "PrimaryColour",
    "SecondaryColour",
    "TertiaryColour",
    "BackColour",
    "Bold",
    "Italic",
    "BorderStyle",
    "Outline",
    "Shadow",
    "Alignment",
    "MarginL",
    "MarginR",
    "MarginV",
    "AlphaLevel",
    "Encoding",
];

/// Parses the styles of an ASS header the way FFmpeg's `ass_split` does: a
/// `Format:` line fixes the field order, `Style:` lines before it are ignored.
pub(super) fn parse_styles(header: &str) -> Vec<AssStyle> {
    let field_lists = [V4_PLUS_FIELDS, V4_FIELDS];
    let mut orders: [Option<Vec<StyleField>>; 2] = [None, None];
    let mut section: Option<usize> = None;
    let mut styles = Vec::new();
    for line in header.split('\n') {
        let line = line.split('\r').next().unwrap_or("");
        if line.starts_with('[') {
            section = style_section(line);
            continue;
        }
        let Some(idx) = section else { continue };
        if line.starts_with(';') || line.starts_with("!:") {
            continue;
        }
        match (&orders[idx], field_lists.get(idx)) {
            (None, Some(fields)) => {
                if let Some(rest) = line.strip_prefix("Format:") {
                    orders[idx] = Some(parse_format_line(rest, fields));
                }
            }
            (Some(order), _) => {
                if let Some(rest) = line.strip_prefix("Style:") {
                    styles.push(parse_style_line(rest, order));
                }
            }
            _ => {}
        }
    }
    styles
}

/// Index ([`V4_PLUS`] or [`V4`]) of a `[Section]` line that opens a style section.
fn style_section(line: &str) -> Option<usize> {
    let inner = line.get(1..)?;
    let len = inner.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b' ').count();
    if len > MAX_SECTION_NAME_LEN || inner.as_bytes().get(len) != Some(&b']') {
        return None;
    }
    match &inner[..len] {
        "V4+ Styles" => Some(V4_PLUS),
        "V4 Styles" => Some(V4),
        _ => None,
    }
}

/// Parses the field list of a `Format:` line (tokens split on `,` and ` `;
/// a token names the first field it is a prefix of, as in FFmpeg).
fn parse_format_line(rest: &str, fields: &[&str]) -> Vec<StyleField> {
    let mut order = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        s = s.trim_start_matches(' ');
        let len = s.find([',', ' ']).unwrap_or(s.len());
        let (token, tail) = s.split_at(len);
        order.push(style_field(token, fields));
        s = tail.strip_prefix(',').unwrap_or(tail).trim_start_matches(' ');
    }
    order
}

/// The field a `Format:` token designates.
fn style_field(token: &str, fields: &[&str]) -> StyleField {
    match fields.iter().find(|name| name.starts_with(token)) {
        Some(&"Name") => StyleField::Name,
        Some(&"Bold") => StyleField::Bold,
        Some(&"Italic") => StyleField::Italic,
        Some(&"Underline") => StyleField::Underline,
        _ => StyleField::Other,
    }
}

/// Parses the values of a `Style:` line in the given field order.
fn parse_style_line(rest: &str, order: &[StyleField]) -> AssStyle {
    let mut style = AssStyle::default();
    let mut s = rest;
    for (i, field) in order.iter().enumerate() {
        if s.is_empty() {
            break;
        }
        let last = i + 1 == order.len();
        s = s.trim_start_matches(' ');
        let len = if last { s.len() } else { s.find(',').unwrap_or(s.len()) };
        let (value, tail) = s.split_at(len);
        set_style_field(&mut style, *field, value);
        s = tail.strip_prefix(',').unwrap_or(tail).trim_start_matches(' ');
    }
    style
}

/// Stores one parsed style value (integers as C `sscanf("%d")` reads them;
/// an unparsable integer leaves the field unchanged).
fn set_style_field(style: &mut AssStyle, field: StyleField, value: &str) {
    let flag = c_int_is_nonzero(value);
    match field {
        StyleField::Name => style.name = value.to_string(),
        StyleField::Bold => style.bold = flag.unwrap_or(style.bold),
        StyleField::Italic => style.italic = flag.unwrap_or(style.italic),
        StyleField::Underline => style.underline = flag.unwrap_or(style.underline),
        StyleField::Other => {}
    }
}

/// `Some(n != 0)` if `value` starts (after white space) with a decimal
/// integer `n`, else `None`.
fn c_int_is_nonzero(value: &str) -> Option<bool> {
    let s = value.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits: Vec<u8> = s.bytes().take_while(u8::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    Some(digits.iter().any(|&d| d != b'0'))
}

/// The style FFmpeg's `ff_ass_style_get` picks: by exact name, an empty name
/// meaning "Default".
pub(super) fn find_style<'a>(styles: &'a [AssStyle], name: &str) -> Option<&'a AssStyle> {
    let name = if name.is_empty() { DEFAULT_STYLE_NAME } else { name };
    styles.iter().find(|s| s.name == name)
}

/// Splits `ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text`
/// into (Style, Text), skipping spaces before each field as FFmpeg does.
pub(super) fn split_dialog(line: &str) -> (&str, &str) {
    let mut rest = line;
    let mut style = "";
    for field in 0..EVENT_FIELDS_BEFORE_TEXT {
        rest = rest.trim_start_matches(' ');
        let len = rest.find(',').unwrap_or(rest.len());
        let (value, tail) = rest.split_at(len);
        if field == EVENT_STYLE_FIELD {
            style = value;
        }
        rest = tail.strip_prefix(',').unwrap_or(tail);
    }
    (style, rest.trim_start_matches(' '))
}
