//! What a citizen prints or shows for a drop in the box: the drop code as a QR image (reception's
//! scanner reads it as the code typed). Pure: no database, no HTTP.

use crate::domain::drop_code;

/// Pixels a QR module takes, and the blank modules around the code that scanners need.
const SCALE: usize = 8;
const QUIET: usize = 4;

/// The QR image of `code` (as `XXXX-XXXX`), a greyscale PNG.
pub fn qr_png(code: &str) -> Result<Vec<u8>, String> {
    let text = drop_code::display(code);
    let qr = qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    let modules = qr.width();
    let colors = qr.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (x, y) = ((i % modules + QUIET) * SCALE, (i / modules + QUIET) * SCALE);
        for row in y..y + SCALE {
            pixels[row * side + x..row * side + x + SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_image_is_a_square_png_with_a_quiet_border() {
        let png_bytes = qr_png("K7M29QX0").unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info().clone();
        assert_eq!(info.width, info.height);
        // Version 1 (21 modules) holds nine characters; with the border, 29 modules.
        assert_eq!(info.width as usize, (21 + 2 * QUIET) * SCALE);
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        assert!(
            buf[..QUIET * SCALE * info.width as usize]
                .iter()
                .all(|p| *p == 255)
        );
        assert!(buf.contains(&0));
    }
}
