//! ISO base media file format (the container of HEIF): boxes and a bounds-checked reader. Every
//! read is checked, so a hostile file can make parsing fail but never panic.

use std::ops::Range;

use super::{MediaError, corrupt};

/// One box: its type and where its header and contents lie in the whole file.
#[derive(Debug, Clone)]
pub(super) struct BoxRef {
    pub kind: [u8; 4],
    /// Offset of the box header in the file.
    pub start: usize,
    /// The box contents (after the header), as offsets into the file.
    pub body: Range<usize>,
}

/// The boxes that lie one after another in `range` of `data`. A box that runs past the range
/// (a truncated file, above all) is an error.
pub(super) fn children(data: &[u8], range: Range<usize>) -> Result<Vec<BoxRef>, MediaError> {
    let mut boxes = Vec::new();
    let mut pos = range.start;
    while pos < range.end {
        let mut r = Reader::new(data, pos..range.end);
        let size = r.u32()? as u64;
        let kind = r.fourcc()?;
        let size = match size {
            0 => (range.end - pos) as u64, // to the end of the enclosing range
            1 => r.u64()?,
            n => n,
        };
        let header = r.pos - pos;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| pos.checked_add(s))
            .filter(|&e| e >= pos + header && e <= range.end)
            .ok_or_else(|| {
                corrupt(format!(
                    "HEIF '{}' box runs past its container (truncated?)",
                    kind.escape_ascii()
                ))
            })?;
        boxes.push(BoxRef {
            kind,
            start: pos,
            body: pos + header..end,
        });
        pos = end;
    }
    Ok(boxes)
}

/// Reads big-endian fields from a range of the file, refusing to step outside it.
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pub pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], range: Range<usize>) -> Self {
        Self {
            data,
            pos: range.start,
            end: range.end.min(data.len()),
        }
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], MediaError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.end)
            .ok_or_else(|| corrupt("HEIF box is shorter than its fields"))?;
        let b = &self.data[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    pub fn u8(&mut self) -> Result<u8, MediaError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, MediaError> {
        Ok(u16::from_be_bytes(self.bytes(2)?.try_into().expect("2")))
    }

    pub fn u32(&mut self) -> Result<u32, MediaError> {
        Ok(u32::from_be_bytes(self.bytes(4)?.try_into().expect("4")))
    }

    pub fn u64(&mut self) -> Result<u64, MediaError> {
        Ok(u64::from_be_bytes(self.bytes(8)?.try_into().expect("8")))
    }

    pub fn fourcc(&mut self) -> Result<[u8; 4], MediaError> {
        Ok(self.bytes(4)?.try_into().expect("4"))
    }

    /// An unsigned field of 0, 4 or 8 bytes (the sizes `iloc` allows), as u64.
    pub fn uint(&mut self, size: u8) -> Result<u64, MediaError> {
        match size {
            0 => Ok(0),
            4 => Ok(u64::from(self.u32()?)),
            8 => self.u64(),
            n => Err(corrupt(format!("HEIF field of {n} bytes"))),
        }
    }

    /// A FullBox header: version and 24-bit flags.
    pub fn full_box(&mut self) -> Result<(u8, u32), MediaError> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00FF_FFFF))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_are_listed_with_their_bodies() {
        let data = [
            0, 0, 0, 12, b'f', b'r', b'e', b'e', 1, 2, 3, 4, // free, 4 bytes of body
            0, 0, 0, 0, b'm', b'd', b'a', b't', 9, 9, // mdat to the end
        ];
        let boxes = children(&data, 0..data.len()).unwrap();
        assert_eq!(boxes.len(), 2);
        assert_eq!(&boxes[0].kind, b"free");
        assert_eq!(boxes[0].body, 8..12);
        assert_eq!(&boxes[1].kind, b"mdat");
        assert_eq!(boxes[1].body, 20..22);
    }

    #[test]
    fn box_running_past_the_file_is_corrupt() {
        let data = [0, 0, 0, 40, b'm', b'd', b'a', b't', 1, 2];
        assert!(children(&data, 0..data.len()).is_err());
        let tiny = [0, 0, 0, 4, b'm', b'd', b'a', b't'];
        assert!(children(&tiny, 0..tiny.len()).is_err());
    }

    #[test]
    fn reader_refuses_to_read_past_its_range() {
        let data = [1, 2, 3];
        let mut r = Reader::new(&data, 0..2);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert!(r.u8().is_err());
    }
}
