//! What text a person may send us. Staff read names, notes and file names on screens and in
//! CSV/PDF manifests, and PostgreSQL refuses NUL outright, so text carries no control characters
//! and no bidi controls (which reorder what a reader sees); a multi-line field may hold tabs and
//! line breaks.

/// Whether a field may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, codes, addresses, identifiers: one line.
    Single,
    /// Notes and reasons a person writes: tab, LF and CR allowed.
    Multi,
}

impl Lines {
    /// What a refused value must be, for the field's problem message.
    pub fn rule(self) -> &'static str {
        match self {
            Lines::Single => {
                "must be one line without control characters (NUL, tab, line breaks) or bidi controls (U+202A–U+202E, U+2066–U+2069)"
            }
            Lines::Multi => {
                "must not contain control characters other than tab and line breaks, nor bidi controls (U+202A–U+202E, U+2066–U+2069)"
            }
        }
    }
}

/// `Err` with the rule when `text` holds a character its kind of field refuses.
pub fn check(text: &str, lines: Lines) -> Result<(), &'static str> {
    if text.chars().any(|c| refused(c, lines)) {
        Err(lines.rule())
    } else {
        Ok(())
    }
}

fn refused(c: char, lines: Lines) -> bool {
    match c {
        '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => lines == Lines::Single,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => true,
        // C0, DEL and C1.
        c => c.is_control(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Lines, check};

    #[test]
    fn plain_text_in_any_script_passes() {
        for ok in ["张三", "O'Brien-Smith", "Zoë", "营业执照 (副本).pdf", "a b"] {
            assert!(check(ok, Lines::Single).is_ok(), "{ok}");
            assert!(check(ok, Lines::Multi).is_ok(), "{ok}");
        }
    }

    #[test]
    fn line_breaks_and_tabs_only_in_multi_line_text() {
        for text in ["line one\nline two", "a\tb", "windows\r\nline"] {
            assert!(check(text, Lines::Single).is_err(), "{text:?}");
            assert!(check(text, Lines::Multi).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn nul_other_controls_and_bidi_controls_never() {
        for bad in [
            "adm\0in",
            "a\u{7}b",
            "a\u{1b}[31m",
            "a\u{7f}",
            "a\u{85}b",
            "evil\u{202E}fdp.exe",
            "a\u{2066}b",
            "a\u{2069}",
        ] {
            assert!(check(bad, Lines::Single).is_err(), "{bad:?}");
            assert!(check(bad, Lines::Multi).is_err(), "{bad:?}");
        }
    }
}
