//! `[uploads]`: the limits on what citizens upload, checked while the bytes stream in and
//! before any photo is decoded.

use serde::{Deserialize, Serialize};

use super::Problems;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// Largest single page, enforced while streaming.
    pub max_page_bytes: u64,
    /// Most pages one application may hold, over all its materials.
    pub max_pages_per_application: u32,
    /// Photos declaring more pixels than this are refused before decoding.
    pub max_pixels: u64,
    /// Photos declaring a side longer than this are refused before decoding.
    pub max_dimension: u32,
    /// How long a presigned upload (path B) may be completed.
    pub direct_upload_ttl_secs: u64,
    /// Open (neither completed nor expired) direct-upload tickets one application may hold.
    pub max_open_tickets_per_application: u32,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            max_page_bytes: 20 * 1024 * 1024,
            max_pages_per_application: 100,
            max_pixels: 80_000_000,
            max_dimension: 20_000,
            direct_upload_ttl_secs: 900,
            max_open_tickets_per_application: 20,
        }
    }
}

impl UploadsConfig {
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.max_open_tickets_per_application == 0 {
            problems.add(
                "uploads.max_open_tickets_per_application",
                "must be at least 1",
            );
        }
        if !(1024..=1024 * 1024 * 1024).contains(&self.max_page_bytes) {
            problems.add("uploads.max_page_bytes", "must be between 1 KiB and 1 GiB");
        }
    }
}
