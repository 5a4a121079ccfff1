//! Chinese text in a printable PDF without a font file: the standard non-embedded Adobe font
//! STSong-Light (every viewer substitutes it), its widths declared so our layout and the
//! viewer's agree. The manifest and the drop-off cover sheet are drawn with it. Pure.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// A4 portrait, in points.
pub const PAGE_W: f32 = 595.0;
pub const PAGE_H: f32 = 842.0;

/// The font's resource name on every page.
pub const FONT: Name<'static> = Name(b"F1");
const BASE_FONT: Name<'static> = Name(b"STSong-Light");

/// STSong-Light's proportional Latin glyphs, CIDs 1-95, which UniGB-UCS2-H maps U+0020-U+007E
/// to. Every other glyph used here is full width (1000). Declaring them keeps the viewer's
/// spacing and ours the same, whichever font it substitutes.
const LATIN_WIDTHS: [u16; 95] = [
    207, 270, 342, 467, 462, 797, 710, 239, 374, 374, 423, 605, 238, 375, 238, 334, 462, 462, 462,
    462, 462, 462, 462, 462, 462, 462, 238, 238, 605, 605, 605, 344, 748, 684, 560, 695, 739, 563,
    511, 729, 793, 318, 312, 666, 526, 896, 758, 772, 544, 772, 628, 465, 607, 753, 711, 972, 647,
    620, 607, 374, 333, 374, 606, 500, 239, 417, 503, 427, 529, 415, 264, 444, 518, 241, 230, 495,
    228, 793, 527, 524, 524, 504, 338, 336, 277, 517, 450, 652, 466, 452, 407, 370, 258, 370, 605,
];

/// Writes the font's three objects at `font_id` and the next two refs.
pub fn add_font(pdf: &mut Pdf, font_id: Ref) {
    let cid_font_id = Ref::new(font_id.get() + 1);
    let descriptor_id = Ref::new(font_id.get() + 2);
    pdf.type0_font(font_id)
        .base_font(BASE_FONT)
        .encoding_predefined(Name(b"UniGB-UCS2-H"))
        .descendant_font(cid_font_id);
    let mut cid_font = pdf.cid_font(cid_font_id);
    cid_font
        .subtype(CidFontType::Type0)
        .base_font(BASE_FONT)
        .system_info(SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"GB1"),
            supplement: 2,
        })
        .font_descriptor(descriptor_id)
        .default_width(1000.0);
    cid_font
        .widths()
        .consecutive(1, LATIN_WIDTHS.map(f32::from));
    cid_font.finish();
    pdf.font_descriptor(descriptor_id)
        .name(BASE_FONT)
        .flags(FontFlags::SERIF | FontFlags::SYMBOLIC)
        .bbox(Rect::new(-25.0, -254.0, 1000.0, 880.0))
        .italic_angle(0.0)
        .ascent(752.0)
        .descent(-271.0)
        .cap_height(737.0)
        .x_height(599.0)
        .stem_v(58.0)
        .style(0, 0, [0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
}

/// What the font can show: UCS-2 has no room past the BMP, and control characters show nothing.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            c if u32::from(c) > 0xffff => '□',
            c => c,
        })
        .collect()
}

fn advance(c: char) -> f32 {
    match c {
        ' '..='~' => f32::from(LATIN_WIDTHS[c as usize - 0x20]),
        _ => 1000.0,
    }
}

/// How wide `text` is set at `size` points.
pub fn width(text: &str, size: f32) -> f32 {
    text.chars().map(advance).sum::<f32>() * size / 1000.0
}

/// `text` cut to `max` points wide, with an ellipsis when it had to be cut.
pub fn fit(text: &str, max: f32, size: f32) -> String {
    let text = printable(text);
    if width(&text, size) <= max {
        return text;
    }
    let budget = max * 1000.0 / size - advance('…');
    let mut used = 0.0;
    let mut out = String::new();
    for c in text.chars() {
        used += advance(c);
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The string UniGB-UCS2-H reads: UTF-16BE code units.
fn ucs2(text: &str) -> Vec<u8> {
    printable(text)
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect()
}

/// `text` with its baseline starting at `(x, y)`.
pub fn show(content: &mut Content, x: f32, y: f32, size: f32, text: &str) {
    content
        .begin_text()
        .set_font(FONT, size)
        .next_line(x, y)
        .show(Str(&ucs2(text)))
        .end_text();
}

pub fn show_centered(content: &mut Content, centre: f32, y: f32, size: f32, text: &str) {
    show(content, centre - width(text, size) / 2.0, y, size, text);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    }

    /// How pdf-writer writes a shown string: literal when every byte is ASCII (UTF-16BE of
    /// ASCII text is, with NUL high bytes), hex otherwise.
    pub fn shown(text: &str) -> Vec<u8> {
        let bytes = ucs2(text);
        if bytes.is_ascii() {
            let escaped: String = bytes
                .iter()
                .map(|&b| match b {
                    b' '..=b'~' => (b as char).to_string(),
                    _ => format!("\\{b:03o}"),
                })
                .collect();
            format!("({escaped})").into_bytes()
        } else {
            format!("<{}>", hex::encode_upper(&bytes)).into_bytes()
        }
    }

    #[test]
    fn text_past_its_width_is_cut_with_an_ellipsis() {
        let name = "老年人优待证办理（一个长得放不进这一栏的事项名称）";
        let cut = fit(name, 95.0, 9.0);
        assert!(cut.ends_with('…') && cut.chars().count() < name.chars().count());
        assert!(width(&cut, 9.0) <= 95.0);
        assert_eq!(fit("abc", 95.0, 9.0), "abc");
        // Past the BMP and control characters become what the font can show.
        assert_eq!(printable("a\u{1F600}\tb"), "a□ b");
    }
}
