//! `JpegCleaner` against `clean`: the same bytes out, the same refusals, however the upload is
//! cut into chunks.

use super::*;
use crate::media::fixtures::*;
use crate::media::tests::robustness::damaged;
use crate::media::{JpegCleaner, JpegVerdict, PageType, exif, parse, rewrite_head, streams};

/// Feeds `upload` in pieces of the given sizes (the rest in one piece), then finishes. A head
/// rewrite is applied in memory, as the service applies it to the file.
fn stream(
    upload: &[u8],
    sizes: &[usize],
    limits: &Limits,
) -> Result<(JpegVerdict, Vec<u8>), MediaError> {
    let mut cleaner = JpegCleaner::new(limits);
    let mut out = Vec::new();
    let mut rest = upload;
    for &size in sizes {
        let (piece, after) = rest.split_at(size.min(rest.len()));
        cleaner.feed(piece, &mut out)?;
        rest = after;
    }
    cleaner.feed(rest, &mut out)?;
    let verdict = cleaner.finish()?;
    if let Some(rewrite) = &verdict.rewrite_head {
        out = [&rewrite.head[..], &out[rewrite.old_len as usize..]].concat();
    }
    Ok((verdict, out))
}

fn streamed(upload: &[u8]) -> (JpegVerdict, Vec<u8>) {
    stream(upload, &[], &Limits::default()).expect("streams")
}

/// What `clean` makes of a JPEG, from `parse` without files: the bytes, or the refusal's text.
fn reference(upload: &[u8], limits: &Limits) -> Result<Vec<u8>, String> {
    parse(PageType::Jpeg, upload, limits)
        .map(|p| p.pieces.iter().flat_map(|p| p.bytes().to_vec()).collect())
        .map_err(|e| e.to_string())
}

fn same_as_clean(upload: &[u8], sizes: &[usize]) {
    let limits = Limits::default();
    let got = stream(upload, sizes, &limits)
        .map(|(_, out)| out)
        .map_err(|e| e.to_string());
    assert_eq!(got, reference(upload, &limits), "split at {sizes:?}");
}

/// The camera JPEG of the `clean` tests: EXIF with GPS and a maker note, XMP, IPTC, MPF, ICC,
/// Adobe, a comment and a motion-photo trailer.
fn camera_jpeg(orientation: u16) -> Vec<u8> {
    with_segments(
        &jpeg(64, 48, gradient),
        &[
            app1_exif(&camera_exif(orientation)),
            segment(
                0xE1,
                &[&b"http://ns.adobe.com/xap/1.0/\0"[..], &xmp()].concat(),
            ),
            segment(
                0xED,
                b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x0bIPTC-SECRET",
            ),
            segment(0xE2, b"MPF\0MM\0\x2a\0\0\0\x08 MPF-SECRET"),
            segment(0xE2, b"ICC_PROFILE\0\x01\x01KEEP-THIS-ICC"),
            segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01"),
            segment(0xE9, b"VENDOR-MAKERNOTE-SECRET"),
            segment(0xFE, b"COMMENT-SECRET"),
        ],
        b"ftypmp42 MOTION-PHOTO-SECRET",
    )
}

#[test]
fn streamed_jpeg_loses_exif_gps_and_the_rest_but_keeps_its_orientation() {
    let upload = camera_jpeg(6);
    let (verdict, out) = streamed(&upload);
    assert!(!contains(&out, SECRET), "a secret survived");
    let decoded = decode_jpeg(&out);
    assert_eq!(decoded.exif.as_deref(), Some(&exif::minimal_tiff(6)[..]));
    assert_eq!(decoded.icc.as_deref(), Some(&b"KEEP-THIS-ICC"[..]));
    assert_eq!(decoded.pixels, decode_jpeg(&upload).pixels);
    assert_eq!((verdict.width, verdict.height), (48, 64));
    assert_eq!(verdict.rewrite_head, None);
    // Byte for byte what `clean` stores, so both upload paths agree on the page's SHA-256.
    let (page, cleaned_bytes) = cleaned(&upload);
    assert_eq!(out, cleaned_bytes);
    assert_eq!((page.width, page.height), (Some(48), Some(64)));
}

#[test]
fn streamed_upright_jpeg_keeps_no_exif() {
    let (verdict, out) = streamed(&camera_jpeg(1));
    assert_eq!(decode_jpeg(&out).exif, None);
    assert!(!contains(&out, b"Exif\0\0"));
    assert_eq!((verdict.width, verdict.height), (64, 48));
}

#[test]
fn every_split_point_gives_the_same_bytes() {
    let upload = camera_jpeg(8);
    for at in 0..=upload.len() {
        same_as_clean(&upload, &[at]);
    }
    // Three pieces around every segment boundary and inside the scan.
    for at in (0..upload.len()).step_by(7) {
        same_as_clean(&upload, &[at, 1]);
        same_as_clean(&upload, &[at, 3]);
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_bytes() {
    let upload = camera_jpeg(3);
    same_as_clean(&upload, &vec![1; upload.len()]);
}

#[test]
fn fill_bytes_stuffing_and_restart_markers_split_anywhere() {
    // Extra FF fill before markers, a restart marker between segments, FF 00 stuffing and FF
    // runs before RSTn inside the scan, and FF fill before EOI.
    let base = jpeg(32, 16, gradient);
    let sos = base.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
    let sos_len = usize::from(u16::from_be_bytes([base[sos + 2], base[sos + 3]]));
    let scan_start = sos + 2 + sos_len;
    let mut upload = base[..2].to_vec();
    upload.extend_from_slice(&[0xFF, 0xFF, 0xFF]);
    upload.extend_from_slice(&base[2..sos]);
    upload.extend_from_slice(&[0xFF, 0xD3]);
    upload.extend_from_slice(&base[sos..scan_start]);
    upload.extend_from_slice(&[
        0x12, 0xFF, 0x00, 0x34, 0xFF, 0xFF, 0xD1, 0x56, 0xFF, 0xFF, 0x00,
    ]);
    upload.extend_from_slice(&base[scan_start..base.len() - 2]);
    upload.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xD9]);
    assert!(reference(&upload, &Limits::default()).is_ok());
    for at in 0..=upload.len() {
        same_as_clean(&upload, &[at]);
    }
    same_as_clean(&upload, &vec![1; upload.len()]);
}

#[test]
fn every_truncation_is_refused_as_clean_refuses_it() {
    let whole = camera_jpeg(6);
    for cut in 3..whole.len() {
        let upload = &whole[..cut];
        let got = stream(upload, &[cut / 2], &Limits::default()).map(|(_, out)| out);
        let want = reference(upload, &Limits::default());
        match (&got, &want) {
            (Err(e), Err(w)) => assert_eq!(&e.to_string(), w, "cut at {cut}"),
            // Past EOI only the motion-photo trailer is cut: both accept the same bytes.
            (Ok(out), Ok(w)) => assert_eq!(out, w, "cut at {cut}"),
            _ => panic!("cut at {cut}: streamed {got:?}, clean {want:?}"),
        }
    }
}

#[test]
fn damaged_files_are_judged_as_clean_judges_them() {
    let good = with_segments(&jpeg(16, 8, gradient), &[app1_exif(&camera_exif(6))], b"");
    let mut compared = 0;
    for bad in damaged(&good) {
        if !streams(&bad, PHOTO) {
            continue;
        }
        same_as_clean(&bad, &[bad.len() / 3]);
        compared += 1;
    }
    assert!(compared > 1000, "only {compared} damaged files compared");
}

#[test]
fn bomb_is_refused_at_its_frame_header_wherever_the_header_is_split() {
    let bomb = [
        &[0xFF, 0xD8][..],
        &segment(0xC0, &[8, 0xC3, 0x50, 0xC3, 0x50, 1, 1, 0x11, 0]),
    ]
    .concat();
    for at in 0..=bomb.len() {
        let mut cleaner = JpegCleaner::new(&Limits::default());
        let mut out = Vec::new();
        let fed = cleaner
            .feed(&bomb[..at], &mut out)
            .and_then(|()| cleaner.feed(&bomb[at..], &mut out));
        assert!(
            matches!(
                fed,
                Err(MediaError::TooManyPixels {
                    width: 50_000,
                    height: 50_000
                })
            ),
            "split at {at}: {fed:?}"
        );
        assert!(out.is_empty(), "nothing is written before the verdict");
    }
}

#[test]
fn exif_after_the_picture_started_rewrites_the_head() {
    // An EXIF segment between the scan and EOI: `clean` still puts the orientation up front.
    let base = jpeg(32, 16, gradient);
    let upload = [
        &base[..base.len() - 2],
        &app1_exif(&camera_exif(6))[..],
        &base[base.len() - 2..],
    ]
    .concat();
    let (verdict, out) = streamed(&upload);
    let rewrite = verdict.rewrite_head.clone().expect("a rewrite");
    assert_eq!(Ok(out.clone()), reference(&upload, &Limits::default()));
    assert_eq!((verdict.width, verdict.height), (16, 32));
    assert!(!contains(&out, SECRET));

    // The rewrite on a real file, as the service does it.
    let mut cleaner = JpegCleaner::new(&Limits::default());
    let mut written = Vec::new();
    cleaner.feed(&upload, &mut written).unwrap();
    cleaner.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page");
    std::fs::write(&path, &written).unwrap();
    let (size, sha256) = rewrite_head(&path, &rewrite).unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk, out);
    assert_eq!(size, out.len() as u64);
    assert_eq!(sha256, hex::encode(Sha256::digest(&out)));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_late_jfif_after_a_long_header_rewrites_the_head() {
    // More kept segments before the JFIF than the cleaner holds back.
    let base = jpeg(16, 16, gradient);
    let icc = segment(0xE2, &[&b"ICC_PROFILE\0"[..], &[7; 60_000]].concat());
    let upload = with_segments(
        &base,
        &[icc.clone(), icc.clone(), icc.clone(), icc.clone(), icc],
        b"",
    );
    let (verdict, out) = streamed(&upload);
    assert!(verdict.rewrite_head.is_some());
    assert_eq!(Ok(out), reference(&upload, &Limits::default()));
}

#[test]
fn only_allowed_jpegs_stream() {
    let photo = jpeg(8, 8, gradient);
    assert!(streams(&photo[..3], PHOTO));
    assert!(!streams(&photo[..3], PDF));
    assert!(!streams(&photo[..2], PHOTO));
    assert!(!streams(b"%PDF-1.7", ANY));
    assert!(!streams(b"\x89PNG\r\n\x1a\n", PHOTO));
}
