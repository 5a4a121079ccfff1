//! `thumbnail` on cleaned pages.

use super::*;
use crate::media::fixtures::*;
use crate::media::thumbnail::decode_jpeg as scaled_decode;

/// Cleans `upload` and makes its thumbnail.
fn thumb_of(upload: &[u8]) -> Option<Vec<u8>> {
    let (result, run) = run_clean(upload, ANY, &Limits::default());
    result.expect("clean");
    crate::media::thumbnail(&run.output).expect("thumbnail")
}

fn pixel(rgb: &[u8], width: u16, x: usize, y: usize) -> [u8; 3] {
    let i = (y * usize::from(width) + x) * 3;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

fn is_red(p: [u8; 3]) -> bool {
    p[0] > 150 && p[1] < 90 && p[2] < 90
}

fn is_blue(p: [u8; 3]) -> bool {
    p[2] > 150 && p[0] < 90 && p[1] < 90
}

#[test]
fn large_jpeg_gives_a_320_wide_thumbnail_decoded_at_one_eighth() {
    let upload = jpeg(4000, 3000, red_left_blue_right(4000));
    // The decoder is asked for 320 x 240 and works at 1/8 scale: 500 x 375, never 4000 x 3000.
    let (small, decoded_at) = scaled_decode(&upload, (320, 240)).unwrap();
    assert_eq!((small.size, decoded_at), ((320, 240), (500, 375)));

    let thumb = thumb_of(&upload).expect("a JPEG has a thumbnail");
    let Decoded {
        pixels: rgb,
        size: (w, h),
        ..
    } = decode_jpeg(&thumb);
    assert_eq!((w, h), (320, 240));
    assert!(is_red(pixel(&rgb, w, 10, 120)) && is_blue(pixel(&rgb, w, 310, 120)));
}

#[test]
fn sideways_stored_photo_gives_an_upright_portrait_thumbnail() {
    // Stored landscape, red on the left; orientation 6 turns it clockwise: red on top.
    let upload = with_segments(
        &jpeg(800, 600, red_left_blue_right(800)),
        &[app1_exif(&camera_exif(6))],
        b"",
    );
    let thumb = thumb_of(&upload).unwrap();
    let Decoded {
        pixels: rgb,
        size: (w, h),
        exif: exif_block,
        ..
    } = decode_jpeg(&thumb);
    assert_eq!((w, h), (320, 427));
    assert_eq!(
        exif_block, None,
        "the thumbnail is upright and needs no orientation"
    );
    assert!(
        is_red(pixel(&rgb, w, 160, 20)),
        "{:?}",
        pixel(&rgb, w, 160, 20)
    );
    assert!(
        is_blue(pixel(&rgb, w, 160, 400)),
        "{:?}",
        pixel(&rgb, w, 160, 400)
    );
}

#[test]
fn png_and_webp_get_thumbnails_too() {
    let turned = camera_exif(8);
    let png = png(640, 200, red_left_blue_right(640), &[(b"eXIf", &turned)]);
    let Decoded {
        pixels: rgb,
        size: (w, h),
        ..
    } = decode_jpeg(&thumb_of(&png).unwrap());
    // Turned anticlockwise: red (the left) goes to the bottom.
    assert_eq!((w, h), (200, 640));
    assert!(is_blue(pixel(&rgb, w, 100, 10)) && is_red(pixel(&rgb, w, 100, 630)));

    let webp = webp(640, 200, red_left_blue_right(640), &[], &[]);
    let Decoded {
        pixels: rgb,
        size: (w, h),
        ..
    } = decode_jpeg(&thumb_of(&webp).unwrap());
    assert_eq!((w, h), (320, 100));
    assert!(is_red(pixel(&rgb, w, 10, 50)) && is_blue(pixel(&rgb, w, 310, 50)));
}

#[test]
fn small_photo_is_not_enlarged() {
    let Decoded { size: (w, h), .. } = decode_jpeg(&thumb_of(&jpeg(100, 60, gradient)).unwrap());
    assert_eq!((w, h), (100, 60));
}

#[test]
fn heic_and_pdf_have_no_thumbnail() {
    assert_eq!(thumb_of(&heic(None).data), None);
    assert_eq!(thumb_of(b"%PDF-1.4\n%%EOF\n"), None);
}
