//! What a citizen prints or shows for a drop in the box: the drop code as a QR image (reception's
//! scanner reads it as the code typed), and the cover sheet to attach to the envelope, an A4 PDF
//! with the code, its QR drawn as vectors, where and when the box is emptied, and the originals
//! that belong inside. Pure: no database, no HTTP.

use pdf_writer::{Content, Finish, Pdf, Rect, Ref, TextStr};

use crate::cases::print::{self, FONT, PAGE_H, PAGE_W, fit, show, show_centered};
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

/// Everything the cover sheet says, times already in local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverSheet {
    /// The drop code as stored (eight characters).
    pub code: String,
    pub matter_name: String,
    /// The application's id, as the citizen's screens show it.
    pub application_no: String,
    /// The materials whose paper originals go in the envelope.
    pub originals: Vec<String>,
    pub place: String,
    /// `HH:MM`, each emptying of the day.
    pub emptied_at: Vec<String>,
    /// `YYYY-MM-DD`: the drop is overdue (and the citizen reminded) after this day.
    pub drop_by: String,
}

const MARGIN: f32 = 56.0;
/// The QR's side, in points, quiet border included: about 6 cm, which a desk scanner reads at
/// arm's length.
const QR_SIDE: f32 = 170.0;
/// How many originals the sheet lists before it says how many more there are.
const LISTED: usize = 14;

/// Draws the QR of `text` with its top-left corner at `(x, top)`, `side` points square: one
/// filled rectangle per dark module, so it prints sharp at any size.
fn qr_vectors(
    content: &mut Content,
    text: &str,
    x: f32,
    top: f32,
    side: f32,
) -> Result<(), String> {
    let qr = qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    let modules = qr.width();
    let module = side / (modules + 2 * QUIET) as f32;
    content.set_fill_gray(0.0);
    for (i, color) in qr.to_colors().iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (col, row) = ((i % modules + QUIET) as f32, (i / modules + QUIET) as f32);
        content.rect(x + col * module, top - (row + 1.0) * module, module, module);
    }
    content.fill_nonzero();
    Ok(())
}

/// The cover sheet as a one-page A4 PDF in STSong-Light (`cases::print`).
pub fn cover_pdf(sheet: &CoverSheet) -> Result<Vec<u8>, String> {
    let code = drop_code::display(&sheet.code);
    let (catalog_id, tree_id, page_id, content_id, info_id) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    // The font takes this ref and the next two.
    let font_id = Ref::new(6);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id).kids([page_id]).count(1);
    let title = format!("原件投递封面 {code}");
    pdf.document_info(info_id)
        .title(TextStr(&title))
        .producer(TextStr("Beebox"));
    print::add_font(&mut pdf, font_id);

    let mut c = Content::new();
    let centre = PAGE_W / 2.0;
    let line = PAGE_W - 2.0 * MARGIN;
    show_centered(&mut c, centre, 780.0, 22.0, "原件投递封面");
    show_centered(
        &mut c,
        centre,
        756.0,
        11.0,
        "请将本页贴在信封正面（或在信封上写明投递码），封好后投入自助投递箱",
    );
    show_centered(&mut c, centre, 700.0, 40.0, &code);
    qr_vectors(&mut c, &code, centre - QR_SIDE / 2.0, 684.0, QR_SIDE)?;

    let mut y = 480.0;
    let facts = [
        format!("投递码：{code}"),
        format!("事项：{}", sheet.matter_name),
        format!("申请编号：{}", sheet.application_no),
        format!("投递地点：{}", sheet.place),
        format!("开箱时间：每日 {}", sheet.emptied_at.join("、")),
        format!("请于 {} 前投递；逾期未投递将提醒您。", sheet.drop_by),
    ];
    for fact in &facts {
        show(&mut c, MARGIN, y, 12.0, &fit(fact, line, 12.0));
        y -= 20.0;
    }
    y -= 8.0;
    show(&mut c, MARGIN, y, 12.0, "信封内应装入以下原件：");
    y -= 20.0;
    c.set_line_width(0.8);
    for name in sheet.originals.iter().take(LISTED) {
        // A box to tick as each original goes in.
        c.rect(MARGIN + 4.0, y - 1.0, 9.0, 9.0).stroke();
        show(
            &mut c,
            MARGIN + 20.0,
            y,
            11.0,
            &fit(name, line - 20.0, 11.0),
        );
        y -= 17.0;
    }
    if sheet.originals.len() > LISTED {
        let more = format!("……另有 {} 项，见申请详情", sheet.originals.len() - LISTED);
        show(&mut c, MARGIN + 20.0, y, 11.0, &more);
    }
    show_centered(
        &mut c,
        centre,
        40.0,
        9.0,
        "受理中心开箱后扫描二维码或输入投递码签收；签收后您会收到通知。",
    );

    let mut page = pdf.page(page_id);
    page.parent(tree_id)
        .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
        .contents(content_id);
    page.resources().fonts().pair(FONT, font_id);
    page.finish();
    pdf.stream(content_id, &c.finish());
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::print::tests::{count, shown};

    fn sheet(originals: usize) -> CoverSheet {
        CoverSheet {
            code: "K7M29QX0".into(),
            matter_name: "老年人优待证办理".into(),
            application_no: "0193a5b2c4d47e6f8a9b0c1d2e3f4a5b".into(),
            originals: (1..=originals).map(|i| format!("原件{i}")).collect(),
            place: "市民中心一楼自助区".into(),
            emptied_at: vec!["09:30".into(), "15:30".into()],
            drop_by: "2026-12-10".into(),
        }
    }

    #[test]
    fn the_cover_sheet_carries_the_code_the_qr_and_every_original() {
        let pdf = cover_pdf(&sheet(3)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(count(&pdf, b"/Count 1"), 1);
        assert_eq!(count(&pdf, &shown("K7M2-9QX0")), 1);
        assert_eq!(count(&pdf, &shown("投递码：K7M2-9QX0")), 1);
        assert_eq!(count(&pdf, &shown("开箱时间：每日 09:30、15:30")), 1);
        for i in 1..=3 {
            assert_eq!(count(&pdf, &shown(&format!("原件{i}"))), 1);
        }
        // The QR: one filled square per dark module, as `re` operators.
        let qr = qrcode::QrCode::new(b"K7M2-9QX0").unwrap();
        let dark = qr
            .to_colors()
            .iter()
            .filter(|c| **c == qrcode::Color::Dark)
            .count();
        // Plus the three tick boxes.
        assert_eq!(count(&pdf, b" re\n"), dark + 3);
    }

    #[test]
    fn a_long_list_of_originals_says_how_many_more() {
        let pdf = cover_pdf(&sheet(LISTED + 3)).unwrap();
        assert_eq!(count(&pdf, &shown(&format!("原件{LISTED}"))), 1);
        assert_eq!(count(&pdf, &shown(&format!("原件{}", LISTED + 1))), 0);
        assert_eq!(count(&pdf, &shown("……另有 3 项，见申请详情")), 1);
    }

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
