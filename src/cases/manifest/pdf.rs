//! The manifest as a printable A4 PDF: a ruled table paginated with its header repeated, set in
//! the standard non-embedded Adobe font STSong-Light, so no font file ships with the binary.

use std::ops::Range;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::{ManifestData, ManifestRow};

// A4 portrait, in points.
const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
const ROW_H: f32 = 18.0;
const CELL_PAD: f32 = 4.0;
const TABLE_SIZE: f32 = 9.0;
/// Where the table starts on the first page (below title and batch lines) and on the others.
const FIRST_TOP: f32 = 716.0;
const NEXT_TOP: f32 = 776.0;
/// Nothing but the page footer goes below this.
const BOTTOM: f32 = 60.0;
/// The total and the signatures line, below the last table row.
const CLOSING_H: f32 = 64.0;

#[derive(Clone, Copy)]
enum Align {
    Left,
    Center,
}

/// Heading, width, alignment. The widths add up to the page less its margins; the id column
/// holds 32 hex digits at their widest.
const COLUMNS: [(&str, f32, Align); 7] = [
    ("序号", 28.0, Align::Center),
    ("申请编号", 162.0, Align::Left),
    ("事项", 103.0, Align::Left),
    ("申请人", 62.0, Align::Left),
    ("原件材料数", 54.0, Align::Center),
    ("页数", 30.0, Align::Center),
    ("收件时间", 76.0, Align::Left),
];

const FONT: Name<'static> = Name(b"F1");
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

fn width(text: &str, size: f32) -> f32 {
    text.chars().map(advance).sum::<f32>() * size / 1000.0
}

/// `text` cut to `max` points wide, with an ellipsis when it had to be cut.
fn fit(text: &str, max: f32, size: f32) -> String {
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

fn show(content: &mut Content, x: f32, y: f32, size: f32, text: &str) {
    content
        .begin_text()
        .set_font(FONT, size)
        .next_line(x, y)
        .show(Str(&ucs2(text)))
        .end_text();
}

fn show_centered(content: &mut Content, centre: f32, y: f32, size: f32, text: &str) {
    show(content, centre - width(text, size) / 2.0, y, size, text);
}

/// The rows each page holds. The closing block goes below the last rows, or alone on a page
/// of its own (an empty range) when they leave no room for it.
fn plan(rows: usize) -> Vec<Range<usize>> {
    let mut pages: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    loop {
        let top = if pages.is_empty() {
            FIRST_TOP
        } else {
            NEXT_TOP
        };
        // One row height goes to the repeated header row.
        let fits = ((top - BOTTOM) / ROW_H) as usize - 1;
        let end = (start + fits).min(rows);
        pages.push(start..end);
        if end == rows {
            let table_bottom = top - ROW_H * (end - start + 1) as f32;
            if table_bottom - CLOSING_H < BOTTOM {
                pages.push(rows..rows);
            }
            return pages;
        }
        start = end;
    }
}

/// Draws the header row and `rows` from `top` down; returns the table's bottom edge.
fn table(content: &mut Content, top: f32, rows: &[ManifestRow]) -> f32 {
    let bottom = top - ROW_H * (rows.len() + 1) as f32;
    let right = PAGE_W - MARGIN;
    content
        .set_fill_gray(0.9)
        .rect(MARGIN, top - ROW_H, right - MARGIN, ROW_H)
        .fill_nonzero()
        .set_fill_gray(0.0)
        .set_line_width(0.5);
    for k in 0..=rows.len() + 1 {
        let y = top - ROW_H * k as f32;
        content.move_to(MARGIN, y).line_to(right, y);
    }
    let mut x = MARGIN;
    content.move_to(x, top).line_to(x, bottom);
    for (_, w, _) in COLUMNS {
        x += w;
        content.move_to(x, top).line_to(x, bottom);
    }
    content.stroke();

    let header = COLUMNS.map(|(heading, _, _)| heading.to_string());
    let cells = rows.iter().map(|row| {
        [
            row.index.to_string(),
            row.application_id.simple().to_string(),
            row.matter_name.clone(),
            row.applicant_name.clone(),
            row.originals.to_string(),
            row.pages.to_string(),
            row.received.clone(),
        ]
    });
    for (k, cells) in std::iter::once(header).chain(cells).enumerate() {
        // The baseline sits a little below the row's middle for CJK glyphs.
        let baseline = top - ROW_H * (k + 1) as f32 + (ROW_H - TABLE_SIZE) / 2.0 + 1.5;
        let mut x = MARGIN;
        for ((_, w, align), cell) in COLUMNS.iter().zip(cells) {
            let text = fit(&cell, w - 2.0 * CELL_PAD, TABLE_SIZE);
            match (k, align) {
                (0, _) | (_, Align::Center) => {
                    show_centered(content, x + w / 2.0, baseline, TABLE_SIZE, &text)
                }
                (_, Align::Left) => show(content, x + CELL_PAD, baseline, TABLE_SIZE, &text),
            }
            x += w;
        }
    }
    bottom
}

fn closing(content: &mut Content, top: f32, cases: usize) {
    show(
        content,
        MARGIN,
        top - 20.0,
        11.0,
        &format!("合计 {cases} 件"),
    );
    let y = top - 56.0;
    let mut x = MARGIN;
    for label in ["移交人签字：", "接收人签字：", "交接日期："] {
        show(content, x, y, 11.0, label);
        x += width(label, 11.0);
        // A drawn line to sign on: a run of underscores would be as long as the substituted
        // font makes it.
        content
            .set_line_width(0.5)
            .move_to(x + 2.0, y - 2.0)
            .line_to(x + 92.0, y - 2.0)
            .stroke();
        x += 104.0;
    }
}

/// The manifest as an A4 PDF: title, batch lines, the table (its header repeated on every
/// page), the total and the signatures line, and "第 i 页 / 共 n 页" at the foot of each page.
/// Text uses STSong-Light, one of the Adobe Asian fonts every viewer substitutes; content
/// streams are left uncompressed.
pub fn pdf(data: &ManifestData) -> Vec<u8> {
    let plan = plan(data.rows.len());
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let font_id = Ref::new(3);
    let cid_font_id = Ref::new(4);
    let descriptor_id = Ref::new(5);
    let info_id = Ref::new(6);
    let page_ids: Vec<(Ref, Ref)> = (0..plan.len() as i32)
        .map(|i| (Ref::new(7 + 2 * i), Ref::new(8 + 2 * i)))
        .collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().map(|(page, _)| *page))
        .count(plan.len() as i32);
    let title = format!("材料交接单 {}", data.batch_id);
    pdf.document_info(info_id)
        .title(TextStr(&title))
        .producer(TextStr("Beebox"));
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

    let department = match &data.department_name {
        Some(name) => format!("{name}（{}）", data.department_code),
        None => data.department_code.clone(),
    };
    for (i, (rows, (page_id, content_id))) in plan.iter().zip(&page_ids).enumerate() {
        let mut content = Content::new();
        let top = if i == 0 {
            show_centered(&mut content, PAGE_W / 2.0, 784.0, 18.0, "材料交接单");
            let lines = [
                format!("批次编号：{}", data.batch_id),
                format!("部门：{department}"),
                format!("截止时间：{}", data.cutoff),
            ];
            for (k, line) in lines.iter().enumerate() {
                let text = fit(line, PAGE_W - 2.0 * MARGIN, 10.0);
                show(&mut content, MARGIN, 760.0 - 15.0 * k as f32, 10.0, &text);
            }
            FIRST_TOP
        } else {
            let heading = format!("材料交接单（续） 批次编号：{}", data.batch_id);
            show(&mut content, MARGIN, 790.0, 10.0, &heading);
            NEXT_TOP
        };
        // A page of its own for the closing block has no table; every other page has one.
        let below = if rows.is_empty() && i > 0 {
            top
        } else {
            table(&mut content, top, &data.rows[rows.clone()])
        };
        if i + 1 == plan.len() {
            closing(&mut content, below, data.rows.len());
        }
        let footer = format!("第 {} 页 / 共 {} 页", i + 1, plan.len());
        show_centered(&mut content, PAGE_W / 2.0, 30.0, 9.0, &footer);

        let mut page = pdf.page(*page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(*content_id);
        page.resources().fonts().pair(FONT, font_id);
        page.finish();
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::manifest::tests::data;

    fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    }

    /// How pdf-writer writes a shown string: literal when every byte is ASCII (UTF-16BE of
    /// ASCII text is, with NUL high bytes), hex otherwise.
    fn shown(text: &str) -> Vec<u8> {
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
    fn sixty_cases_fill_two_pages_with_every_case_once() {
        let data = data(60);
        let pdf = pdf(&data);
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(count(&pdf, b"/Count 2"), 1);
        assert_eq!(count(&pdf, b"/BaseFont /STSong-Light"), 2);
        for row in &data.rows {
            let id = shown(&row.application_id.simple().to_string());
            assert_eq!(count(&pdf, &id), 1, "{}", row.application_id);
        }
        // The header row is repeated; the footer numbers both pages.
        assert_eq!(count(&pdf, &shown("申请编号")), 2);
        assert_eq!(count(&pdf, &shown("第 1 页 / 共 2 页")), 1);
        assert_eq!(count(&pdf, &shown("第 2 页 / 共 2 页")), 1);
        assert_eq!(count(&pdf, &shown("合计 60 件")), 1);
        assert_eq!(count(&pdf, &shown("接收人签字：")), 1);
    }

    #[test]
    fn a_full_last_page_sends_the_signatures_to_a_page_of_their_own() {
        let fits_first = plan(1000)[0].len();
        assert_eq!(plan(fits_first), [0..fits_first, fits_first..fits_first]);
        assert_eq!((plan(3).len(), plan(3)[0].clone()), (1, 0..3));
        let pdf = pdf(&data(fits_first));
        assert_eq!(count(&pdf, b"/Count 2"), 1);
        assert_eq!(count(&pdf, &shown("申请编号")), 1);
    }

    #[test]
    fn long_cells_are_cut_to_their_column() {
        let (_, w, _) = COLUMNS[2];
        let name = "老年人优待证办理（一个长得放不进这一栏的事项名称）";
        let cut = fit(name, w - 2.0 * CELL_PAD, TABLE_SIZE);
        assert!(cut.ends_with('…') && cut.chars().count() < name.chars().count());
        assert!(width(&cut, TABLE_SIZE) <= w - 2.0 * CELL_PAD);
        // An id at its widest still fits whole.
        let (_, w, _) = COLUMNS[1];
        assert_eq!(
            fit(&"d".repeat(32), w - 2.0 * CELL_PAD, TABLE_SIZE),
            "d".repeat(32)
        );
        assert_eq!(
            COLUMNS.iter().map(|c| c.1).sum::<f32>(),
            PAGE_W - 2.0 * MARGIN
        );
    }
}
