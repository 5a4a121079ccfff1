//! `clean` on HEIC: metadata items blanked in place, nothing else moved.

use super::*;
use crate::media::PageType;
use crate::media::fixtures::{SECRET, bx, heic};

/// The libheif encoder's output for a 64 x 48 picture, then exiftool-added EXIF (GPS, Make,
/// Orientation) and XMP; see tests/fixtures/media/README.md.
const REAL_HEIC: &[u8] = include_bytes!("../../../tests/fixtures/media/exif-gps-xmp.heic");

#[test]
fn heic_exif_and_xmp_items_are_zeroed_in_place() {
    let built = heic(None);
    let (page, out) = cleaned(&built.data);
    assert_eq!(page.page_type, PageType::Heic);
    assert_eq!(out.len(), built.data.len(), "offsets must not move");
    assert!(!contains(&out, SECRET));
    assert!(out[built.exif.clone()].iter().all(|&b| b == 0));
    assert!(out[built.xmp.clone()].iter().all(|&b| b == 0));
    // The uuid box became a zero-filled free box of the same size.
    assert_eq!(&out[built.uuid.start + 4..built.uuid.start + 8], b"free");
    assert!(
        out[built.uuid.start + 8..built.uuid.end]
            .iter()
            .all(|&b| b == 0)
    );
    // Everything else is byte for byte the upload.
    for (i, (a, b)) in built.data.iter().zip(&out).enumerate() {
        let blanked = [&built.exif, &built.xmp, &built.uuid]
            .iter()
            .any(|r| r.contains(&i));
        if !blanked {
            assert_eq!(a, b, "byte {i} changed");
        }
    }
    assert_eq!((page.width, page.height), (Some(4032), Some(3024)));
    // The output is still a well-formed HEIF, and cleaning it again changes nothing more.
    let (_, again) = cleaned(&out);
    assert_eq!(again, out);
}

#[test]
fn heic_rotation_turns_the_reported_size() {
    // irot 3 = three anticlockwise quarter turns: portrait.
    let (page, _) = cleaned(&heic(Some(3)).data);
    assert_eq!((page.width, page.height), (Some(3024), Some(4032)));
    let (page, _) = cleaned(&heic(Some(2)).data);
    assert_eq!((page.width, page.height), (Some(4032), Some(3024)));
}

#[test]
fn heic_with_item_data_past_the_end_is_corrupt() {
    let built = heic(None);
    // Cut inside mdat, and also fix mdat's size so only iloc reveals the damage.
    let cut = built.exif.start + 10;
    let mut short = built.data[..cut].to_vec();
    let mdat_at = built.image.start - 8;
    let mdat_size = (cut - mdat_at) as u32;
    short[mdat_at..mdat_at + 4].copy_from_slice(&mdat_size.to_be_bytes());
    for upload in [&built.data[..cut], &short[..]] {
        let (result, _) = run_clean(upload, PHOTO, &Limits::default());
        assert!(matches!(result, Err(MediaError::Corrupt(_))), "{result:?}");
    }
}

#[test]
fn heic_bomb_is_refused_from_its_ispe() {
    let built = heic(None);
    let mut data = built.data.clone();
    let ispe = data.windows(4).position(|w| w == b"ispe").unwrap() + 8;
    data[ispe..ispe + 8].copy_from_slice(&[0, 0, 0xC3, 0x50, 0, 0, 0xC3, 0x50]);
    let (result, _) = run_clean(&data, PHOTO, &Limits::default());
    assert!(matches!(
        result,
        Err(MediaError::TooManyPixels {
            width: 50_000,
            height: 50_000
        })
    ));
}

#[test]
fn libheif_file_loses_its_exif_gps_and_xmp() {
    assert!(contains(REAL_HEIC, b"BEEBOX-MAKE"));
    assert!(contains(REAL_HEIC, b"BEEBOX-XMP-SECRET"));
    let (page, out) = cleaned(REAL_HEIC);
    assert_eq!(out.len(), REAL_HEIC.len());
    assert!(!contains(&out, b"BEEBOX-MAKE"));
    assert!(!contains(&out, b"BEEBOX-XMP-SECRET"));
    assert!(!contains(&out, b"Exif\0\0MM"));
    // Only metadata bytes changed, and only to zero: the HEVC data and boxes are intact.
    let changed: Vec<usize> = (0..out.len()).filter(|&i| out[i] != REAL_HEIC[i]).collect();
    assert!(changed.iter().all(|&i| out[i] == 0));
    assert!(
        changed.len() <= 250 + 2881,
        "{} bytes changed",
        changed.len()
    );
    assert_eq!((page.width, page.height), (Some(64), Some(48)));
    let (_, again) = cleaned(&out);
    assert_eq!(again, out);
}

#[test]
fn avif_is_not_taken_for_heic() {
    let mut data = heic(None).data;
    data[8..12].copy_from_slice(b"avif");
    data[20..24].copy_from_slice(b"avif");
    let (result, _) = run_clean(&data, PHOTO, &Limits::default());
    assert!(matches!(result, Err(MediaError::UnsupportedType)));
}

#[test]
fn image_sequence_user_data_becomes_free_space() {
    // A track's udta with a QuickTime location atom, after everything else.
    let xyz = bx(b"\xa9xyz", b"+39.9042+116.4074/SECRET");
    let moov = bx(b"moov", &bx(b"trak", &bx(b"udta", &xyz)));
    let upload = [heic(None).data, moov.clone()].concat();
    let (_, out) = cleaned(&upload);
    assert_eq!(out.len(), upload.len());
    assert!(!contains(&out, SECRET));
    let udta = out.len() - moov.len() + 16; // moov and trak headers come first
    assert_eq!(&out[udta + 4..udta + 8], b"free");
    assert!(out[udta + 8..].iter().all(|&b| b == 0));
}
