//! JPEG: walks every marker segment and entropy-coded scan from SOI to EOI, so a truncated file
//! is caught, and keeps only the segments a decoder needs plus JFIF, ICC and Adobe. EXIF, XMP,
//! IPTC/Photoshop, MPF, maker-note APPn segments and comments are dropped, and so is anything
//! after EOI (phones append motion-photo videos and vendor trailers there).

use super::{Limits, MediaError, Parsed, Piece, check_dimensions, corrupt, exif};

pub(super) const EOI: &[u8] = &[0xFF, 0xD9];

pub(super) fn parse<'a>(data: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, MediaError> {
    let truncated = || corrupt("JPEG ends before its end-of-image marker");
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(corrupt("JPEG does not start with SOI"));
    }
    let mut jfif = None;
    let mut orientation = None;
    let mut body = Vec::new();
    let mut dims = None;
    let mut scans = 0usize;
    let mut pos = 2;
    loop {
        if data.get(pos) != Some(&0xFF) {
            return Err(match data.get(pos) {
                None => truncated(),
                Some(_) => corrupt(format!("JPEG has no marker where one must be, at {pos}")),
            });
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *data.get(pos).ok_or_else(truncated)?;
        pos += 1;
        match marker {
            0xD9 => {
                body.push(Piece::Borrowed(EOI));
                break;
            }
            0xD0..=0xD7 | 0x01 => {
                body.push(Piece::Borrowed(&data[pos - 2..pos]));
                continue;
            }
            0x00 | 0xD8 => return Err(corrupt(format!("JPEG has a stray marker at {pos}"))),
            _ => {}
        }
        let len_bytes = data.get(pos..pos + 2).ok_or_else(truncated)?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            return Err(corrupt(format!("JPEG segment length {len} at {pos}")));
        }
        let end = pos + len;
        // From the last fill byte: extra fill bytes are not copied.
        let segment = data.get(pos - 2..end).ok_or_else(truncated)?;
        let payload = &segment[4..];
        pos = end;
        match marker {
            0xE0 if jfif.is_none() && payload.starts_with(b"JFIF\0") => {
                jfif = jfif_without_thumbnail(segment);
            }
            0xE1 if orientation.is_none() && payload.starts_with(exif::APP1_PREFIX) => {
                orientation = Some(exif::orientation(payload));
            }
            0xE2 if payload.starts_with(b"ICC_PROFILE\0") => body.push(Piece::Borrowed(segment)),
            0xEE if payload.starts_with(b"Adobe") => body.push(Piece::Borrowed(segment)),
            // Every other APPn, and COM: metadata only, never needed to decode.
            0xE0..=0xEF | 0xFE => {}
            // SOF0..SOF15; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if dims.is_none() {
                    let (w, h) = frame_size(payload)?;
                    check_dimensions(w, h, limits)?;
                    dims = Some((w, h));
                }
                body.push(Piece::Borrowed(segment));
            }
            0xDA => {
                if dims.is_none() {
                    return Err(corrupt("JPEG scan comes before any frame header"));
                }
                body.push(Piece::Borrowed(segment));
                let scan_end = scan_end(data, pos).ok_or_else(truncated)?;
                body.push(Piece::Borrowed(&data[pos..scan_end]));
                pos = scan_end;
                scans += 1;
            }
            _ => body.push(Piece::Borrowed(segment)),
        }
    }
    if scans == 0 {
        return Err(corrupt("JPEG holds no image data"));
    }
    let orientation = orientation.unwrap_or(1);
    let mut pieces = vec![Piece::Borrowed(&data[..2])];
    pieces.extend(jfif);
    if orientation != 1 {
        pieces.push(Piece::Owned(app1_exif(orientation)));
    }
    pieces.extend(body);
    Ok(Parsed {
        dims,
        orientation,
        pieces,
    })
}

/// Width and height from a frame header: precision (1), height (2), width (2), ...
pub(super) fn frame_size(payload: &[u8]) -> Result<(u32, u32), MediaError> {
    let p = payload
        .get(..5)
        .ok_or_else(|| corrupt("JPEG frame header is too short"))?;
    let height = u32::from(u16::from_be_bytes([p[1], p[2]]));
    let width = u32::from(u16::from_be_bytes([p[3], p[4]]));
    if height == 0 {
        // Height given later by a DNL marker: legal, never seen from a camera, not supported.
        return Err(corrupt(
            "JPEG defines its height by DNL, which is not supported",
        ));
    }
    Ok((width, height))
}

/// Where the entropy-coded data that starts at `from` ends: at the first marker that is not a
/// stuffed zero (FF 00) or a restart marker (FF D0..D7). `None` when the file ends first.
fn scan_end(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        // memchr is SIMD: entropy-coded data is most of a photo's bytes.
        let ff = i + memchr::memchr(0xFF, &data[i..])?;
        let mut m = ff + 1;
        while data.get(m) == Some(&0xFF) {
            m += 1;
        }
        match *data.get(m)? {
            0x00 | 0xD0..=0xD7 => i = m + 1,
            _ => return Some(ff),
        }
    }
}

/// The JFIF segment with any embedded thumbnail removed: a thumbnail is a second copy of the
/// picture that an editor may have left stale (showing what was cropped away).
pub(super) fn jfif_without_thumbnail(segment: &[u8]) -> Option<Piece<'_>> {
    // FF E0, length, "JFIF\0", version (2), units (1), densities (4), thumbnail w, h (2).
    let fixed = segment.get(..18)?;
    if segment.len() == 18 && fixed[16..] == [0, 0] {
        return Some(Piece::Borrowed(segment));
    }
    let mut v = fixed.to_vec();
    v[2..4].copy_from_slice(&16u16.to_be_bytes());
    v[16] = 0;
    v[17] = 0;
    Some(Piece::Owned(v))
}

/// An APP1 segment holding a minimal EXIF block with only the orientation.
pub(super) fn app1_exif(orientation: u16) -> Vec<u8> {
    let tiff = exif::minimal_tiff(orientation);
    let len = (2 + exif::APP1_PREFIX.len() + tiff.len()) as u16;
    let mut v = vec![0xFF, 0xE1];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(exif::APP1_PREFIX);
    v.extend_from_slice(&tiff);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn scan_end_skips_stuffed_bytes_and_restart_markers() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF, 0xD9];
        assert_eq!(scan_end(&data, 0), Some(7));
        assert_eq!(scan_end(&data[..7], 0), None);
        assert_eq!(scan_end(&[0x01, 0xFF], 0), None);
    }

    #[test]
    fn header_declaring_fifty_thousand_square_is_refused_at_the_frame_header() {
        // SOI, SOF0 declaring 50000 x 50000, and nothing else: no scan needs to exist.
        let mut data = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8];
        data.extend_from_slice(&50000u16.to_be_bytes());
        data.extend_from_slice(&50000u16.to_be_bytes());
        data.extend_from_slice(&[1, 1, 0x11, 0]);
        match parse(&data, &limits()) {
            Err(MediaError::TooManyPixels {
                width: 50000,
                height: 50000,
            }) => {}
            other => panic!("expected TooManyPixels, got {other:?}"),
        }
    }

    #[test]
    fn segment_running_past_the_end_is_corrupt() {
        let data = [0xFF, 0xD8, 0xFF, 0xE1, 0x40, 0x00, b'E', b'x'];
        assert!(matches!(
            parse(&data, &limits()),
            Err(MediaError::Corrupt(_))
        ));
    }

    #[test]
    fn jfif_thumbnail_is_removed() {
        let mut seg = vec![0xFF, 0xE0, 0, 22];
        seg.extend_from_slice(b"JFIF\0\x01\x02\0\0\x01\0\x01\x02\x01");
        seg.extend_from_slice(&[9, 9, 9, 9, 9, 9]); // a 2 x 1 RGB thumbnail
        let bytes = match jfif_without_thumbnail(&seg) {
            Some(Piece::Owned(v)) => v,
            other => panic!("expected a rewritten segment, got {other:?}"),
        };
        assert_eq!(bytes.len(), 18);
        assert_eq!(&bytes[2..4], &[0, 16]);
        assert_eq!(&bytes[16..], &[0, 0]);
    }
}
