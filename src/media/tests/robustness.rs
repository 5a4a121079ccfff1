//! Hostile input may be refused but must never panic a parser.

use crate::media::fixtures::*;
use crate::media::{Limits, detect, parse};

/// Every prefix of the file, and the file with each byte flipped in a few ways.
pub(super) fn damaged(good: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let prefixes = (0..good.len()).map(|n| good[..n].to_vec());
    let edits: [fn(u8) -> u8; 4] = [|b| b ^ 0x01, |b| b ^ 0x80, |_| 0x00, |_| 0xFF];
    let flips = (0..good.len()).flat_map(move |i| {
        edits.into_iter().map(move |edit| {
            let mut bad = good.to_vec();
            bad[i] = edit(bad[i]);
            bad
        })
    });
    prefixes.chain(flips)
}

#[test]
fn no_damaged_file_makes_a_parser_panic() {
    let files = [
        with_segments(&jpeg(16, 8, gradient), &[app1_exif(&camera_exif(6))], b""),
        png(8, 8, gradient, &[(b"eXIf", &camera_exif(3))]),
        webp(8, 8, gradient, &camera_exif(6), &xmp()),
        heic(Some(1)).data,
    ];
    let limits = Limits::default();
    let mut parsed = 0;
    for good in &files {
        for bad in damaged(good) {
            // Only the format the bytes claim is parsed, as `clean` does.
            if let Some(t) = detect::sniff(&bad) {
                let _ = parse(t, &bad, &limits);
                parsed += 1;
            }
        }
    }
    assert!(
        parsed > 10_000,
        "only {parsed} damaged files reached a parser"
    );
}
