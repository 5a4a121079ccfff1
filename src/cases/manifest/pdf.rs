//! The manifest as a printable A4 PDF: a ruled table paginated with its header repeated, set in
//! the standard non-embedded Adobe font STSong-Light, so no font file ships with the binary.

use std::ops::Range;

use pdf_writer::{Content, Finish, Pdf, Rect, Ref, TextStr};

use super::{ManifestData, ManifestRow};
use crate::cases::print::{self, FONT, PAGE_H, PAGE_W, fit, show, show_centered, width};

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
/// Text uses STSong-Light (`cases::print`); content streams are left uncompressed.
pub fn pdf(data: &ManifestData) -> Vec<u8> {
    let plan = plan(data.rows.len());
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let info_id = Ref::new(3);
    // The font takes this ref and the next two.
    let font_id = Ref::new(4);
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
    print::add_font(&mut pdf, font_id);

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
    use crate::cases::print::tests::{count, shown};

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
