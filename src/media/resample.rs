//! Shrinks RGB pictures a row at a time (area averaging, so no row is kept once read) and turns
//! them upright by EXIF orientation.

/// Area-averaging shrink of an RGB8 picture fed one source row at a time.
pub(super) struct Downsampler {
    dst_w: usize,
    /// For each source column: the destination columns it covers and by how much.
    columns: Vec<Vec<(usize, f32)>>,
    src_h: usize,
    dst_h: usize,
    next_row: usize,
    row: Vec<f32>,
    acc: Vec<f32>,
}

impl Downsampler {
    pub fn new(src: (u32, u32), dst: (u32, u32)) -> Self {
        let (src_w, src_h) = (src.0 as usize, src.1 as usize);
        let (dst_w, dst_h) = (dst.0.max(1) as usize, dst.1.max(1) as usize);
        Self {
            dst_w,
            columns: (0..src_w).map(|x| coverage(x, src_w, dst_w)).collect(),
            src_h,
            dst_h,
            next_row: 0,
            row: vec![0.0; dst_w * 3],
            acc: vec![0.0; dst_w * dst_h * 3],
        }
    }

    /// Adds the next source row (RGB8, exactly the source width). Rows past the height are ignored.
    pub fn push_row(&mut self, rgb: &[u8]) {
        if self.next_row >= self.src_h {
            return;
        }
        self.row.fill(0.0);
        for (x, px) in rgb.chunks_exact(3).enumerate().take(self.columns.len()) {
            for &(dx, w) in &self.columns[x] {
                for (acc, &v) in self.row[dx * 3..dx * 3 + 3].iter_mut().zip(px) {
                    *acc += w * f32::from(v);
                }
            }
        }
        for (dy, w) in coverage(self.next_row, self.src_h, self.dst_h) {
            let out = &mut self.acc[dy * self.dst_w * 3..(dy + 1) * self.dst_w * 3];
            for (o, v) in out.iter_mut().zip(&self.row) {
                *o += w * v;
            }
        }
        self.next_row += 1;
    }

    /// The shrunk picture, RGB8, `dst` in size.
    pub fn finish(self) -> Vec<u8> {
        self.acc
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect()
    }
}

/// Which destination cells source cell `i` overlaps, and by how much (in destination units, so
/// what one destination cell receives always sums to 1).
fn coverage(i: usize, src: usize, dst: usize) -> Vec<(usize, f32)> {
    let scale = dst as f64 / src as f64;
    let (start, end) = (i as f64 * scale, (i + 1) as f64 * scale);
    let first = start.floor() as usize;
    let last = (end.ceil() as usize).min(dst);
    (first..last)
        .filter_map(|j| {
            let overlap = end.min(j as f64 + 1.0) - start.max(j as f64);
            (overlap > 1e-9).then_some((j, overlap as f32))
        })
        .collect()
}

/// Turns an RGB8 picture upright by EXIF orientation (1 to 8); returns it with its new size.
pub(super) fn orient(rgb: &[u8], (w, h): (u32, u32), orientation: u16) -> (Vec<u8>, (u32, u32)) {
    let (w, h) = (w as usize, h as usize);
    let swap = (5..=8).contains(&orientation);
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    let mut out = vec![0u8; rgb.len()];
    for uy in 0..oh {
        for ux in 0..ow {
            // The stored pixel that shows at (ux, uy) once upright.
            let (sx, sy) = match orientation {
                2 => (w - 1 - ux, uy),
                3 => (w - 1 - ux, h - 1 - uy),
                4 => (ux, h - 1 - uy),
                5 => (uy, ux),
                6 => (uy, h - 1 - ux),
                7 => (w - 1 - uy, h - 1 - ux),
                8 => (w - 1 - uy, ux),
                _ => (ux, uy),
            };
            let (s, d) = ((sy * w + sx) * 3, (uy * ow + ux) * 3);
            out[d..d + 3].copy_from_slice(&rgb[s..s + 3]);
        }
    }
    (out, (ow as u32, oh as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_colour_stays_flat_at_any_ratio() {
        for &(src, dst) in &[((7, 5), (3, 2)), ((500, 375), (320, 240)), ((4, 4), (4, 4))] {
            let mut d = Downsampler::new(src, dst);
            for _ in 0..src.1 {
                d.push_row(&[10, 200, 30].repeat(src.0 as usize));
            }
            let out = d.finish();
            assert_eq!(out.len(), (dst.0 * dst.1 * 3) as usize);
            assert!(
                out.chunks(3).all(|p| p == [10, 200, 30]),
                "{src:?} -> {dst:?}"
            );
        }
    }

    #[test]
    fn halving_averages_each_block() {
        let mut d = Downsampler::new((2, 2), (1, 1));
        d.push_row(&[0, 0, 0, 100, 100, 100]);
        d.push_row(&[200, 200, 200, 100, 100, 100]);
        assert_eq!(d.finish(), vec![100, 100, 100]);
    }

    /// A 3 x 2 picture whose pixels are numbered 0..6 in their red channel.
    fn numbered() -> Vec<u8> {
        (0..6u8).flat_map(|i| [i, 0, 0]).collect()
    }

    fn reds(rgb: &[u8]) -> Vec<u8> {
        rgb.chunks(3).map(|p| p[0]).collect()
    }

    #[test]
    fn every_orientation_lands_the_top_left_where_exif_says() {
        // Stored:  0 1 2
        //          3 4 5
        let cases: [(u16, (u32, u32), [u8; 6]); 8] = [
            (1, (3, 2), [0, 1, 2, 3, 4, 5]),
            (2, (3, 2), [2, 1, 0, 5, 4, 3]),
            (3, (3, 2), [5, 4, 3, 2, 1, 0]),
            (4, (3, 2), [3, 4, 5, 0, 1, 2]),
            (5, (2, 3), [0, 3, 1, 4, 2, 5]),
            (6, (2, 3), [3, 0, 4, 1, 5, 2]),
            (7, (2, 3), [5, 2, 4, 1, 3, 0]),
            (8, (2, 3), [2, 5, 1, 4, 0, 3]),
        ];
        for (o, size, expected) in cases {
            let (out, got) = orient(&numbered(), (3, 2), o);
            assert_eq!(got, size, "orientation {o}");
            assert_eq!(reds(&out), expected, "orientation {o}");
        }
    }
}
