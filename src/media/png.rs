//! PNG: checks every chunk's length and CRC from IHDR to IEND, keeps the critical chunks and the
//! ancillary chunks that change how the picture looks, and drops the rest: eXIf, tEXt, zTXt,
//! iTXt, tIME and any private chunk. Anything after IEND is dropped too.

use super::{Limits, MediaError, Parsed, Piece, check_dimensions, corrupt, exif};

const SIGNATURE_LEN: usize = 8;

/// Ancillary chunks that affect rendering (colour, transparency, density, animation).
/// `mDCv`/`cLLi` are the spellings before PNG's third edition renamed them.
const KEPT_ANCILLARY: &[&[u8; 4]] = &[
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCV", b"mDCv", b"cLLI", b"cLLi",
    b"sBIT", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];

pub(super) fn parse<'a>(data: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, MediaError> {
    let mut pos = SIGNATURE_LEN;
    let mut dims = None;
    let mut orientation = 1;
    let mut kept = Vec::new();
    let mut idat = false;
    loop {
        let (kind, body, end) = chunk_at(data, pos)?;
        let chunk = &data[pos..end];
        if dims.is_none() {
            if kind != b"IHDR" || body.len() != 13 {
                return Err(corrupt("PNG does not start with IHDR"));
            }
            let w = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            let h = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
            check_dimensions(w, h, limits)?;
            dims = Some((w, h));
            kept.push(Piece::Borrowed(chunk));
        } else if kind == b"IHDR" {
            return Err(corrupt("PNG has a second IHDR"));
        } else if kind == b"IEND" {
            kept.push(Piece::Borrowed(chunk));
            break;
        } else if kind == b"eXIf" {
            orientation = exif::orientation(body);
        } else if kind[0].is_ascii_uppercase() {
            // Critical: a decoder needs it (IDAT, PLTE) or must refuse the file without it.
            idat |= kind == b"IDAT";
            kept.push(Piece::Borrowed(chunk));
        } else if KEPT_ANCILLARY.contains(&kind) {
            kept.push(Piece::Borrowed(chunk));
        }
        pos = end;
    }
    if !idat {
        return Err(corrupt("PNG holds no image data"));
    }
    let mut pieces = vec![Piece::Borrowed(&data[..SIGNATURE_LEN])];
    let mut rest = kept.into_iter();
    pieces.extend(rest.next()); // IHDR
    if orientation != 1 {
        // eXIf must come before IDAT; straight after IHDR always is.
        pieces.push(Piece::Owned(chunk(
            b"eXIf",
            &exif::minimal_tiff(orientation),
        )));
    }
    pieces.extend(rest);
    Ok(Parsed {
        dims,
        orientation,
        pieces,
    })
}

/// The chunk at `pos`: its type, its data and where it ends, with length and CRC checked.
fn chunk_at(data: &[u8], pos: usize) -> Result<(&[u8; 4], &[u8], usize), MediaError> {
    let truncated = || corrupt("PNG ends before IEND");
    let head = data.get(pos..pos + 8).ok_or_else(truncated)?;
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if len > 0x7FFF_FFFF {
        return Err(corrupt("PNG chunk length out of range"));
    }
    let kind: &[u8; 4] = head[4..8].try_into().expect("four bytes");
    if !kind.iter().all(u8::is_ascii_alphabetic) {
        return Err(corrupt(format!("PNG chunk type is not letters, at {pos}")));
    }
    let body_end = pos + 8 + len as usize;
    let end = body_end + 4;
    let crc = data.get(body_end..end).ok_or_else(truncated)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&data[pos + 4..body_end]);
    if hasher.finalize().to_be_bytes() != crc {
        return Err(corrupt(format!(
            "PNG {} chunk fails its CRC",
            String::from_utf8_lossy(kind)
        )));
    }
    Ok((kind, &data[pos + 8..body_end], end))
}

/// A whole chunk (length, type, data, CRC).
pub(super) fn chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 12);
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(kind);
    v.extend_from_slice(body);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&v[4..]);
    v.extend_from_slice(&hasher.finalize().to_be_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ihdr(w: u32, h: u32) -> Vec<u8> {
        let mut body = w.to_be_bytes().to_vec();
        body.extend_from_slice(&h.to_be_bytes());
        body.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(b"IHDR", &body)
    }

    fn signature() -> Vec<u8> {
        b"\x89PNG\r\n\x1a\n".to_vec()
    }

    #[test]
    fn header_declaring_fifty_thousand_square_is_refused_before_any_data() {
        let mut data = signature();
        data.extend(ihdr(50_000, 50_000));
        assert!(matches!(
            parse(&data, &Limits::default()),
            Err(MediaError::TooManyPixels {
                width: 50_000,
                height: 50_000
            })
        ));
    }

    #[test]
    fn one_side_past_max_dimension_is_refused() {
        let mut data = signature();
        data.extend(ihdr(30_000, 10));
        assert!(matches!(
            parse(&data, &Limits::default()),
            Err(MediaError::TooManyPixels { .. })
        ));
    }

    #[test]
    fn chunk_with_wrong_crc_is_corrupt() {
        let mut data = signature();
        data.extend(ihdr(4, 4));
        let last = data.len() - 1;
        data[last] ^= 1;
        assert!(matches!(
            parse(&data, &Limits::default()),
            Err(MediaError::Corrupt(m)) if m.contains("CRC")
        ));
    }

    #[test]
    fn file_without_iend_is_corrupt() {
        let mut data = signature();
        data.extend(ihdr(4, 4));
        data.extend(chunk(b"IDAT", b"not really zlib"));
        assert!(matches!(
            parse(&data, &Limits::default()),
            Err(MediaError::Corrupt(m)) if m.contains("IEND")
        ));
    }

    #[test]
    fn first_chunk_other_than_ihdr_is_corrupt() {
        let mut data = signature();
        data.extend(chunk(b"IDAT", b""));
        assert!(matches!(
            parse(&data, &Limits::default()),
            Err(MediaError::Corrupt(_))
        ));
    }
}
