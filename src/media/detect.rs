//! Which of our types a file is, from its first bytes only. A name or a declared content type is
//! never consulted: an `.exe` renamed `.jpg` must come out as nothing.

use super::PageType;

const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const PDF: &[u8] = b"%PDF-";

/// Brands that promise HEVC-coded images or sequences.
const HEVC_BRANDS: &[&[u8; 4]] = &[
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
];
/// Generic HEIF brands: accepted only when no AVIF brand says the codec is AV1.
const HEIF_BRANDS: &[&[u8; 4]] = &[b"mif1", b"msf1"];
const AVIF_BRANDS: &[&[u8; 4]] = &[b"avif", b"avis"];

pub(super) fn sniff(data: &[u8]) -> Option<PageType> {
    if data.starts_with(JPEG) {
        Some(PageType::Jpeg)
    } else if data.starts_with(PNG) {
        Some(PageType::Png)
    } else if data.starts_with(PDF) {
        Some(PageType::Pdf)
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some(PageType::Webp)
    } else if is_heif(data) {
        Some(PageType::Heic)
    } else {
        None
    }
}

/// An ISO-BMFF file whose first box is `ftyp` with a HEIF brand.
fn is_heif(data: &[u8]) -> bool {
    if data.len() < 16 || &data[4..8] != b"ftyp" {
        return false;
    }
    let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if size < 16 || size > data.len() || !(size - 16).is_multiple_of(4) {
        return false;
    }
    // The major brand, then (after the minor version) the compatible brands.
    let brands: Vec<&[u8]> = std::iter::once(&data[8..12])
        .chain(data[16..size].chunks_exact(4))
        .collect();
    let has = |set: &[&[u8; 4]]| brands.iter().any(|b| set.iter().any(|s| &s[..] == *b));
    has(HEVC_BRANDS) || (has(HEIF_BRANDS) && !has(AVIF_BRANDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len() as u32;
        let mut v = size.to_be_bytes().to_vec();
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(major);
        v.extend_from_slice(&[0; 4]);
        for b in compatible {
            v.extend_from_slice(&b[..]);
        }
        v
    }

    #[test]
    fn types_are_judged_by_magic_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(PageType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(PageType::Png));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(PageType::Pdf));
        assert_eq!(sniff(b"RIFF\x04\0\0\0WEBP"), Some(PageType::Webp));
        assert_eq!(
            sniff(&ftyp(b"heic", &[b"mif1", b"heic"])),
            Some(PageType::Heic)
        );
        assert_eq!(sniff(&ftyp(b"mif1", &[b"heix"])), Some(PageType::Heic));
        assert_eq!(sniff(&ftyp(b"msf1", &[])), Some(PageType::Heic));
    }

    #[test]
    fn lookalikes_are_not_ours() {
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"RIFF\x04\0\0\0WAVE"), None);
        assert_eq!(sniff(&[0xFF, 0xD8]), None);
        assert_eq!(sniff(b"\x89PNG\r\n"), None);
        assert_eq!(sniff(&ftyp(b"avif", &[b"mif1", b"miaf"])), None);
        assert_eq!(sniff(&ftyp(b"isom", &[b"mp41"])), None);
        assert_eq!(sniff(b""), None);
    }
}
