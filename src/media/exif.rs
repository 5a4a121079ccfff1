//! The one EXIF fact we keep: the orientation tag of IFD0. Everything else in EXIF (GPS, maker
//! notes, serial numbers, times) is dropped, and a replacement block holding only the
//! orientation is built by hand.

const ORIENTATION: u16 = 0x0112;
const SHORT: u16 = 3;

/// The prefix EXIF carries inside a JPEG APP1 segment (and, from some writers, a WebP chunk).
pub(super) const APP1_PREFIX: &[u8] = b"Exif\0\0";

/// The orientation (1 to 8) in a TIFF-structured EXIF block, with or without the `Exif\0\0`
/// prefix. A block we cannot read counts as upright: it is being thrown away, and a damaged
/// EXIF must not cost the citizen the upload.
pub(super) fn orientation(block: &[u8]) -> u16 {
    let tiff = block.strip_prefix(APP1_PREFIX).unwrap_or(block);
    read_orientation(tiff)
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1)
}

fn read_orientation(tiff: &[u8]) -> Option<u16> {
    let big_endian = match tiff.get(..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd0 = u32_at(4)? as usize;
    let count = u16_at(ifd0)? as usize;
    (0..count).find_map(|i| {
        let entry = ifd0 + 2 + 12 * i;
        let tag = u16_at(entry)?;
        let kind = u16_at(entry + 2)?;
        let n = u32_at(entry + 4)?;
        // A SHORT value of count 1 sits in the first two bytes of the value field.
        (tag == ORIENTATION && kind == SHORT && n == 1)
            .then(|| u16_at(entry + 8))
            .flatten()
    })
}

/// A big-endian TIFF block whose IFD0 holds the orientation and nothing else.
pub(super) fn minimal_tiff(orientation: u16) -> Vec<u8> {
    let mut t = Vec::with_capacity(26);
    t.extend_from_slice(b"MM\0\x2a");
    t.extend_from_slice(&8u32.to_be_bytes()); // IFD0 follows the header
    t.extend_from_slice(&1u16.to_be_bytes()); // one entry
    t.extend_from_slice(&ORIENTATION.to_be_bytes());
    t.extend_from_slice(&SHORT.to_be_bytes());
    t.extend_from_slice(&1u32.to_be_bytes());
    t.extend_from_slice(&orientation.to_be_bytes());
    t.extend_from_slice(&[0, 0]); // the rest of the value field
    t.extend_from_slice(&0u32.to_be_bytes()); // no IFD1, so no EXIF thumbnail
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_block_round_trips_every_orientation() {
        for o in 1..=8 {
            let t = minimal_tiff(o);
            assert_eq!(t.len(), 26);
            assert_eq!(orientation(&t), o);
            let mut app1 = APP1_PREFIX.to_vec();
            app1.extend_from_slice(&t);
            assert_eq!(orientation(&app1), o);
        }
    }

    #[test]
    fn little_endian_orientation_is_read() {
        // II, IFD0 at 8 with two entries: ImageWidth (LONG) then Orientation = 8.
        let mut t = b"II\x2a\0\x08\0\0\0\x02\0".to_vec();
        t.extend_from_slice(&[0x00, 0x01, 4, 0, 1, 0, 0, 0, 0x40, 0, 0, 0]);
        t.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0]);
        t.extend_from_slice(&[0; 4]);
        assert_eq!(orientation(&t), 8);
    }

    #[test]
    fn unreadable_or_absurd_orientation_counts_as_upright() {
        assert_eq!(orientation(b""), 1);
        assert_eq!(orientation(b"MM\0\x2a\xff\xff\xff\xff"), 1);
        assert_eq!(orientation(&minimal_tiff(9)), 1);
        assert_eq!(orientation(&minimal_tiff(0)), 1);
        let mut cut = minimal_tiff(6);
        cut.truncate(19); // the value field is cut short
        assert_eq!(orientation(&cut), 1);
    }
}
