//! Thumbnails: a small upright JPEG of a cleaned photo. Memory stays small: a JPEG is decoded at
//! 1/2, 1/4 or 1/8 scale straight from its DCT coefficients, and a non-interlaced PNG is read one
//! row at a time. A WebP (and an interlaced PNG) is decoded whole, within the limits `clean`
//! already enforced.

use std::io::Cursor;
use std::path::Path;

use super::resample::{Downsampler, orient};
use super::{Limits, MediaError, PageType, corrupt, detect, parse, read_limited, upright};

/// The thumbnail's width, unless the photo is narrower.
pub const THUMBNAIL_WIDTH: u32 = 320;
/// A very tall page (a receipt) is fitted into this height instead.
pub const THUMBNAIL_MAX_HEIGHT: u32 = 1280;
const QUALITY: u8 = 80;

/// Generous: `clean` has already applied the configured limits. This only keeps a file that
/// never went through `clean` from making us decode something absurd.
const CEILING: Limits = Limits {
    max_bytes: 256 * 1024 * 1024,
    max_pixels: 250_000_000,
    max_dimension: 65_535,
};

/// A JPEG about 320 px wide, upright, of a cleaned JPEG, PNG or WebP page; `None` for HEIC
/// (no HEVC decoder here) and PDF. Blocking; run it in `spawn_blocking`.
pub fn thumbnail(clean_file: &Path) -> Result<Option<Vec<u8>>, MediaError> {
    let data = read_limited(clean_file, CEILING.max_bytes)?;
    let page_type = detect::sniff(&data).ok_or(MediaError::UnsupportedType)?;
    if matches!(page_type, PageType::Heic | PageType::Pdf) {
        return Ok(None);
    }
    let parsed = parse(page_type, &data, &CEILING)?;
    let stored = parsed
        .dims
        .ok_or_else(|| corrupt("image declares no size"))?;
    let orientation = parsed.orientation;
    // The target is measured upright; decoding happens in the stored orientation.
    let target = upright(target_size(upright(stored, orientation)), orientation);
    let small = match page_type {
        PageType::Jpeg => decode_jpeg(&data, target)?.0,
        PageType::Png => decode_png(&data, target)?,
        _ => decode_webp(&data, target)?,
    };
    let (rgb, (w, h)) = orient(&small.pixels, small.size, orientation);
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, QUALITY)
        .encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| corrupt(format!("thumbnail encoding failed: {e}")))?;
    Ok(Some(out))
}

/// The upright thumbnail size for an upright picture: 320 wide, or narrower for a narrow photo or
/// a very tall page; never larger than the photo.
fn target_size((w, h): (u32, u32)) -> (u32, u32) {
    let (w, h) = (u64::from(w), u64::from(h));
    let mut tw = w.min(u64::from(THUMBNAIL_WIDTH));
    let mut th = (h * tw).div_ceil(w).max(1);
    if th > u64::from(THUMBNAIL_MAX_HEIGHT) {
        th = u64::from(THUMBNAIL_MAX_HEIGHT);
        tw = (w * th / h).max(1);
    }
    (tw as u32, th as u32)
}

/// Shrunk RGB8 pixels and their size.
pub(super) struct Small {
    pub pixels: Vec<u8>,
    pub size: (u32, u32),
}

/// Decodes at the smallest DCT scale that still covers `target`, then shrinks to it. Also
/// returns the size the decoder worked at.
pub(super) fn decode_jpeg(
    data: &[u8],
    target: (u32, u32),
) -> Result<(Small, (u32, u32)), MediaError> {
    let failed = |e: jpeg_decoder::Error| corrupt(format!("JPEG does not decode: {e}"));
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(data));
    decoder.set_max_decoding_buffer_size(CEILING.max_pixels as usize * 4);
    // A JPEG side fits in u16, and the target is never larger than the picture.
    let (dw, dh) = decoder
        .scale(target.0 as u16, target.1 as u16)
        .map_err(failed)?;
    let pixels = decoder.decode().map_err(failed)?;
    let format = decoder
        .info()
        .ok_or_else(|| corrupt("JPEG has no frame"))?
        .pixel_format;
    let decoded = (u32::from(dw), u32::from(dh));
    let bpp = format.pixel_bytes();
    let row_len = decoded.0 as usize * bpp;
    if pixels.len() < row_len * decoded.1 as usize {
        return Err(corrupt("JPEG decoded to fewer pixels than it declares"));
    }
    let dst = (target.0.min(decoded.0), target.1.min(decoded.1));
    let mut shrink = Downsampler::new(decoded, dst);
    let mut rgb = vec![0u8; decoded.0 as usize * 3];
    for row in pixels.chunks_exact(row_len) {
        for (px, out) in row.chunks_exact(bpp).zip(rgb.chunks_exact_mut(3)) {
            out.copy_from_slice(&match format {
                jpeg_decoder::PixelFormat::L8 => [px[0]; 3],
                // Big-endian samples: the high byte is enough for a thumbnail.
                jpeg_decoder::PixelFormat::L16 => [px[0]; 3],
                jpeg_decoder::PixelFormat::RGB24 => [px[0], px[1], px[2]],
                // Ink amounts (0 = none); never from a phone camera, only from print workflows.
                jpeg_decoder::PixelFormat::CMYK32 => {
                    let white = |v: u8| 255 - u16::from(v);
                    [0, 1, 2].map(|c| (white(px[c]) * white(px[3]) / 255) as u8)
                }
            });
        }
        shrink.push_row(&rgb);
    }
    let pixels = shrink.finish();
    Ok((Small { pixels, size: dst }, decoded))
}

fn decode_png(data: &[u8], target: (u32, u32)) -> Result<Small, MediaError> {
    let failed = |e: ::png::DecodingError| corrupt(format!("PNG does not decode: {e}"));
    let mut decoder = ::png::Decoder::new(Cursor::new(data));
    decoder.set_transformations(::png::Transformations::normalize_to_color8());
    decoder.set_limits(::png::Limits {
        bytes: CEILING.max_pixels as usize * 4,
    });
    let mut reader = decoder.read_info().map_err(failed)?;
    let size = (reader.info().width, reader.info().height);
    let channels = reader.output_color_type().0.samples();
    let mut shrink = Downsampler::new(size, target);
    let mut rgb = vec![0u8; size.0 as usize * 3];
    if reader.info().interlaced {
        // Interlaced rows arrive pass by pass; only the whole frame is in order.
        let mut frame = vec![
            0u8;
            reader
                .output_buffer_size()
                .ok_or_else(|| corrupt("PNG too big"))?
        ];
        let info = reader.next_frame(&mut frame).map_err(failed)?;
        for row in frame.chunks_exact(info.line_size).take(size.1 as usize) {
            to_rgb(row, channels, &mut rgb);
            shrink.push_row(&rgb);
        }
    } else {
        while let Some(row) = reader.next_row().map_err(failed)? {
            to_rgb(row.data(), channels, &mut rgb);
            shrink.push_row(&rgb);
        }
    }
    Ok(Small {
        pixels: shrink.finish(),
        size: target,
    })
}

fn decode_webp(data: &[u8], target: (u32, u32)) -> Result<Small, MediaError> {
    let failed = |e: image_webp::DecodingError| corrupt(format!("WebP does not decode: {e}"));
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(data)).map_err(failed)?;
    decoder.set_memory_limit(CEILING.max_pixels as usize * 4);
    let size = decoder.dimensions();
    let channels = if decoder.has_alpha() { 4 } else { 3 };
    let len = decoder
        .output_buffer_size()
        .ok_or_else(|| corrupt("WebP too big"))?;
    let mut frame = vec![0u8; len];
    decoder.read_image(&mut frame).map_err(failed)?;
    let mut shrink = Downsampler::new(size, target);
    let mut rgb = vec![0u8; size.0 as usize * 3];
    for row in frame.chunks_exact(size.0 as usize * channels) {
        to_rgb(row, channels, &mut rgb);
        shrink.push_row(&rgb);
    }
    Ok(Small {
        pixels: shrink.finish(),
        size: target,
    })
}

/// Grey, grey + alpha, RGB or RGBA (8 bits) to RGB, with transparency shown over white.
fn to_rgb(row: &[u8], channels: usize, out: &mut [u8]) {
    let over_white =
        |v: u8, a: u8| ((u16::from(v) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
    for (px, o) in row.chunks_exact(channels).zip(out.chunks_exact_mut(3)) {
        let rgb = match channels {
            1 => [px[0]; 3],
            2 => [over_white(px[0], px[1]); 3],
            3 => [px[0], px[1], px[2]],
            _ => [0, 1, 2].map(|c| over_white(px[c], px[3])),
        };
        o.copy_from_slice(&rgb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_320_wide_and_never_upscales() {
        assert_eq!(target_size((4000, 3000)), (320, 240));
        assert_eq!(target_size((3000, 4000)), (320, 427));
        assert_eq!(target_size((100, 50)), (100, 50));
        assert_eq!(target_size((1000, 100_000)), (12, 1280));
        assert_eq!(target_size((100_000, 1)), (320, 1));
    }
}
