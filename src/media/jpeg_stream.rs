//! JPEG cleaned as its bytes arrive: the walk of `jpeg::parse`, fed chunk by chunk, giving the
//! very bytes `clean` would write. It holds one marker segment (at most 64 KiB) and the kept
//! segments before the first scan, never the picture. It must never emit a byte `clean` would not.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::jpeg::{EOI, app1_exif, frame_size, jfif_without_thumbnail};
use super::{Limits, MediaError, check_dimensions, corrupt, exif, upright};

/// Kept segments before the first scan are held (the head in front of them may still change)
/// up to this much; past it they are written, and a JFIF or EXIF segment that turns up later
/// makes `finish` ask for the head to be rewritten. Real photos hold tens of KiB here.
const HOLD_LIMIT: usize = 256 * 1024;

/// Cleans one JPEG upload. Feed it every chunk in order, then call `finish`.
pub struct JpegCleaner {
    limits: Limits,
    state: State,
    /// Offset of the next input byte, for the same messages as `jpeg::parse`.
    offset: u64,
    /// The marker segment being gathered: FF, marker, length and payload.
    segment: Vec<u8>,
    jfif: Option<Vec<u8>>,
    orientation: Option<u16>,
    dims: Option<(u32, u32)>,
    scans: usize,
    /// Kept segments not yet emitted, while the head is not written.
    held: Vec<u8>,
    /// The head (SOI, JFIF, orientation) as emitted, once it has been.
    emitted_head: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Expecting SOI, `seen` bytes of it so far.
    Soi { seen: u8 },
    /// Where a marker must start: an FF.
    Marker,
    /// After one or more FF: more fill bytes, or the marker code.
    Fill,
    /// The segment's length and payload, until `segment` holds `total` bytes (0: length unread).
    Segment { marker: u8, total: usize },
    /// Entropy-coded data; `ff` FF bytes at the end of what was seen are not yet judged.
    Scan { ff: usize },
    /// After EOI: whatever follows is dropped, as `jpeg::parse` drops it.
    Done,
}

/// What `finish` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegVerdict {
    /// As a viewer shows the picture (orientation applied), as `CleanPage` reports it.
    pub width: u32,
    pub height: u32,
    /// Set in the rare case where the head written first is not the head `clean` would write:
    /// the output's first `old_len` bytes must become `head`.
    pub rewrite_head: Option<HeadRewrite>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadRewrite {
    pub old_len: u64,
    pub head: Vec<u8>,
}

impl JpegCleaner {
    pub fn new(limits: &Limits) -> Self {
        Self {
            limits: *limits,
            state: State::Soi { seen: 0 },
            offset: 0,
            segment: Vec::new(),
            jfif: None,
            orientation: None,
            dims: None,
            scans: 0,
            held: Vec::new(),
            emitted_head: None,
        }
    }

    /// Takes the next bytes of the upload and appends to `out` the cleaned bytes they settle.
    /// After an error the cleaner is spent: the upload is refused.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
        while !input.is_empty() {
            let used = self.step(input, out)?;
            input = &input[used..];
            self.offset += used as u64;
        }
        Ok(())
    }

    /// The upload is complete: refuses it if it stopped before its end-of-image marker.
    pub fn finish(self) -> Result<JpegVerdict, MediaError> {
        match self.state {
            State::Done => {}
            State::Soi { .. } => return Err(corrupt("JPEG does not start with SOI")),
            _ => return Err(corrupt("JPEG ends before its end-of-image marker")),
        }
        let (width, height) = self
            .dims
            .ok_or_else(|| corrupt("JPEG holds no image data"))?;
        let (width, height) = upright((width, height), self.orientation.unwrap_or(1));
        let head = self.head();
        let emitted = self.emitted_head.unwrap_or_default();
        let rewrite_head = (emitted != head).then_some(HeadRewrite {
            old_len: emitted.len() as u64,
            head,
        });
        Ok(JpegVerdict {
            width,
            height,
            rewrite_head,
        })
    }

    /// Consumes some of `input` and returns how much: nothing only when the state changes (a scan
    /// that ends at the first byte hands it to `State::Fill`).
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, MediaError> {
        let byte = input[0];
        match self.state {
            State::Soi { seen } => {
                if byte != [0xFF, 0xD8][usize::from(seen)] {
                    return Err(corrupt("JPEG does not start with SOI"));
                }
                self.state = if seen == 0 {
                    State::Soi { seen: 1 }
                } else {
                    State::Marker
                };
                Ok(1)
            }
            State::Marker => {
                if byte != 0xFF {
                    return Err(corrupt(format!(
                        "JPEG has no marker where one must be, at {}",
                        self.offset
                    )));
                }
                self.state = State::Fill;
                Ok(1)
            }
            State::Fill => {
                // Any number of 0xFF fill bytes may precede a marker; none of them are copied.
                let fills = input.iter().take_while(|&&b| b == 0xFF).count();
                if fills > 0 {
                    return Ok(fills);
                }
                self.marker(byte, out)?;
                Ok(1)
            }
            State::Segment { marker, total } => {
                let want = if total == 0 { 4 } else { total };
                let take = (want - self.segment.len()).min(input.len());
                self.segment.extend_from_slice(&input[..take]);
                if self.segment.len() < want {
                    return Ok(take);
                }
                if total == 0 {
                    let len = usize::from(u16::from_be_bytes([self.segment[2], self.segment[3]]));
                    if len < 2 {
                        // At the first length byte, as `jpeg::parse` counts.
                        let at = self.offset + take as u64 - 2;
                        return Err(corrupt(format!("JPEG segment length {len} at {at}")));
                    }
                    self.state = State::Segment {
                        marker,
                        total: len + 2,
                    };
                    if len > 2 {
                        return Ok(take);
                    }
                }
                self.segment_done(marker, out)?;
                Ok(take)
            }
            State::Scan { ff } => Ok(self.scan(input, ff, out)),
            State::Done => Ok(input.len()),
        }
    }

    /// The marker code after FF, at `self.offset`.
    fn marker(&mut self, marker: u8, out: &mut Vec<u8>) -> Result<(), MediaError> {
        match marker {
            0xD9 => {
                if self.scans == 0 {
                    return Err(corrupt("JPEG holds no image data"));
                }
                self.keep(EOI, out);
                self.state = State::Done;
            }
            0xD0..=0xD7 | 0x01 => {
                self.keep(&[0xFF, marker], out);
                self.state = State::Marker;
            }
            0x00 | 0xD8 => {
                return Err(corrupt(format!(
                    "JPEG has a stray marker at {}",
                    self.offset + 1
                )));
            }
            _ => {
                self.segment.clear();
                self.segment.extend_from_slice(&[0xFF, marker]);
                self.state = State::Segment { marker, total: 0 };
            }
        }
        Ok(())
    }

    /// A whole segment is in `self.segment`: judge it as `jpeg::parse` does.
    fn segment_done(&mut self, marker: u8, out: &mut Vec<u8>) -> Result<(), MediaError> {
        let segment = std::mem::take(&mut self.segment);
        let payload = &segment[4..];
        self.state = State::Marker;
        match marker {
            0xE0 if self.jfif.is_none() && payload.starts_with(b"JFIF\0") => {
                self.jfif = jfif_without_thumbnail(&segment).map(|p| p.bytes().to_vec());
            }
            0xE1 if self.orientation.is_none() && payload.starts_with(exif::APP1_PREFIX) => {
                self.orientation = Some(exif::orientation(payload));
            }
            0xE2 if payload.starts_with(b"ICC_PROFILE\0") => self.keep(&segment, out),
            0xEE if payload.starts_with(b"Adobe") => self.keep(&segment, out),
            0xE0..=0xEF | 0xFE => {}
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if self.dims.is_none() {
                    let (w, h) = frame_size(payload)?;
                    check_dimensions(w, h, &self.limits)?;
                    self.dims = Some((w, h));
                }
                self.keep(&segment, out);
            }
            0xDA => {
                if self.dims.is_none() {
                    return Err(corrupt("JPEG scan comes before any frame header"));
                }
                self.emit_head(out);
                self.keep(&segment, out);
                self.scans += 1;
                self.state = State::Scan { ff: 0 };
            }
            _ => self.keep(&segment, out),
        }
        // The allocation is reused for the next segment.
        self.segment = segment;
        self.segment.clear();
        Ok(())
    }

    /// Entropy-coded data runs up to the first FF that is neither a stuffed zero (FF 00) nor a
    /// restart marker (FF D0..D7); those, and the FF runs before them, are part of it.
    fn scan(&mut self, input: &[u8], mut ff: usize, out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        loop {
            if ff > 0 {
                let Some(&next) = input.get(i) else {
                    self.state = State::Scan { ff };
                    return i;
                };
                match next {
                    0xFF => ff += 1,
                    0x00 | 0xD0..=0xD7 => {
                        out.extend(std::iter::repeat_n(0xFF, ff));
                        out.push(next);
                        ff = 0;
                    }
                    _ => {
                        // The scan has ended; the held FFs were fill before a marker.
                        self.state = State::Fill;
                        return i;
                    }
                }
                i += 1;
                continue;
            }
            // memchr is SIMD: entropy-coded data is most of a photo's bytes.
            match memchr::memchr(0xFF, &input[i..]) {
                Some(at) => {
                    out.extend_from_slice(&input[i..i + at]);
                    i += at + 1;
                    ff = 1;
                }
                None => {
                    out.extend_from_slice(&input[i..]);
                    self.state = State::Scan { ff: 0 };
                    return input.len();
                }
            }
        }
    }

    /// SOI, then the first JFIF (without its thumbnail), then the orientation if it turns the
    /// picture: the order `jpeg::parse` puts them in.
    fn head(&self) -> Vec<u8> {
        let mut head = vec![0xFF, 0xD8];
        if let Some(jfif) = &self.jfif {
            head.extend_from_slice(jfif);
        }
        match self.orientation {
            Some(o) if o != 1 => head.extend_from_slice(&app1_exif(o)),
            _ => {}
        }
        head
    }

    fn emit_head(&mut self, out: &mut Vec<u8>) {
        if self.emitted_head.is_none() {
            let head = self.head();
            out.extend_from_slice(&head);
            out.append(&mut self.held);
            self.held = Vec::new();
            self.emitted_head = Some(head);
        }
    }

    fn keep(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.emitted_head.is_some() {
            out.extend_from_slice(bytes);
        } else {
            self.held.extend_from_slice(bytes);
            if self.held.len() > HOLD_LIMIT {
                self.emit_head(out);
            }
        }
    }
}

/// Replaces the first `rewrite.old_len` bytes of the file at `path` with `rewrite.head`,
/// through a sibling file renamed over it; returns the new size and lower-case hex SHA-256.
pub fn rewrite_head(path: &Path, rewrite: &HeadRewrite) -> io::Result<(u64, String)> {
    let sibling = path.with_extension("head");
    let result = (|| {
        let mut input = File::open(path)?;
        input.seek(SeekFrom::Start(rewrite.old_len))?;
        let mut output = BufWriter::new(File::create(&sibling)?);
        let mut hasher = Sha256::new();
        output.write_all(&rewrite.head)?;
        hasher.update(&rewrite.head);
        let mut size = rewrite.head.len() as u64;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = input.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            output.write_all(&buffer[..n])?;
            hasher.update(&buffer[..n]);
            size += n as u64;
        }
        output.flush()?;
        std::fs::rename(&sibling, path)?;
        Ok((size, hex::encode(hasher.finalize())))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&sibling);
    }
    result
}
