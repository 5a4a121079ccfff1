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
    /// How long an ended case's data is kept; a period left out is the service's
    /// `retention.*` default. Absent from the hash when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionDef>,
    /// The courier partner this item's legs go to (a code of `courier.partners`); absent: the
    /// service point's, else `courier.default_partner`. Absent from the hash when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub courier_partner: Option<String>,
    /// The citizen may leave the originals in the centre's 24-hour box instead of booking a
    /// pickup. Absent from the hash when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_box: bool,
}

/// `[matter.retention]`: days after a case ends (completed, rejected, refused, cancelled) until
/// its photos, its result files and its personal fields are destroyed, and the days a draft or
/// returned case may sit untouched before it counts as abandoned (cancelled by the service).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RetentionDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photos_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned_days: Option<i32>,
}

/// An item's retention periods in force: its own, or the service's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays {
    pub photos: i32,
    pub results: i32,
    pub personal: i32,
    pub abandoned: i32,
}

impl RetentionDays {
    /// `own` where it names a period, else these defaults.
    pub fn with(self, own: Option<RetentionDef>) -> Self {
        let own = own.unwrap_or_default();
        Self {
            photos: own.photos_days.unwrap_or(self.photos),
            results: own.results_days.unwrap_or(self.results),
            personal: own.personal_days.unwrap_or(self.personal),
            abandoned: own.abandoned_days.unwrap_or(self.abandoned),
        }
    }
}

/// The longest retention period accepted, in days (a hundred years: archives keep some
/// records for good, which is a matter for the archive, not this service).
pub const MAX_RETENTION_DAYS: i32 = 36_500;

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
    /// The kind of document this material is (`resident_id_card`, `property_certificate`, ...):
    /// what a citizen's verified documents are filed under. Absent from the hash when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
    /// Whether a verified document from the citizen's wallet may fill this material. Absent from
    /// the hash while it is the default, `fresh_only`.
    #[serde(default, skip_serializing_if = "Reuse::is_fresh_only")]
    pub reuse: Reuse,
    /// For how many days after its verification a document may fill this material (a recorded
    /// expiry of the document itself ends it sooner). Required with `reuse = "accepted"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_valid_days: Option<i32>,
}

/// Whether a material takes a document verified in another case. Reuse is opt-in per material:
/// a department accepts another's verification only where its catalogue entry says so.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reuse {
    Accepted,
    #[default]
    FreshOnly,
}

impl Reuse {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::FreshOnly => "fresh_only",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accepted" => Some(Self::Accepted),
            "fresh_only" => Some(Self::FreshOnly),
            _ => None,
        }
    }

    fn is_fresh_only(&self) -> bool {
        *self == Self::FreshOnly
    }
}

/// The longest `reuse_valid_days`: ten years, the longest a resident ID card is issued for
/// adults under 46.
pub const MAX_REUSE_VALID_DAYS: i32 = 3650;

/// A document type: 2 to 64 lower-case letters, digits or underscores, starting with a letter.
pub fn is_valid_document_type(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
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
    #[serde(rename = "bundle", default)]
    bundles: Vec<BundleDef>,
}

/// A "one thing" bundle (一件事): items of several departments a citizen files together.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BundleDef {
    pub code: String,
    pub name: String,
    pub description: String,
    /// Item codes, in the order the citizen sees them.
    pub items: Vec<String>,
}

impl BundleDef {
    pub fn content_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("a BundleDef always serialises");
        hex::encode(Sha256::digest(canonical))
    }
}

/// At most this many items in one bundle.
pub const MAX_BUNDLE_ITEMS: usize = 10;

/// A checked catalogue file.
#[derive(Debug, Clone)]
pub struct CatalogFile {
    pub matters: Vec<MatterDef>,
    pub bundles: Vec<BundleDef>,
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
    /// Refuses the file when a period in force (the item's own or `defaults`) is shorter than
    /// its item's open life; each problem names the item.
    pub fn check_retention(&self, defaults: RetentionDays) -> Result<(), CatalogError> {
        let problems: Vec<String> = self
            .matters
            .iter()
            .flat_map(|m| m.retention_problems(defaults))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError::Invalid(problems))
        }
    }

    /// Refuses the file when an item names a courier partner this deployment has not enabled
    /// (`courier.partners`); each problem names the item.
    pub fn check_partners(&self, enabled: &[String]) -> Result<(), CatalogError> {
        let problems: Vec<String> = self
            .matters
            .iter()
            .filter_map(|m| {
                let partner = m.courier_partner.as_ref()?;
                (!enabled.contains(partner)).then(|| {
                    format!(
                        "matter {}: courier_partner `{partner}` is not enabled here \
                         (courier.partners: {})",
                        m.code,
                        enabled.join(", ")
                    )
                })
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError::Invalid(problems))
        }
    }

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
        let mut bundle_codes = HashSet::new();
        for b in &raw.bundles {
            check_bundle(b, &codes, &mut problems);
            if !bundle_codes.insert(b.code.as_str()) {
                problems.push(format!("bundle {}: code appears twice", b.code));
            }
        }
        if problems.is_empty() {
            Ok(Self {
                matters: raw.matters,
                bundles: raw.bundles,
            })
        } else {
            Err(CatalogError::Invalid(problems))
        }
    }
}

/// A bundle names two or more distinct items of the same file.
fn check_bundle(b: &BundleDef, matters: &HashSet<&str>, problems: &mut Vec<String>) {
    let mut fail = |msg: String| problems.push(format!("bundle {}: {msg}", b.code));
    if !is_valid_code(&b.code) {
        fail("code must be 2-64 lower-case letters, digits or hyphens".into());
    }
    if b.name.trim().is_empty() {
        fail("name is empty".into());
    }
    if !(2..=MAX_BUNDLE_ITEMS).contains(&b.items.len()) {
        fail(format!("items must list 2 to {MAX_BUNDLE_ITEMS} items"));
    }
    let mut seen = HashSet::new();
    for item in &b.items {
        if !matters.contains(item.as_str()) {
            fail(format!("item {item} is not a [[matter]] of this file"));
        }
        if !seen.insert(item.as_str()) {
            fail(format!("item {item} appears twice"));
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
    if m.drop_box && !m.originals_by_courier {
        fail("drop_box needs originals_by_courier: only posted originals go in the box".into());
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
        if let Some(document_type) = &x.document_type
            && !is_valid_document_type(document_type)
        {
            fail("document_type must be 2-64 lower-case letters, digits or underscores");
        }
        match (x.reuse, x.reuse_valid_days) {
            (Reuse::Accepted, _) if x.document_type.is_none() => {
                fail("reuse = \"accepted\" needs a document_type");
            }
            (Reuse::Accepted, None) => fail("reuse = \"accepted\" needs reuse_valid_days"),
            (Reuse::Accepted, Some(days)) if !(1..=MAX_REUSE_VALID_DAYS).contains(&days) => {
                fail(&format!(
                    "reuse_valid_days must be between 1 and {MAX_REUSE_VALID_DAYS}"
                ));
            }
            (Reuse::FreshOnly, Some(_)) => {
                fail("reuse_valid_days is only for reuse = \"accepted\"");
            }
            _ => {}
        }
    }
    if let Some(r) = m.retention {
        for (field, value) in [
            ("photos_days", r.photos_days),
            ("results_days", r.results_days),
            ("personal_days", r.personal_days),
        ] {
            if value.is_some_and(|d| !(1..=MAX_RETENTION_DAYS).contains(&d)) {
                problems.push(format!(
                    "matter {}: retention.{field} must be between 1 and {MAX_RETENTION_DAYS}",
                    m.code
                ));
            }
        }
        if r.abandoned_days.is_some_and(|d| !(1..=3650).contains(&d)) {
            problems.push(format!(
                "matter {}: retention.abandoned_days must be between 1 and 3650",
                m.code
            ));
        }
    }
}

impl MatterDef {
    /// How many days a case of this item can stay open once submitted: the pre-review's hours
    /// rounded up to days, and the department's processing days. A retention period shorter
    /// than that is a slip (hours for days), refused at import.
    pub fn open_life_days(&self) -> i32 {
        (self.prereview_hours + 23) / 24 + self.processing_days
    }

    /// The problems of this item's periods in force under `defaults`, each naming the item.
    pub fn retention_problems(&self, defaults: RetentionDays) -> Vec<String> {
        let days = defaults.with(self.retention);
        let open = self.open_life_days();
        let own = |field: &str| {
            if self.retention_names(field) {
                format!("retention.{field}")
            } else {
                format!("retention.{field} (the service's default)")
            }
        };
        let mut problems = Vec::new();
        for (field, value) in [
            ("photos_days", days.photos),
            ("results_days", days.results),
            ("personal_days", days.personal),
        ] {
            if value < open {
                problems.push(format!(
                    "matter {}: {} is {value} days, shorter than a case's open life of {open} \
                     days ({} h pre-review + {} processing days)",
                    self.code,
                    own(field),
                    self.prereview_hours,
                    self.processing_days
                ));
            }
        }
        problems
    }

    fn retention_names(&self, field: &str) -> bool {
        let Some(r) = self.retention else {
            return false;
        };
        match field {
            "photos_days" => r.photos_days.is_some(),
            "results_days" => r.results_days.is_some(),
            "personal_days" => r.personal_days.is_some(),
            _ => r.abandoned_days.is_some(),
        }
    }

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
    fn a_retention_shorter_than_the_open_life_names_the_item_and_the_field() {
        let file = CatalogFile::parse(SAMPLE).unwrap();
        let mut item = file.matters[0].clone();
        item.prereview_hours = 25;
        item.processing_days = 5;
        assert_eq!(item.open_life_days(), 7);
        let defaults = RetentionDays {
            photos: 7,
            results: 7,
            personal: 7,
            abandoned: 1,
        };
        assert!(item.retention_problems(defaults).is_empty());
        item.retention = Some(RetentionDef {
            results_days: Some(6),
            ..RetentionDef::default()
        });
        let problems = item.retention_problems(RetentionDays {
            personal: 2,
            ..defaults
        });
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with(&format!(
            "matter {}: retention.results_days is 6 days",
            item.code
        )));
        assert!(problems[1].contains("retention.personal_days (the service's default) is 2"));
    }

    #[test]
    fn shipped_sample_catalogue_is_valid() {
        let file = CatalogFile::parse(SAMPLE).expect("sample catalogue parses");
        assert!(file.matters.len() >= 6);
        assert!(file.bundles.len() >= 2);
    }

    #[test]
    fn a_bundle_names_distinct_items_of_the_file() {
        let item = |code: &str| {
            format!(
                r#"
[[matter]]
code = "{code}"
name = "x"
description = "x"
processing_days = 1
originals_by_courier = false
result_by_courier = false
department = {{ code = "d", name = "D" }}
[[matter.material]]
code = "form"
name = "x"
guidance = "x"
kinds = ["photo"]
min_pages = 1
max_pages = 1
required = true
original_required = false
"#
            )
        };
        let text = format!(
            r#"{}{}
[[bundle]]
code = "pair"
name = "two"
description = "x"
items = ["one", "two"]

[[bundle]]
code = "Bad"
name = ""
description = "x"
items = ["one", "one", "nope"]
"#,
            item("one"),
            item("two")
        );
        let Err(CatalogError::Invalid(problems)) = CatalogFile::parse(&text) else {
            panic!("a bad bundle must be refused");
        };
        let text = problems.join("\n");
        for wanted in [
            "bundle Bad: code must be",
            "bundle Bad: name is empty",
            "bundle Bad: item one appears twice",
            "bundle Bad: item nope is not a [[matter]] of this file",
        ] {
            assert!(text.contains(wanted), "{wanted} in {text}");
        }
        assert!(!text.contains("bundle pair"), "{text}");
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
    fn reuse_needs_a_document_type_and_a_window_and_nothing_else_takes_one() {
        let item = |materials: &str| {
            format!(
                r#"
[[matter]]
code = "reuse-rules"
name = "x"
description = ""
processing_days = 1
originals_by_courier = false
result_by_courier = false
department = {{ code = "dept", name = "部门" }}
{materials}"#
            )
        };
        let material = |code: &str, extra: &str| {
            format!(
                "[[matter.material]]\ncode = \"{code}\"\nname = \"x\"\nguidance = \"\"\n\
                 kinds = [\"photo\"]\nmin_pages = 1\nmax_pages = 1\nrequired = true\n\
                 original_required = false\n{extra}\n"
            )
        };
        let good = item(&material(
            "id-card",
            "document_type = \"resident_id_card\"\nreuse = \"accepted\"\nreuse_valid_days = 365",
        ));
        let file = CatalogFile::parse(&good).expect("a reusable material");
        let m = &file.matters[0].materials[0];
        assert_eq!(m.reuse, Reuse::Accepted);
        assert_eq!(m.reuse_valid_days, Some(365));

        let bad = item(
            &[
                material("no-type", "reuse = \"accepted\"\nreuse_valid_days = 30"),
                material(
                    "no-window",
                    "document_type = \"deed\"\nreuse = \"accepted\"",
                ),
                material(
                    "too-long",
                    "document_type = \"deed\"\nreuse = \"accepted\"\nreuse_valid_days = 4000",
                ),
                material("window-only", "reuse_valid_days = 30"),
                material("bad-type", "document_type = \"Resident ID\""),
            ]
            .concat(),
        );
        let Err(CatalogError::Invalid(problems)) = CatalogFile::parse(&bad) else {
            panic!("expected validation errors");
        };
        for code in [
            "no-type",
            "no-window",
            "too-long",
            "window-only",
            "bad-type",
        ] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains(&format!("material {code}:"))),
                "{code}: {problems:?}"
            );
        }
        assert_eq!(problems.len(), 5, "{problems:?}");
    }

    #[test]
    fn the_reuse_defaults_leave_an_items_hash_as_it_was() {
        // Items imported before materials had document types keep their version.
        let file = CatalogFile::parse(SAMPLE).unwrap();
        let mut m = file.matters[0].clone();
        for x in &mut m.materials {
            x.document_type = None;
            x.reuse = Reuse::FreshOnly;
            x.reuse_valid_days = None;
        }
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            !json.contains("reuse") && !json.contains("document_type"),
            "{json}"
        );
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
