//! End-to-end tests on real files built by real encoders, through real temporary files.

mod clean;
mod heic;
mod robustness;
mod stream;
mod thumbnail;

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::{CleanPage, Limits, MediaError, clean};
use crate::domain::catalog::MaterialKind;

pub const PHOTO: &[MaterialKind] = &[MaterialKind::Photo];
pub const PDF: &[MaterialKind] = &[MaterialKind::Pdf];
pub const ANY: &[MaterialKind] = &[MaterialKind::Photo, MaterialKind::Pdf];

pub(super) struct Run {
    /// Held so the directory outlives the test's use of `output`.
    _dir: tempfile::TempDir,
    pub output: PathBuf,
}

/// Writes `upload` to a temporary file and cleans it into another.
pub(super) fn run_clean(
    upload: &[u8],
    allowed: &[MaterialKind],
    limits: &Limits,
) -> (Result<CleanPage, MediaError>, Run) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("upload.bin");
    let output = dir.path().join("clean.bin");
    std::fs::write(&input, upload).unwrap();
    (
        clean(&input, &output, allowed, limits),
        Run { _dir: dir, output },
    )
}

/// Cleans `upload`, which must succeed, and returns the page and the bytes written.
pub(super) fn cleaned(upload: &[u8]) -> (CleanPage, Vec<u8>) {
    let (result, run) = run_clean(upload, ANY, &Limits::default());
    let page = result.expect("clean");
    let bytes = std::fs::read(&run.output).unwrap();
    assert_eq!(page.size, bytes.len() as u64);
    assert_eq!(page.sha256, hex::encode(Sha256::digest(&bytes)));
    (page, bytes)
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What jpeg-decoder makes of a JPEG: an independent check on what we wrote.
pub struct Decoded {
    pub pixels: Vec<u8>,
    pub size: (u16, u16),
    pub exif: Option<Vec<u8>>,
    pub icc: Option<Vec<u8>>,
}

pub fn decode_jpeg(data: &[u8]) -> Decoded {
    let mut d = jpeg_decoder::Decoder::new(data);
    let pixels = d.decode().expect("decodes");
    let info = d.info().unwrap();
    Decoded {
        pixels,
        size: (info.width, info.height),
        exif: d.exif_data().map(<[u8]>::to_vec),
        icc: d.icc_profile(),
    }
}
