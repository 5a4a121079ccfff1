//! WebP: checks the RIFF size and every chunk against it, reads the size from VP8X, VP8, VP8L
//! and every animation frame, and keeps only the chunks that make up the picture (VP8X, VP8,
//! VP8L, ALPH, ANIM, ANMF, ICCP). EXIF and XMP go, and their VP8X flags are cleared.

use super::{Limits, MediaError, Parsed, Piece, check_dimensions, corrupt, exif};

const FLAG_EXIF: u8 = 0x08;
const FLAG_XMP: u8 = 0x04;
const KEPT: &[&[u8; 4]] = &[
    b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

pub(super) fn parse<'a>(data: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, MediaError> {
    let riff_size = u32::from_le_bytes(data[4..8].try_into().expect("sniffed: 12 bytes")) as usize;
    let riff_end = riff_size
        .checked_add(8)
        .filter(|&e| e >= 12 && e <= data.len())
        .ok_or_else(|| corrupt("WebP is shorter than its RIFF header says"))?;
    let mut pos = 12;
    let mut chunks = Vec::new();
    let mut vp8x: Option<[u8; 10]> = None;
    let mut dims = None;
    let mut has_image = false;
    let mut orientation = 1;
    while pos < riff_end {
        let head = data
            .get(pos..pos + 8)
            .filter(|_| pos + 8 <= riff_end)
            .ok_or_else(|| corrupt("WebP chunk header runs past the RIFF end"))?;
        let kind: &[u8; 4] = head[..4].try_into().expect("four bytes");
        let len = u32::from_le_bytes(head[4..8].try_into().expect("four bytes")) as usize;
        let body_end = pos + 8 + len;
        if body_end > riff_end {
            return Err(corrupt("WebP chunk runs past the RIFF end"));
        }
        let body = &data[pos + 8..body_end];
        if pos == 12 && !matches!(kind, b"VP8X" | b"VP8 " | b"VP8L") {
            return Err(corrupt("WebP does not start with VP8X, VP8 or VP8L"));
        }
        match kind {
            b"VP8X" if pos == 12 => {
                let b: [u8; 10] = body
                    .get(..10)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| corrupt("WebP VP8X chunk is too short"))?;
                let (w, h) = (1 + u24(&b[4..7]), 1 + u24(&b[7..10]));
                check_dimensions(w, h, limits)?;
                dims = Some((w, h));
                vp8x = Some(b);
            }
            b"VP8X" => return Err(corrupt("WebP has a VP8X chunk that is not first")),
            b"VP8 " | b"VP8L" | b"ANMF" => {
                let (w, h) = frame_size(kind, body)?;
                check_dimensions(w, h, limits)?;
                dims.get_or_insert((w, h));
                has_image = true;
            }
            b"EXIF" => orientation = exif::orientation(body),
            _ => {}
        }
        // Chunks are padded to an even length; some writers leave the last pad byte out.
        let next = (body_end + (len & 1)).min(riff_end);
        if KEPT.contains(&kind) && kind != b"VP8X" {
            chunks.push(Piece::Borrowed(&data[pos..next]));
            if next < body_end + (len & 1) {
                chunks.push(Piece::Owned(vec![0]));
            }
        }
        pos = next;
    }
    if !has_image {
        return Err(corrupt("WebP holds no image data"));
    }
    let mut header = Vec::new();
    if let Some(mut x) = vp8x {
        // Only an extended file can carry EXIF, so only it can keep the orientation.
        x[0] &= !(FLAG_EXIF | FLAG_XMP);
        if orientation != 1 {
            x[0] |= FLAG_EXIF;
            chunks.push(Piece::Owned(chunk(
                b"EXIF",
                &exif::minimal_tiff(orientation),
            )));
        }
        header = chunk(b"VP8X", &x);
    }
    let total: usize = header.len() + chunks.iter().map(|c| c.bytes().len()).sum::<usize>();
    let mut riff = b"RIFF".to_vec();
    riff.extend_from_slice(&((total + 4) as u32).to_le_bytes());
    riff.extend_from_slice(b"WEBP");
    riff.extend_from_slice(&header);
    let mut pieces = vec![Piece::Owned(riff)];
    pieces.extend(chunks);
    Ok(Parsed {
        dims,
        orientation: if vp8x.is_some() { orientation } else { 1 },
        pieces,
    })
}

/// The size a VP8 key frame, a VP8L bitstream or an animation frame declares.
fn frame_size(kind: &[u8; 4], body: &[u8]) -> Result<(u32, u32), MediaError> {
    let short = || corrupt(format!("WebP {} chunk is too short", kind.escape_ascii()));
    match kind {
        b"VP8 " => {
            // Frame tag (3), start code 9D 01 2A, then 14-bit width and height.
            let b = body.get(..10).ok_or_else(short)?;
            if b[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(corrupt("WebP VP8 data has no key-frame start code"));
            }
            let w = u16::from_le_bytes([b[6], b[7]]) & 0x3FFF;
            let h = u16::from_le_bytes([b[8], b[9]]) & 0x3FFF;
            Ok((u32::from(w), u32::from(h)))
        }
        b"VP8L" => {
            let b = body.get(..5).ok_or_else(short)?;
            if b[0] != 0x2F {
                return Err(corrupt("WebP VP8L data has no signature"));
            }
            let bits = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        _ => {
            // ANMF: x (3), y (3), width - 1 (3), height - 1 (3), ...
            let b = body.get(..12).ok_or_else(short)?;
            Ok((1 + u24(&b[6..9]), 1 + u24(&b[9..12])))
        }
    }
}

fn u24(b: &[u8]) -> u32 {
    u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
}

/// A whole chunk with its pad byte.
fn chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = kind.to_vec();
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(body);
    if body.len() % 2 == 1 {
        v.push(0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend(body);
        v
    }

    #[test]
    fn vp8x_canvas_declaring_fifty_thousand_square_is_refused() {
        let mut x = vec![0u8; 10];
        x[4..7].copy_from_slice(&49_999u32.to_le_bytes()[..3]);
        x[7..10].copy_from_slice(&49_999u32.to_le_bytes()[..3]);
        let data = riff(&[chunk(b"VP8X", &x)]);
        assert!(matches!(
            parse(&data, &Limits::default()),
            Err(MediaError::TooManyPixels {
                width: 50_000,
                height: 50_000
            })
        ));
    }

    #[test]
    fn lossy_key_frame_size_is_read() {
        let mut vp8 = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A];
        vp8.extend_from_slice(&640u16.to_le_bytes());
        vp8.extend_from_slice(&480u16.to_le_bytes());
        let data = riff(&[chunk(b"VP8 ", &vp8)]);
        let parsed = parse(&data, &Limits::default()).unwrap();
        assert_eq!(parsed.dims, Some((640, 480)));
    }

    #[test]
    fn riff_size_beyond_the_file_is_corrupt() {
        let mut data = riff(&[chunk(b"VP8L", &[0x2F, 0, 0, 0, 0])]);
        data.truncate(data.len() - 2);
        assert!(matches!(
            parse(&data, &Limits::default()),
            Err(MediaError::Corrupt(_))
        ));
    }

    #[test]
    fn file_of_metadata_only_is_corrupt() {
        let data = riff(&[chunk(b"VP8X", &[0; 10]), chunk(b"EXIF", b"MM")]);
        assert!(matches!(
            parse(&data, &Limits::default()),
            Err(MediaError::Corrupt(m)) if m.contains("no image")
        ));
    }
}
