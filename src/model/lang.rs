//! Languages as players want them: the RFC 5646 tag of a container's language code (ISO 639-2
//! `fre`/`fra` → `fr`, `pt-BR` kept) and the language's name in that language ("Français"), for
//! the common languages of film and TV.

/// ISO 639-1 code, ISO 639-2/T code, ISO 639-2/B code (when it differs, else the /T code), and
/// the language's name in that language.
const LANGUAGES: &[(&str, &str, &str, &str)] = &[
    ("af", "afr", "afr", "Afrikaans"),
    ("ar", "ara", "ara", "العربية"),
    ("bg", "bul", "bul", "Български"),
    ("bn", "ben", "ben", "বাংলা"),
    ("bs", "bos", "bos", "Bosanski"),
    ("ca", "cat", "cat", "Català"),
    ("cs", "ces", "cze", "Čeština"),
    ("cy", "cym", "wel", "Cymraeg"),
    ("da", "dan", "dan", "Dansk"),
    ("de", "deu", "ger", "Deutsch"),
    ("el", "ell", "gre", "Ελληνικά"),
    ("en", "eng", "eng", "English"),
    ("es", "spa", "spa", "Español"),
    ("et", "est", "est", "Eesti"),
    ("eu", "eus", "baq", "Euskara"),
    ("fa", "fas", "per", "فارسی"),
    ("fi", "fin", "fin", "Suomi"),
    ("fr", "fra", "fre", "Français"),
    ("ga", "gle", "gle", "Gaeilge"),
    ("gl", "glg", "glg", "Galego"),
    ("he", "heb", "heb", "עברית"),
    ("hi", "hin", "hin", "हिन्दी"),
    ("hr", "hrv", "hrv", "Hrvatski"),
    ("hu", "hun", "hun", "Magyar"),
    ("hy", "hye", "arm", "Հայերեն"),
    ("id", "ind", "ind", "Bahasa Indonesia"),
    ("is", "isl", "ice", "Íslenska"),
    ("it", "ita", "ita", "Italiano"),
    ("ja", "jpn", "jpn", "日本語"),
    ("ka", "kat", "geo", "ქართული"),
    ("ko", "kor", "kor", "한국어"),
    ("la", "lat", "lat", "Latina"),
    ("lt", "lit", "lit", "Lietuvių"),
    ("lv", "lav", "lav", "Latviešu"),
    ("mk", "mkd", "mac", "Македонски"),
    ("ms", "msa", "may", "Bahasa Melayu"),
    ("nb", "nob", "nob", "Norsk bokmål"),
    ("nl", "nld", "dut", "Nederlands"),
    ("nn", "nno", "nno", "Norsk nynorsk"),
    ("no", "nor", "nor", "Norsk"),
    ("pl", "pol", "pol", "Polski"),
    ("pt", "por", "por", "Português"),
    ("ro", "ron", "rum", "Română"),
    ("ru", "rus", "rus", "Русский"),
    ("sk", "slk", "slo", "Slovenčina"),
    ("sl", "slv", "slv", "Slovenščina"),
    ("sq", "sqi", "alb", "Shqip"),
    ("sr", "srp", "srp", "Српски"),
    ("sv", "swe", "swe", "Svenska"),
    ("sw", "swa", "swa", "Kiswahili"),
    ("ta", "tam", "tam", "தமிழ்"),
    ("te", "tel", "tel", "తెలుగు"),
    ("th", "tha", "tha", "ไทย"),
    ("tl", "tgl", "tgl", "Tagalog"),
    ("tr", "tur", "tur", "Türkçe"),
    ("uk", "ukr", "ukr", "Українська"),
    ("ur", "urd", "urd", "اردو"),
    ("vi", "vie", "vie", "Tiếng Việt"),
    ("zh", "zho", "chi", "中文"),
];

/// The table row of a primary language subtag (two or three letters, any case).
fn row(primary: &str) -> Option<&'static (&'static str, &'static str, &'static str, &'static str)> {
    let p = primary.to_ascii_lowercase();
    LANGUAGES.iter().find(|r| r.0 == p || r.1 == p || r.2 == p)
}

/// The RFC 5646 tag of a container's language (ISO 639-2/B or /T, ISO 639-1, or already a BCP 47
/// tag such as `pt-BR`): the primary subtag is the two-letter code where ISO 639-1 has one, the
/// other subtags are kept in their conventional case (`zh-Hant-TW`). `None` for no language
/// (`und`, empty, or not a language tag at all).
pub fn rfc5646(code: &str) -> Option<String> {
    let code = code.trim();
    let mut parts = code.split(['-', '_']);
    let primary = parts.next()?.to_ascii_lowercase();
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) || primary == "und" {
        return None;
    }
    let mut tag = row(&primary).map_or(primary, |r| r.0.to_string());
    for sub in parts {
        if sub.is_empty() || !sub.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        tag.push('-');
        match sub.len() {
            2 => tag.push_str(&sub.to_ascii_uppercase()),
            4 => {
                let (first, rest) = sub.split_at(1);
                tag.push_str(&first.to_ascii_uppercase());
                tag.push_str(&rest.to_ascii_lowercase());
            }
            _ => tag.push_str(&sub.to_ascii_lowercase()),
        }
    }
    Some(tag)
}

/// The language's name in that language ("Français" for `fr`, `fre`, `fra` or `fr-CA`), for the
/// languages of the table.
pub fn native_name(code: &str) -> Option<&'static str> {
    let primary = code.trim().split(['-', '_']).next()?;
    row(primary).map(|r| r.3)
}

/// True when `s` is a bare language code (`eng`, `fr`, `pt-BR`, `und`): what some muxers write as
/// a track title, and no name for a viewer.
pub fn is_code(s: &str) -> bool {
    let s = s.trim();
    let primary = s.split(['-', '_']).next().unwrap_or("");
    primary.eq_ignore_ascii_case("und")
        || (row(primary).is_some() && s.split(['-', '_']).skip(1).all(|p| (2..=8).contains(&p.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_codes_become_rfc5646_tags() {
        for (code, tag) in [
            ("eng", "en"),
            ("fre", "fr"),
            ("fra", "fr"),
            ("ger", "de"),
            ("deu", "de"),
            ("spa", "es"),
            ("por", "pt"),
            ("chi", "zh"),
            ("zho", "zh"),
            ("jpn", "ja"),
            ("dut", "nl"),
            ("EN", "en"),
            ("pt-BR", "pt-BR"),
            ("por-br", "pt-BR"),
            ("zh_hant_tw", "zh-Hant-TW"),
            ("es-419", "es-419"),
            ("fil", "fil"),
        ] {
            assert_eq!(rfc5646(code).as_deref(), Some(tag), "{code}");
        }
        for none in ["und", "", "  ", "x", "english", "en--US", "12"] {
            assert_eq!(rfc5646(none), None, "{none:?}");
        }
    }

    #[test]
    fn every_language_is_named_in_itself() {
        assert_eq!(native_name("fre"), Some("Français"));
        assert_eq!(native_name("ger"), Some("Deutsch"));
        assert_eq!(native_name("pt-BR"), Some("Português"));
        assert_eq!(native_name("spa"), Some("Español"));
        assert_eq!(native_name("qaa"), None);
        assert!(LANGUAGES.len() >= 40);
        for r in LANGUAGES {
            assert_eq!((r.0.len(), r.1.len(), r.2.len()), (2, 3, 3), "{r:?}");
            assert_eq!(rfc5646(r.1).as_deref(), Some(r.0));
            assert_eq!(rfc5646(r.2).as_deref(), Some(r.0));
        }
    }

    #[test]
    fn bare_codes_are_not_titles() {
        for code in ["eng", "EN", "fre", "pt-BR", "und"] {
            assert!(is_code(code), "{code}");
        }
        for title in ["English", "Director's Commentary", "Français 5.1", "en route"] {
            assert!(!is_code(title), "{title}");
        }
    }
}
