//! The catalogue file format and its rules. A `CatalogFile` can only be built through `parse`, so
//! every item that reaches the database has been checked. No I/O here.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatterDef {
    pub code: String,
    pub name: String,
    pub description: String,
    pub processing_days: i32,
    pub originals_by_courier: bool,
    pub result_by_courier: bool,
    #[serde(default)]
    pub id_number_required: bool,
    /// Pre-review deadline in hours from the first submission. Left out of the content hash
    /// while it is the default, so items imported before it existed keep their version.
    #[serde(
        default = "default_prereview_hours",
        skip_serializing_if = "is_default_prereview_hours"
    )]
    pub prereview_hours: i32,
    /// What happens to originals reception finds do not match the photos; absent: the centre's
    /// default (`courier.return_originals_on_mismatch`). Absent from the hash when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originals_on_mismatch: Option<MismatchedOriginals>,
    pub department: DepartmentDef,
    #[serde(rename = "material")]
    pub materials: Vec<MaterialDef>,
}

pub const DEFAULT_PREREVIEW_HOURS: i32 = 24;

/// Originals that do not match their photos are sent back by courier, or kept at the centre
/// for the citizen to collect.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MismatchedOriginals {
    Return,
    Keep,
}

impl MismatchedOriginals {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Return => "return",
            Self::Keep => "keep",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "return" => Some(Self::Return),
            "keep" => Some(Self::Keep),
            _ => None,
        }
    }
}

fn default_prereview_hours() -> i32 {
    DEFAULT_PREREVIEW_HOURS
}

fn is_default_prereview_hours(hours: &i32) -> bool {
    *hours == DEFAULT_PREREVIEW_HOURS
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MaterialDef {
    pub code: String,
    pub name: String,
    pub guidance: String,
    pub kinds: Vec<MaterialKind>,
    pub min_pages: i32,
    pub max_pages: i32,
    pub required: bool,
    pub original_required: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum MaterialKind {
    Photo,
    Pdf,
}

impl MaterialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Pdf => "pdf",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "photo" => Some(Self::Photo),
            "pdf" => Some(Self::Pdf),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(rename = "matter", default)]
    matters: Vec<MatterDef>,
}

/// A checked catalogue file.
#[derive(Debug, Clone)]
pub struct CatalogFile {
    pub matters: Vec<MatterDef>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalogue file is not valid TOML: {0}")]
    Syntax(String),
    #[error("catalogue refused:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// Codes are stable identifiers clients put in URLs: lower-case ASCII, digits and hyphens.
pub fn is_valid_code(code: &str) -> bool {
    (2..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-')
        && !code.ends_with('-')
}

impl CatalogFile {
    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| CatalogError::Syntax(e.to_string()))?;
        let mut problems = Vec::new();
        if raw.matters.is_empty() {
            problems.push("the file has no [[matter]] entries".to_string());
        }
        let mut codes = HashSet::new();
        for m in &raw.matters {
            check_matter(m, &mut problems);
            if !codes.insert(m.code.as_str()) {
                problems.push(format!("matter {}: code appears twice", m.code));
            }
        }
        if problems.is_empty() {
            Ok(Self {
                matters: raw.matters,
            })
        } else {
            Err(CatalogError::Invalid(problems))
        }
    }
}

fn check_matter(m: &MatterDef, problems: &mut Vec<String>) {
    let mut fail = |msg: String| problems.push(format!("matter {}: {msg}", m.code));
    if !is_valid_code(&m.code) {
        fail("code must be 2-64 lower-case letters, digits or hyphens".into());
    }
    if m.name.trim().is_empty() {
        fail("name is empty".into());
    }
    if !(1..=365).contains(&m.processing_days) {
        fail("processing_days must be between 1 and 365".into());
    }
    if m.originals_on_mismatch.is_some() && !m.originals_by_courier {
        fail("originals_on_mismatch needs originals_by_courier".into());
    }
    if !(1..=24 * 30).contains(&m.prereview_hours) {
        fail("prereview_hours must be between 1 and 720".into());
    }
    if !is_valid_code(&m.department.code) || m.department.name.trim().is_empty() {
        fail("department needs a valid code and a name".into());
    }
    if m.materials.is_empty() {
        fail("lists no materials".into());
    }
    if !m.materials.iter().any(|x| x.required) {
        fail("has no required material".into());
    }
    let posts_originals = m.materials.iter().any(|x| x.original_required);
    if m.originals_by_courier != posts_originals {
        fail(
            "originals_by_courier must be true exactly when some material has original_required"
                .into(),
        );
    }
    let mut seen = HashSet::new();
    for x in &m.materials {
        let mut fail =
            |msg: &str| problems.push(format!("matter {} material {}: {msg}", m.code, x.code));
        if !is_valid_code(&x.code) {
            fail("code must be 2-64 lower-case letters, digits or hyphens");
        }
        if !seen.insert(x.code.as_str()) {
            fail("code appears twice");
        }
        if x.name.trim().is_empty() {
            fail("name is empty");
        }
        if x.kinds.is_empty() {
            fail("kinds is empty");
        }
        if x.min_pages < 0 || x.max_pages < 1 || x.max_pages > 100 || x.min_pages > x.max_pages {
            fail("needs 0 <= min_pages <= max_pages, 1 <= max_pages <= 100");
        }
        if x.required && x.min_pages < 1 {
            fail("a required material needs min_pages >= 1");
        }
        if !x.required && x.min_pages != 0 {
            fail("an optional material needs min_pages = 0");
        }
    }
}

impl MatterDef {
    /// A digest of everything a citizen or reviewer sees; an import adds a version only when it
    /// changes.
    pub fn content_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("a MatterDef always serialises");
        hex::encode(Sha256::digest(canonical))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../catalog/matters.toml");

    #[test]
    fn shipped_sample_catalogue_is_valid() {
        let file = CatalogFile::parse(SAMPLE).expect("sample catalogue parses");
        assert!(file.matters.len() >= 6);
    }

    #[test]
    fn rejects_bad_codes_and_page_ranges_listing_every_problem() {
        let text = r#"
[[matter]]
code = "Bad Code"
name = "x"
description = ""
processing_days = 0
originals_by_courier = false
result_by_courier = false
department = { code = "d1", name = "D" }
[[matter.material]]
code = "id-card"
name = "身份证"
guidance = ""
kinds = ["photo"]
min_pages = 3
max_pages = 2
required = true
original_required = false
"#;
        let CatalogError::Invalid(problems) = CatalogFile::parse(text).unwrap_err() else {
            panic!("expected validation errors");
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn content_hash_changes_with_content() {
        let file = CatalogFile::parse(SAMPLE).unwrap();
        let mut m = file.matters[0].clone();
        let before = m.content_hash();
        m.materials[0].guidance.push('。');
        assert_ne!(before, m.content_hash());
    }
}
