//! The `meta` box of a HEIF file: which items there are, where their data lies, and the size
//! and rotation of the primary image.

use std::collections::HashMap;
use std::ops::Range;

use crate::media::bmff::{BoxRef, Reader, children};
use crate::media::{MediaError, corrupt};

pub(super) struct Location {
    pub method: u8,
    pub data_reference: u16,
    pub base_offset: u64,
    pub extents: Vec<(u64, u64)>,
}

#[derive(Default)]
pub(super) struct Meta {
    pub item_types: HashMap<u32, [u8; 4]>,
    pub locations: HashMap<u32, Location>,
    pub idat: Option<Range<usize>>,
    pub primary_size: Option<(u32, u32)>,
    /// Anticlockwise quarter turns of the primary image.
    pub rotation: u8,
    pub sizes: Vec<(u32, u32)>,
}

impl Meta {
    pub fn read(data: &[u8], meta: &BoxRef) -> Result<Self, MediaError> {
        let mut r = Reader::new(data, meta.body.clone());
        r.full_box()?;
        let mut m = Meta::default();
        let (mut handler, mut primary, mut iloc, mut iinf) = (None, None, false, false);
        let mut ipco = Vec::new();
        let mut ipma = None;
        for b in children(data, r.pos..meta.body.end)? {
            let mut r = Reader::new(data, b.body.clone());
            match &b.kind {
                b"hdlr" => {
                    r.full_box()?;
                    r.u32()?;
                    handler = Some(r.fourcc()?);
                }
                b"pitm" => {
                    let (v, _) = r.full_box()?;
                    primary = Some(if v == 0 {
                        u32::from(r.u16()?)
                    } else {
                        r.u32()?
                    });
                }
                b"iinf" => {
                    iinf = true;
                    m.read_iinf(data, &b)?;
                }
                b"iloc" => {
                    iloc = true;
                    m.read_iloc(&mut r)?;
                }
                b"idat" => m.idat = Some(b.body.clone()),
                b"iprp" => {
                    for p in children(data, b.body.clone())? {
                        match &p.kind {
                            b"ipco" => ipco = children(data, p.body.clone())?,
                            b"ipma" => ipma = Some(p),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if handler != Some(*b"pict") {
            return Err(corrupt("HEIF meta box is not a picture (hdlr 'pict')"));
        }
        let primary = primary.ok_or_else(|| corrupt("HEIF names no primary item"))?;
        if !iinf || !iloc {
            return Err(corrupt("HEIF meta box lacks iinf or iloc"));
        }
        let mut props = Vec::with_capacity(ipco.len());
        for p in &ipco {
            let mut r = Reader::new(data, p.body.clone());
            props.push(match &p.kind {
                b"ispe" => {
                    r.full_box()?;
                    let size = (r.u32()?, r.u32()?);
                    m.sizes.push(size);
                    Prop::Size(size)
                }
                b"irot" => Prop::Rotation(r.u8()? & 3),
                _ => Prop::Other,
            });
        }
        if let Some(ipma) = ipma {
            for index in primary_properties(data, &ipma, primary)? {
                match props.get(index.wrapping_sub(1)) {
                    Some(Prop::Size(s)) => m.primary_size = Some(*s),
                    Some(Prop::Rotation(a)) => m.rotation = *a,
                    _ => {}
                }
            }
        }
        Ok(m)
    }

    fn read_iinf(&mut self, data: &[u8], iinf: &BoxRef) -> Result<(), MediaError> {
        let mut r = Reader::new(data, iinf.body.clone());
        let (v, _) = r.full_box()?;
        if v == 0 {
            r.u16()?;
        } else {
            r.u32()?;
        }
        for infe in children(data, r.pos..iinf.body.end)? {
            if &infe.kind != b"infe" {
                continue;
            }
            let mut r = Reader::new(data, infe.body.clone());
            let (v, _) = r.full_box()?;
            let (id, kind) = match v {
                2 | 3 => {
                    let id = if v == 2 {
                        u32::from(r.u16()?)
                    } else {
                        r.u32()?
                    };
                    r.u16()?; // protection index
                    (id, r.fourcc()?)
                }
                // Versions 0 and 1 name no type; their payloads are MIME-typed data.
                _ => (u32::from(r.u16()?), *b"mime"),
            };
            self.item_types.insert(id, kind);
        }
        Ok(())
    }

    fn read_iloc(&mut self, r: &mut Reader<'_>) -> Result<(), MediaError> {
        let (v, _) = r.full_box()?;
        if v > 2 {
            return Err(corrupt(format!("HEIF iloc version {v}")));
        }
        let sizes = r.u8()?;
        let (offset_size, length_size) = (sizes >> 4, sizes & 15);
        let sizes = r.u8()?;
        let base_size = sizes >> 4;
        let index_size = if v == 0 { 0 } else { sizes & 15 };
        let count = if v < 2 { u32::from(r.u16()?) } else { r.u32()? };
        for _ in 0..count {
            let id = if v < 2 { u32::from(r.u16()?) } else { r.u32()? };
            let method = if v == 0 { 0 } else { (r.u16()? & 15) as u8 };
            let data_reference = r.u16()?;
            let base_offset = r.uint(base_size)?;
            let n = r.u16()?;
            let mut extents = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                r.uint(index_size)?;
                extents.push((r.uint(offset_size)?, r.uint(length_size)?));
            }
            self.locations.insert(
                id,
                Location {
                    method,
                    data_reference,
                    base_offset,
                    extents,
                },
            );
        }
        Ok(())
    }
}

enum Prop {
    Size((u32, u32)),
    Rotation(u8),
    Other,
}

/// The 1-based property indices `ipma` associates with `item`.
fn primary_properties(data: &[u8], ipma: &BoxRef, item: u32) -> Result<Vec<usize>, MediaError> {
    let mut r = Reader::new(data, ipma.body.clone());
    let (v, flags) = r.full_box()?;
    for _ in 0..r.u32()? {
        let id = if v < 1 { u32::from(r.u16()?) } else { r.u32()? };
        let n = r.u8()?;
        let mut indices = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            indices.push(if flags & 1 == 1 {
                usize::from(r.u16()? & 0x7FFF)
            } else {
                usize::from(r.u8()? & 0x7F)
            });
        }
        if id == item {
            return Ok(indices);
        }
    }
    Ok(Vec::new())
}
