//! The answers of `/v1/stats/*`: the shapes the dashboard reads.

use chrono::NaiveDate;
use poem_openapi::{Enum, Object};

use crate::domain::stats::Stage;

#[derive(Debug, Clone, Object)]
pub struct HeatCell {
    /// ISO weekday in the centre's local time: 1 = Monday .. 7 = Sunday.
    pub weekday: u8,
    /// Local hour, 0..23.
    pub hour: u8,
    pub count: u64,
}

#[derive(Debug, Clone, Object)]
pub struct MatterCount {
    pub matter_code: String,
    /// The item's current name; its code when the catalogue no longer has it.
    pub matter_name: String,
    pub count: u64,
}

#[derive(Debug, Clone, Object)]
pub struct FilingStats {
    /// First local date counted.
    pub from: NaiveDate,
    /// Last local date counted (included).
    pub to: NaiveDate,
    /// First submissions in the period (a resubmission after a return is not one).
    pub total: u64,
    /// All 168 cells, Monday 00h first, then by hour, then by weekday.
    pub cells: Vec<HeatCell>,
    /// The ten items most filed, most first.
    pub top_matters: Vec<MatterCount>,
}

/// Cases waiting at each desk now.
#[derive(Debug, Clone, Default, Object)]
pub struct Load {
    /// Submitted, waiting for pre-review, nobody holding a live claim.
    pub waiting: u64,
    /// Submitted, under a reviewer's live claim.
    pub claimed: u64,
    /// Submitted and past the pre-review deadline, claimed or not.
    pub overdue: u64,
    /// Originals with the courier, not yet delivered to the centre.
    pub in_transit: u64,
    /// Originals delivered to the centre, waiting for reception's check (`/v1/reception/queue`).
    pub at_reception: u64,
    /// Checked by reception, waiting for the next dispatch batch to the department.
    pub awaiting_dispatch: u64,
    /// At the department, waiting for its decision.
    pub at_department: u64,
}

#[derive(Debug, Clone, Object)]
pub struct MatterLoad {
    pub matter_code: String,
    pub matter_name: String,
    pub load: Load,
}

#[derive(Debug, Clone, Object)]
pub struct DepartmentLoad {
    pub department_code: String,
    /// Sums over the department's items.
    pub load: Load,
    /// Items with at least one case waiting, by code.
    pub matters: Vec<MatterLoad>,
}

#[derive(Debug, Clone, Object)]
pub struct Workload {
    /// Sums over the departments below.
    pub total: Load,
    /// Departments with at least one case waiting, by code.
    pub departments: Vec<DepartmentLoad>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Stage", rename_all = "snake_case")]
pub enum StageName {
    /// (Re)submission to the pre-review decision (approve, return or reject).
    Prereview,
    /// Pre-review approval to the courier collecting the originals.
    Pickup,
    /// Originals collected to reception's check (matching or not).
    Transit,
    /// Reception's confirmation (for an item without originals: pre-review's approval) to the
    /// department's decision.
    Department,
    /// The department's approval to the result delivered or its receipt confirmed.
    Delivery,
}

impl From<Stage> for StageName {
    fn from(stage: Stage) -> Self {
        match stage {
            Stage::Prereview => Self::Prereview,
            Stage::Pickup => Self::Pickup,
            Stage::Transit => Self::Transit,
            Stage::Department => Self::Department,
            Stage::Delivery => Self::Delivery,
        }
    }
}

/// One stage's durations, of the cases whose stage ended in the period. The median and p90 are
/// read from log-spaced buckets (eight per doubling): each is within 4.4% of a duration in the
/// same bucket as the exact percentile (and within half a second below 10 s).
#[derive(Debug, Clone, Object)]
pub struct StageFigure {
    pub stage: StageName,
    /// Cases whose stage ended in the period.
    pub count: u64,
    /// Median, in seconds (bucketed, see above); absent when `count` is 0.
    #[oai(skip_serializing_if_is_none)]
    pub median_secs: Option<i64>,
    /// 90th percentile, in seconds (bucketed, see above).
    #[oai(skip_serializing_if_is_none)]
    pub p90_secs: Option<i64>,
    /// Mean, in seconds (exact).
    #[oai(skip_serializing_if_is_none)]
    pub mean_secs: Option<i64>,
}

#[derive(Debug, Clone, Object)]
pub struct StageStats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The five stages, in the order a case goes through them.
    pub stages: Vec<StageFigure>,
}

#[derive(Debug, Clone, Object)]
pub struct ReasonCount {
    /// The reviewer's words (trimmed, at most 200 characters); equal texts count together.
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Clone, Object)]
pub struct MaterialReturns {
    pub matter_code: String,
    pub matter_name: String,
    pub material_code: String,
    /// The material's name in the item's current version; its code when it has none.
    pub material_name: String,
    /// Pre-review decisions (approve, return, reject) on cases of the item: each covers every
    /// material of the item.
    pub decisions: u64,
    /// Returns that named this material.
    pub returns: u64,
    /// `returns / decisions`, 0..1.
    pub return_rate: f64,
    /// The commonest reasons, at most three, most first (ties by text).
    pub top_reasons: Vec<ReasonCount>,
}

#[derive(Debug, Clone, Object)]
pub struct ReturnStats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Most returned first, then by return rate, item and material.
    pub items: Vec<MaterialReturns>,
}

/// One service point's filings in the period.
#[derive(Debug, Clone, Object)]
pub struct PointCount {
    pub service_point_id: uuid::Uuid,
    pub code: String,
    pub name: String,
    /// Cases its agents filed (first submitted) in the period.
    pub filings: u64,
}

#[derive(Debug, Clone, Object)]
pub struct ServicePointStats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every agent filing in the period.
    pub total: u64,
    /// Most first; points without a filing in the period are left out.
    pub items: Vec<PointCount>,
}
