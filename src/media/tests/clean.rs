//! `clean` on JPEG, PNG, WebP and PDF pages.

use super::*;
use crate::media::fixtures::*;
use crate::media::{PageType, exif};

/// A camera JPEG: EXIF with GPS, maker note and `orientation`, XMP, IPTC, MPF, ICC, Adobe, a
/// comment, and a motion-photo trailer after EOI.
fn camera_jpeg(orientation: u16) -> Vec<u8> {
    let photoshop = [
        &b"Photoshop 3.0\0"[..],
        b"8BIM\x04\x04\0\0\0\0\0\x10IPTC-SECRET-CITY",
    ]
    .concat();
    with_segments(
        &jpeg(64, 48, gradient),
        &[
            app1_exif(&camera_exif(orientation)),
            segment(
                0xE1,
                &[&b"http://ns.adobe.com/xap/1.0/\0"[..], &xmp()].concat(),
            ),
            segment(0xED, &photoshop),
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
fn jpeg_loses_gps_maker_note_xmp_iptc_comment_and_trailer_but_stays_upright() {
    let upload = camera_jpeg(6);
    assert!(contains(&upload, SECRET));
    let (page, out) = cleaned(&upload);

    assert!(!contains(&out, SECRET), "a secret survived");
    let Decoded {
        size,
        exif: exif_block,
        icc,
        ..
    } = decode_jpeg(&out);
    assert_eq!(size, (64, 48));
    // The only EXIF left is the hand-built orientation block: no GPS IFD, no maker note.
    assert_eq!(exif_block.as_deref(), Some(&exif::minimal_tiff(6)[..]));
    assert_eq!(exif::orientation(exif_block.as_deref().unwrap()), 6);
    assert_eq!(icc.as_deref(), Some(&b"KEEP-THIS-ICC"[..]));
    assert!(contains(&out, b"Adobe\0\x64"));
    // JFIF straight after SOI, then the orientation, and nothing after EOI.
    assert_eq!(&out[..4], &[0xFF, 0xD8, 0xFF, 0xE0]);
    assert_eq!(&out[6..11], b"JFIF\0");
    assert_eq!(&out[20..22], &[0xFF, 0xE1]);
    assert!(out.ends_with(&[0xFF, 0xD9]));
    assert_eq!(page.page_type, PageType::Jpeg);
    // Stored 64 x 48, shown turned a quarter: reported as the viewer shows it.
    assert_eq!((page.width, page.height), (Some(48), Some(64)));
}

#[test]
fn jpeg_pixels_are_untouched_by_cleaning() {
    let upload = camera_jpeg(1);
    let (_, out) = cleaned(&upload);
    assert_eq!(decode_jpeg(&out).pixels, decode_jpeg(&upload).pixels);
}

#[test]
fn upright_jpeg_keeps_no_exif_at_all() {
    let (page, out) = cleaned(&camera_jpeg(1));
    assert_eq!(decode_jpeg(&out).exif, None);
    assert!(!contains(&out, b"Exif\0\0"));
    assert_eq!((page.width, page.height), (Some(64), Some(48)));
}

#[test]
fn truncated_jpeg_is_corrupt() {
    let whole = jpeg(64, 48, gradient);
    for cut in [whole.len() - 2, whole.len() - 40, 30, 3] {
        let (result, _) = run_clean(&whole[..cut], PHOTO, &Limits::default());
        assert!(
            matches!(result, Err(MediaError::Corrupt(_))),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn trailing_zero_padding_after_eoi_is_accepted_and_dropped() {
    let mut upload = jpeg(16, 16, gradient);
    let len = upload.len();
    upload.extend_from_slice(&[0; 100]);
    let (_, out) = cleaned(&upload);
    assert_eq!(out.len(), len);
}

#[test]
fn executable_renamed_jpg_is_unsupported_and_writes_nothing() {
    let mut exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec();
    exe.extend_from_slice(b"This program cannot be run in DOS mode.");
    let (result, run) = run_clean(&exe, ANY, &Limits::default());
    assert!(matches!(result, Err(MediaError::UnsupportedType)));
    assert!(!run.output.exists());
}

#[test]
fn empty_upload_is_refused() {
    let (result, _) = run_clean(b"", ANY, &Limits::default());
    assert!(matches!(result, Err(MediaError::Empty)));
}

#[test]
fn upload_over_max_bytes_is_refused_unread() {
    let limits = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let (result, _) = run_clean(&jpeg(64, 48, gradient), PHOTO, &limits);
    assert!(matches!(result, Err(MediaError::TooLarge { max: 100, .. })));
}

#[test]
fn bomb_headers_are_refused_before_decoding() {
    // A 50000 x 50000 PNG: signature and IHDR, nothing to decode.
    let mut ihdr = 50_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let png_bomb = [
        &b"\x89PNG\r\n\x1a\n"[..],
        &crate::media::png::chunk(b"IHDR", &ihdr)[..],
    ]
    .concat();
    // A 50000 x 50000 JPEG: SOI and a frame header.
    let jpeg_bomb = [
        &[0xFF, 0xD8][..],
        &segment(0xC0, &[8, 0xC3, 0x50, 0xC3, 0x50, 1, 1, 0x11, 0]),
    ]
    .concat();
    for bomb in [png_bomb, jpeg_bomb] {
        let (result, _) = run_clean(&bomb, PHOTO, &Limits::default());
        assert!(
            matches!(
                result,
                Err(MediaError::TooManyPixels {
                    width: 50_000,
                    height: 50_000
                })
            ),
            "{result:?}"
        );
    }
}

#[test]
fn pixel_limit_applies_to_width_times_height() {
    let limits = Limits {
        max_pixels: 64 * 48 - 1,
        ..Limits::default()
    };
    let (result, _) = run_clean(&jpeg(64, 48, gradient), PHOTO, &limits);
    assert!(matches!(
        result,
        Err(MediaError::TooManyPixels {
            width: 64,
            height: 48
        })
    ));
}

#[test]
fn material_kinds_decide_what_is_allowed() {
    let pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n";
    let (result, _) = run_clean(pdf, PHOTO, &Limits::default());
    assert!(matches!(
        result,
        Err(MediaError::NotAllowed {
            found: PageType::Pdf
        })
    ));
    let (result, _) = run_clean(&jpeg(8, 8, gradient), PDF, &Limits::default());
    assert!(matches!(
        result,
        Err(MediaError::NotAllowed {
            found: PageType::Jpeg
        })
    ));
}

#[test]
fn pdf_passes_through_unchanged() {
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Author (Someone) >>\nendobj\n%%EOF\n";
    let (page, out) = cleaned(pdf);
    assert_eq!(out, pdf);
    assert_eq!(page.page_type, PageType::Pdf);
    assert_eq!((page.width, page.height), (None, None));
    assert_eq!(PageType::Pdf.kind(), MaterialKind::Pdf);
    assert_eq!(PageType::Pdf.content_type(), "application/pdf");
}

#[test]
fn truncated_pdf_is_corrupt() {
    let (result, _) = run_clean(b"%PDF-1.7\n1 0 obj\n<< /Len", PDF, &Limits::default());
    assert!(matches!(result, Err(MediaError::Corrupt(_))));
}

#[test]
fn png_loses_text_exif_time_and_private_chunks_but_keeps_orientation() {
    let tiff = camera_exif(6);
    let upload = png(
        64,
        48,
        gradient,
        &[
            (b"tEXt", b"Comment\0TEXT-SECRET"),
            (b"zTXt", b"Comment\0\0x\x9c+\x06\0\0s\0s"),
            (b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0XMP-SECRET"),
            (b"tIME", &[0x07, 0xE9, 1, 2, 3, 4, 5]),
            (b"eXIf", &tiff),
            (b"prVt", b"PRIVATE-SECRET"),
            (b"gAMA", &45455u32.to_be_bytes()),
        ],
    );
    let (page, out) = cleaned(&upload);
    assert!(!contains(&out, SECRET));
    assert_eq!(
        png_chunk_types(&out),
        ["IHDR", "eXIf", "gAMA", "IDAT", "IEND"]
    );
    assert!(contains(&out, &exif::minimal_tiff(6)));
    assert_eq!((page.width, page.height), (Some(48), Some(64)));
    // Still decodes to the same picture.
    let decode = |data: &[u8]| {
        let mut reader = ::png::Decoder::new(std::io::Cursor::new(data.to_vec()))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        buf
    };
    assert_eq!(decode(&out), decode(&upload));
}

#[test]
fn webp_loses_exif_and_xmp_and_their_flags() {
    let upload = webp(32, 24, gradient, &camera_exif(1), &xmp());
    assert!(contains(&upload, SECRET));
    let (page, out) = cleaned(&upload);
    assert!(!contains(&out, SECRET));
    assert_eq!(&out[12..16], b"VP8X");
    assert_eq!(out[20] & 0x0C, 0, "EXIF and XMP flags must be clear");
    assert_eq!(
        u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize,
        out.len() - 8
    );
    assert_eq!((page.width, page.height), (Some(32), Some(24)));
    let decode = |data: &[u8]| {
        let mut d = image_webp::WebPDecoder::new(std::io::Cursor::new(data)).unwrap();
        let mut buf = vec![0; d.output_buffer_size().unwrap()];
        d.read_image(&mut buf).unwrap();
        (buf, d.exif_metadata().unwrap(), d.xmp_metadata().unwrap())
    };
    let (pixels, exif_block, xmp_block) = decode(&out);
    assert_eq!(pixels, decode(&upload).0);
    assert_eq!((exif_block, xmp_block), (None, None));
}

#[test]
fn webp_keeps_only_the_orientation_in_its_exif() {
    let (page, out) = cleaned(&webp(32, 24, gradient, &camera_exif(8), &[]));
    assert!(!contains(&out, SECRET));
    assert_eq!(out[20] & 0x0C, 0x08);
    let mut d = image_webp::WebPDecoder::new(std::io::Cursor::new(&out[..])).unwrap();
    assert_eq!(d.exif_metadata().unwrap(), Some(exif::minimal_tiff(8)));
    assert_eq!((page.width, page.height), (Some(24), Some(32)));
}

#[test]
fn truncated_webp_is_corrupt() {
    let whole = webp(32, 24, gradient, &[], &[]);
    let (result, _) = run_clean(&whole[..whole.len() - 10], PHOTO, &Limits::default());
    assert!(matches!(result, Err(MediaError::Corrupt(_))));
}
