//! PDF: passed through byte for byte. Only the header and the end-of-file marker are checked, so
//! a truncated upload is refused; the document itself (its info dictionary, XMP, any images with
//! their own EXIF) is not inspected or changed.

use super::{MediaError, Parsed, Piece, corrupt};

/// Readers accept `%%EOF` anywhere in the last kilobyte (Acrobat's own tolerance).
const EOF_WINDOW: usize = 1024;

pub(super) fn parse(data: &[u8]) -> Result<Parsed<'_>, MediaError> {
    let tail = &data[data.len().saturating_sub(EOF_WINDOW)..];
    if !tail.windows(5).any(|w| w == b"%%EOF") {
        return Err(corrupt("PDF has no %%EOF marker at its end (truncated?)"));
    }
    Ok(Parsed {
        dims: None,
        orientation: 1,
        pieces: vec![Piece::Borrowed(data)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eof_marker_must_be_near_the_end() {
        assert!(parse(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n").is_ok());
        assert!(parse(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EO").is_err());
        let mut early = b"%PDF-1.4\n%%EOF\n".to_vec();
        early.extend(std::iter::repeat_n(b' ', 2000));
        assert!(parse(&early).is_err());
    }
}
