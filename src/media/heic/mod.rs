//! HEIC/HEIF: reads `ftyp` and the `meta` box (handler, primary item, item infos, item
//! locations, properties), checks that every item's data lies inside the file, takes the size
//! from the `ispe` properties, and blanks metadata *in place* so no offset moves:
//! - the payload of every `Exif` item and every `mime` item (XMP) is overwritten with zeros;
//! - top-level `uuid` boxes, and `udta`/`meta` boxes of an image sequence's `moov`, become
//!   zero-filled `free` boxes.
//!
//! The picture itself (HEVC) is never decoded here.

mod meta;

use std::ops::Range;

use self::meta::Meta;
use super::bmff::{BoxRef, children};
use super::{Limits, MediaError, Parsed, Piece, check_dimensions, corrupt};

pub(super) fn parse<'a>(data: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, MediaError> {
    let top = children(data, 0..data.len())?;
    if top.first().map(|b| &b.kind) != Some(b"ftyp") {
        return Err(corrupt("HEIF does not start with ftyp"));
    }
    let mut metas = top.iter().filter(|b| &b.kind == b"meta");
    let meta = metas
        .next()
        .ok_or_else(|| corrupt("HEIF has no meta box"))?;
    if metas.next().is_some() {
        return Err(corrupt("HEIF has two meta boxes"));
    }
    let meta = Meta::read(data, meta)?;

    let mut blank: Vec<Range<usize>> = Vec::new();
    let mut to_free: Vec<BoxRef> = Vec::new();
    for (id, loc) in &meta.locations {
        let is_metadata = matches!(meta.item_types.get(id), Some(b"Exif" | b"mime"));
        if loc.data_reference != 0 {
            continue; // in another file: nothing of it is here
        }
        let base = match loc.method {
            0 => 0..data.len(),
            1 => meta
                .idat
                .clone()
                .ok_or_else(|| corrupt("HEIF item lies in an idat box that is missing"))?,
            _ if is_metadata => {
                return Err(corrupt(
                    "HEIF metadata item is stored by item reference, which cannot be stripped",
                ));
            }
            _ => continue,
        };
        for &(offset, length) in &loc.extents {
            let range = extent_range(base.clone(), loc.base_offset, offset, length)?;
            if is_metadata {
                blank.push(range);
            }
        }
    }
    for b in &top {
        match &b.kind {
            b"uuid" => to_free.push(b.clone()),
            b"moov" => sequence_metadata(data, b, &mut to_free)?,
            _ => {}
        }
    }

    let orientation = match meta.rotation {
        1 => 8, // irot counts anticlockwise quarter turns; EXIF 8 is 90 degrees anticlockwise
        2 => 3,
        3 => 6,
        _ => 1,
    };
    for &(w, h) in &meta.sizes {
        check_dimensions(w, h, limits)?; // every image: tiles, grid, thumbnails
    }
    let dims = meta
        .primary_size
        .or_else(|| {
            meta.sizes
                .iter()
                .copied()
                .max_by_key(|&(w, h)| u64::from(w) * u64::from(h))
        })
        .ok_or_else(|| corrupt("HEIF declares no image size"))?;

    let pieces = if blank.is_empty() && to_free.is_empty() {
        vec![Piece::Borrowed(data)]
    } else {
        // Copying is the simple way to patch in place; pages are at most a few tens of MiB.
        let mut out = data.to_vec();
        for r in blank {
            out[r].fill(0);
        }
        for b in to_free {
            out[b.start + 4..b.start + 8].copy_from_slice(b"free");
            out[b.body.clone()].fill(0);
        }
        vec![Piece::Owned(out)]
    };
    Ok(Parsed {
        dims: Some(dims),
        orientation,
        pieces,
    })
}

/// Where one extent lies in the file, refusing one that runs past its container.
fn extent_range(
    base: Range<usize>,
    base_offset: u64,
    offset: u64,
    length: u64,
) -> Result<Range<usize>, MediaError> {
    let outside = || corrupt("HEIF item data lies past the end of the file (truncated?)");
    let start = (base.start as u64)
        .checked_add(base_offset)
        .and_then(|s| s.checked_add(offset))
        .filter(|&s| s <= base.end as u64)
        .ok_or_else(outside)? as usize;
    // A length of zero means "to the end of the container".
    let end = if length == 0 {
        base.end
    } else {
        (start as u64)
            .checked_add(length)
            .filter(|&e| e <= base.end as u64)
            .ok_or_else(outside)? as usize
    };
    Ok(start..end)
}

/// `udta` and `meta` boxes of an image sequence (they may hold a location), in `moov` or a track.
fn sequence_metadata(data: &[u8], moov: &BoxRef, out: &mut Vec<BoxRef>) -> Result<(), MediaError> {
    for b in children(data, moov.body.clone())? {
        match &b.kind {
            b"udta" | b"meta" => out.push(b),
            b"trak" => out.extend(
                children(data, b.body.clone())?
                    .into_iter()
                    .filter(|t| matches!(&t.kind, b"udta" | b"meta")),
            ),
            _ => {}
        }
    }
    Ok(())
}
