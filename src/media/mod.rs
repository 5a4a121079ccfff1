//! Judges and cleans one uploaded page: the type from its magic bytes, its integrity from its
//! structure, its size from its headers (before anything is decoded), and writes a copy without
//! the metadata that gives away where and with what a photo was taken. Also makes thumbnails.
//! Pure and blocking: no HTTP, no database, no object store; callers use `spawn_blocking`.

mod bmff;
mod detect;
mod exif;
mod heic;
mod jpeg;
mod jpeg_stream;
mod pdf;
mod png;
mod resample;
mod thumbnail;
mod webp;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::domain::catalog::MaterialKind;

pub use jpeg_stream::{HeadRewrite, JpegCleaner, JpegVerdict, rewrite_head};
pub use thumbnail::{THUMBNAIL_MAX_HEIGHT, THUMBNAIL_WIDTH, thumbnail};

/// How many leading bytes `streams` needs to judge an upload (fewer only if it is that short).
pub const SNIFF_BYTES: usize = 3;

/// Whether an upload starting with `prefix` is a JPEG that `allowed` accepts, and so can be
/// cleaned as it arrives by `JpegCleaner` with the same result as `clean`. Everything else
/// (other types, and refusals that `clean` must rank) goes through `clean`.
pub fn streams(prefix: &[u8], allowed: &[MaterialKind]) -> bool {
    detect::sniff(prefix) == Some(PageType::Jpeg) && allowed.contains(&PageType::Jpeg.kind())
}

/// What one page may weigh. A page over any limit is refused before it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    /// Width times height, as the headers declare them.
    pub max_pixels: u64,
    /// The longer side.
    pub max_dimension: u32,
}

impl Default for Limits {
    /// 20 MiB, 100 megapixels, 20,000 px a side: room for any phone camera, not for a bomb.
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_dimension: 20_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageType {
    Jpeg,
    Png,
    Heic,
    Webp,
    Pdf,
}

impl PageType {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            // HEIF files whose only brand is mif1/msf1 are strictly image/heif; every one we
            // accept carries HEVC, and image/heic is what phones and browsers expect.
            Self::Heic => "image/heic",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Heic => "heic",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
        }
    }

    pub fn kind(self) -> MaterialKind {
        match self {
            Self::Pdf => MaterialKind::Pdf,
            Self::Jpeg | Self::Png | Self::Heic | Self::Webp => MaterialKind::Photo,
        }
    }
}

/// What `clean` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPage {
    pub page_type: PageType,
    /// As a viewer shows the page: EXIF orientation (or HEIF `irot`) already applied, so a
    /// portrait photo stored sideways reports a portrait size. `None` for PDF.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Bytes written to the output.
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes written to the output.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; at most {max} are accepted")]
    TooLarge { size: u64, max: u64 },
    #[error("not a JPEG, PNG, HEIC, WebP or PDF file")]
    UnsupportedType,
    #[error("{} is not accepted for this material", found.content_type())]
    NotAllowed { found: PageType },
    #[error("the file is damaged: {0}")]
    Corrupt(String),
    #[error("the image is too large: {width} x {height} pixels")]
    TooManyPixels { width: u32, height: u32 },
    #[error("media I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads `input` (the raw upload), judges its type by magic bytes, checks that `allowed` accepts
/// it and that it is intact, refuses bombs from their declared dimensions, and writes a cleaned
/// copy to `output`: EXIF, GPS, maker notes, XMP, IPTC and comments removed from photos (a
/// minimal EXIF holding only the orientation is written back so the photo stays upright). A PDF
/// is copied unchanged. `output` is created only once the page has been judged good.
///
/// The page is read into memory whole (it is at most `limits.max_bytes`); the output is written
/// from slices of it, so nothing else of its size is held.
pub fn clean(
    input: &Path,
    output: &Path,
    allowed: &[MaterialKind],
    limits: &Limits,
) -> Result<CleanPage, MediaError> {
    let data = read_limited(input, limits.max_bytes)?;
    let page_type = detect::sniff(&data).ok_or(MediaError::UnsupportedType)?;
    if !allowed.contains(&page_type.kind()) {
        return Err(MediaError::NotAllowed { found: page_type });
    }
    let parsed = parse(page_type, &data, limits)?;
    let (width, height) = match parsed.dims {
        Some(d) => {
            let (w, h) = upright(d, parsed.orientation);
            (Some(w), Some(h))
        }
        None => (None, None),
    };
    let (size, sha256) = write_pieces(&parsed.pieces, output)?;
    Ok(CleanPage {
        page_type,
        width,
        height,
        size,
        sha256,
    })
}

/// A format's verdict on a page: its size as stored, how a viewer turns it, and the cleaned
/// output as slices of the input and the few bytes that replace what was removed.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub dims: Option<(u32, u32)>,
    /// EXIF orientation, 1 to 8; 1 when there is none.
    pub orientation: u16,
    pub pieces: Vec<Piece<'a>>,
}

#[derive(Debug)]
pub(crate) enum Piece<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Piece<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Borrowed(b) => b,
            Piece::Owned(v) => v,
        }
    }
}

pub(crate) fn parse<'a>(
    page_type: PageType,
    data: &'a [u8],
    limits: &Limits,
) -> Result<Parsed<'a>, MediaError> {
    match page_type {
        PageType::Jpeg => jpeg::parse(data, limits),
        PageType::Png => png::parse(data, limits),
        PageType::Webp => webp::parse(data, limits),
        PageType::Heic => heic::parse(data, limits),
        PageType::Pdf => pdf::parse(data),
    }
}

/// Refuses a declared size before anything is decoded.
pub(crate) fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), MediaError> {
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt(format!(
            "declares an empty image ({width} x {height})"
        )));
    }
    if width > limits.max_dimension
        || height > limits.max_dimension
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(MediaError::TooManyPixels { width, height });
    }
    Ok(())
}

/// Orientations 5 to 8 turn the picture a quarter, so a viewer swaps its sides.
pub(crate) fn upright((w, h): (u32, u32), orientation: u16) -> (u32, u32) {
    if (5..=8).contains(&orientation) {
        (h, w)
    } else {
        (w, h)
    }
}

pub(crate) fn corrupt(msg: impl Into<String>) -> MediaError {
    MediaError::Corrupt(msg.into())
}

/// Reads a whole file that must hold between 1 and `max` bytes.
pub(crate) fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, MediaError> {
    let file = File::open(path)?;
    let declared = file.metadata()?.len();
    if declared == 0 {
        return Err(MediaError::Empty);
    }
    if declared > max {
        return Err(MediaError::TooLarge {
            size: declared,
            max,
        });
    }
    // The file may still be growing; never read past the limit whatever it says now.
    let mut data = Vec::with_capacity(declared as usize);
    file.take(max + 1).read_to_end(&mut data)?;
    match data.len() as u64 {
        0 => Err(MediaError::Empty),
        n if n > max => Err(MediaError::TooLarge { size: n, max }),
        _ => Ok(data),
    }
}

/// Writes the pieces to `output`, hashing what is written. A failed write removes the file.
fn write_pieces(pieces: &[Piece<'_>], output: &Path) -> Result<(u64, String), MediaError> {
    let result = (|| {
        let mut out = BufWriter::new(File::create(output)?);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        for piece in pieces {
            let bytes = piece.bytes();
            out.write_all(bytes)?;
            hasher.update(bytes);
            size += bytes.len() as u64;
        }
        // No fsync: the caller reads the file straight back to upload it.
        out.flush()?;
        Ok::<_, std::io::Error>((size, hex::encode(hasher.finalize())))
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(output);
        MediaError::Io(e)
    })
}
