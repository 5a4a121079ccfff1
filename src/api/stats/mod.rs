//! `/v1/stats/*`: the back-office dashboard's figures, for any staff member, each about the
//! caller's departments only (an admin without departments: every department). Filings, stage
//! times and returns come from the rollups `store::stats` keeps per local day; the workload is
//! counted live. A period is a range of the centre's local dates.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{StaffAuth, StaffMember};
use crate::domain::application::ApplicationState;
use crate::domain::staff::Role;
use crate::domain::stats::{self as rules, ALL_STAGES};
use crate::state::AppState;
use crate::store::service_points;
use crate::store::stats::{self, MaterialFilter, Period};

mod view;

pub use view::*;

pub struct StatsApi;

/// The longest period one request may cover, in days.
const MAX_DAYS: i64 = 366;
/// The default period: this many days ending today.
const DEFAULT_DAYS: i64 = 30;
const TOP_MATTERS: u64 = 10;
const TOP_REASONS: usize = 3;

/// What a request asked for, checked.
struct Asked {
    period: Period,
    /// `None`: every department.
    departments: Option<Vec<String>>,
}

impl Asked {
    fn scope(&self) -> stats::Scope<'_> {
        self.departments.as_deref()
    }
}

#[OpenApi(tag = "ApiTags::Statistics")]
impl StatsApi {
    /// First submissions by local weekday and hour (the heat map), and the items most filed.
    #[oai(path = "/v1/stats/filings", method = "get")]
    async fn filings(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        /// First local date, `YYYY-MM-DD` (default: 29 days before `to`).
        from: Query<Option<String>>,
        /// Last local date, included, `YYYY-MM-DD` (default: today). At most 366 days in all.
        to: Query<Option<String>>,
        /// Only this one of my departments.
        department: Query<Option<String>>,
    ) -> ApiResult<Json<FilingStats>> {
        let asked = asked(&state, &auth.0, from.0, to.0, department.0).await?;
        let db = state.db()?;
        let hours = stats::filings_by_hour(db, asked.period, asked.scope()).await?;
        let mut grid = [[0u64; 24]; 7];
        let mut total = 0;
        for (day, hour, n) in hours {
            let n = u64::try_from(n).unwrap_or(0);
            grid[(rules::weekday(day) - 1) as usize][hour.clamp(0, 23) as usize] += n;
            total += n;
        }
        let cells = (0..7u8)
            .flat_map(|d| (0..24u8).map(move |h| (d, h)))
            .map(|(d, h)| HeatCell {
                weekday: d + 1,
                hour: h,
                count: grid[d as usize][h as usize],
            })
            .collect();
        let names = Names::read(db).await?;
        let top = stats::top_matters(db, asked.period, asked.scope(), TOP_MATTERS).await?;
        Ok(Json(FilingStats {
            from: asked.period.from,
            to: asked.period.to,
            total,
            cells,
            top_matters: top
                .into_iter()
                .map(|(code, n)| MatterCount {
                    matter_name: names.matter(&code),
                    matter_code: code,
                    count: u64::try_from(n).unwrap_or(0),
                })
                .collect(),
        }))
    }

    /// Filings agents made at each village service point, of my departments' items.
    #[oai(path = "/v1/stats/service-points", method = "get")]
    async fn service_points(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        /// First local date, `YYYY-MM-DD` (default: 29 days before `to`).
        from: Query<Option<String>>,
        /// Last local date, included, `YYYY-MM-DD` (default: today). At most 366 days in all.
        to: Query<Option<String>>,
        /// Only this one of my departments.
        department: Query<Option<String>>,
    ) -> ApiResult<Json<ServicePointStats>> {
        let asked = asked(&state, &auth.0, from.0, to.0, department.0).await?;
        let db = state.db()?;
        let offset = state.config.local_offset();
        let start = |day: NaiveDate| {
            day.and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(offset).single())
                .map(|t| t.with_timezone(&chrono::Utc))
                .ok_or_else(|| ApiError::internal("a local midnight that does not exist"))
        };
        let (from, until) = (
            start(asked.period.from)?,
            start(asked.period.to + Duration::days(1))?,
        );
        let mut counts = stats::filings_by_point(db, from, until, asked.scope()).await?;
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut items = Vec::with_capacity(counts.len());
        for (id, n) in counts {
            let point = service_points::find(db, id).await?;
            items.push(PointCount {
                service_point_id: id,
                code: point.as_ref().map(|p| p.code.clone()).unwrap_or_default(),
                name: point.map(|p| p.name).unwrap_or_default(),
                filings: u64::try_from(n).unwrap_or(0),
            });
        }
        Ok(Json(ServicePointStats {
            from: asked.period.from,
            to: asked.period.to,
            total: items.iter().map(|i| i.filings).sum(),
            items,
        }))
    }

    /// Cases waiting at each desk now, per department and item: pre-review (waiting, claimed,
    /// overdue), the originals' way to reception, and the department. Counted live; the
    /// period does not apply.
    #[oai(path = "/v1/stats/workload", method = "get")]
    async fn workload(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        /// Only this one of my departments.
        department: Query<Option<String>>,
    ) -> ApiResult<Json<Workload>> {
        let asked = asked(&state, &auth.0, None, None, department.0).await?;
        let db = state.db()?;
        let counts = stats::live_counts(db, asked.scope(), state.clock.now()).await?;
        let names = Names::read(db).await?;
        let mut by: BTreeMap<String, BTreeMap<String, Load>> = BTreeMap::new();
        for c in counts {
            let load = by
                .entry(c.department_code)
                .or_default()
                .entry(c.matter_code)
                .or_default();
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            match c.state {
                ApplicationState::Submitted => {
                    load.claimed += n(c.claimed);
                    load.waiting += n(c.count - c.claimed);
                    load.overdue += n(c.overdue);
                }
                ApplicationState::OriginalsInTransit => {
                    load.at_reception += n(c.delivered);
                    load.in_transit += n(c.count - c.delivered);
                }
                ApplicationState::Received => load.awaiting_dispatch += n(c.count),
                ApplicationState::AtDepartment => load.at_department += n(c.count),
                _ => {}
            }
        }
        let mut total = Load::default();
        let departments = by
            .into_iter()
            .map(|(department_code, matters)| {
                let mut load = Load::default();
                let matters = matters
                    .into_iter()
                    .map(|(matter_code, m)| {
                        add(&mut load, &m);
                        MatterLoad {
                            matter_name: names.matter(&matter_code),
                            matter_code,
                            load: m,
                        }
                    })
                    .collect();
                add(&mut total, &load);
                DepartmentLoad {
                    department_code,
                    load,
                    matters,
                }
            })
            .collect();
        Ok(Json(Workload { total, departments }))
    }

    /// How long each stage of a case took, for the cases whose stage ended in the period:
    /// count, median, p90 and mean.
    #[oai(path = "/v1/stats/stages", method = "get")]
    async fn stages(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        /// First local date, `YYYY-MM-DD` (default: 29 days before `to`).
        from: Query<Option<String>>,
        /// Last local date, included, `YYYY-MM-DD` (default: today). At most 366 days in all.
        to: Query<Option<String>>,
        /// Only this one of my departments.
        department: Query<Option<String>>,
    ) -> ApiResult<Json<StageStats>> {
        let asked = asked(&state, &auth.0, from.0, to.0, department.0).await?;
        let buckets = stats::stage_buckets(state.db()?, asked.period, asked.scope()).await?;
        let stages = ALL_STAGES
            .into_iter()
            .map(|stage| {
                let rows: Vec<_> = buckets.iter().filter(|b| b.0 == stage.code()).collect();
                let histogram: Vec<(i16, i64)> = rows.iter().map(|b| (b.1, b.2)).collect();
                let count: i64 = rows.iter().map(|b| b.2).sum();
                let seconds: i64 = rows.iter().map(|b| b.3).sum();
                StageFigure {
                    stage: stage.into(),
                    count: u64::try_from(count).unwrap_or(0),
                    median_secs: rules::quantile(&histogram, 0.5),
                    p90_secs: rules::quantile(&histogram, 0.9),
                    mean_secs: (count > 0).then(|| seconds / count),
                }
            })
            .collect();
        Ok(Json(StageStats {
            from: asked.period.from,
            to: asked.period.to,
            stages,
        }))
    }

    /// Pre-review returns per item and material: decisions that covered it, returns of it, the
    /// rate, and the commonest reasons. Which guidance to fix first.
    #[oai(path = "/v1/stats/returns", method = "get")]
    #[allow(clippy::too_many_arguments)] // one per filter of the contract
    async fn returns(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        /// First local date, `YYYY-MM-DD` (default: 29 days before `to`).
        from: Query<Option<String>>,
        /// Last local date, included, `YYYY-MM-DD` (default: today). At most 366 days in all.
        to: Query<Option<String>>,
        /// Only this one of my departments.
        department: Query<Option<String>>,
        /// Only this item (`matter_code`).
        matter: Query<Option<String>>,
        /// Only this material (`material_code`), e.g. the common reasons for one material.
        material: Query<Option<String>>,
    ) -> ApiResult<Json<ReturnStats>> {
        let asked = asked(&state, &auth.0, from.0, to.0, department.0).await?;
        let db = state.db()?;
        let filter = MaterialFilter {
            matter: matter.0.as_deref(),
            material: material.0.as_deref(),
        };
        let counts = stats::material_counts(db, asked.period, asked.scope(), filter).await?;
        let reasons = stats::reason_counts(db, asked.period, asked.scope(), filter).await?;
        let names = Names::read(db).await?;
        let mut top: HashMap<(String, String), Vec<ReasonCount>> = HashMap::new();
        for (matter, material, reason, n) in reasons {
            top.entry((matter, material))
                .or_default()
                .push(ReasonCount {
                    reason,
                    count: u64::try_from(n).unwrap_or(0),
                });
        }
        let mut items: Vec<MaterialReturns> = counts
            .into_iter()
            .map(|(matter, material, decisions, returns)| {
                let mut reasons = top
                    .remove(&(matter.clone(), material.clone()))
                    .unwrap_or_default();
                reasons.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
                reasons.truncate(TOP_REASONS);
                let decisions = u64::try_from(decisions).unwrap_or(0);
                let returns = u64::try_from(returns).unwrap_or(0);
                MaterialReturns {
                    matter_name: names.matter(&matter),
                    material_name: names.material(&matter, &material),
                    matter_code: matter,
                    material_code: material,
                    decisions,
                    returns,
                    return_rate: if decisions == 0 {
                        0.0
                    } else {
                        returns as f64 / decisions as f64
                    },
                    top_reasons: reasons,
                }
            })
            .collect();
        items.sort_by(|a, b| {
            b.returns
                .cmp(&a.returns)
                .then(b.return_rate.total_cmp(&a.return_rate))
                .then(a.matter_code.cmp(&b.matter_code))
                .then(a.material_code.cmp(&b.material_code))
        });
        Ok(Json(ReturnStats {
            from: asked.period.from,
            to: asked.period.to,
            items,
        }))
    }
}

fn add(sum: &mut Load, more: &Load) {
    sum.waiting += more.waiting;
    sum.claimed += more.claimed;
    sum.overdue += more.overdue;
    sum.in_transit += more.in_transit;
    sum.at_reception += more.at_reception;
    sum.awaiting_dispatch += more.awaiting_dispatch;
    sum.at_department += more.at_department;
}

/// Checks a request's period and department against the caller. Any staff role reads the
/// statistics of their own departments; an admin without departments reads every department's
/// (as `/v1/reception/batches/close` treats one). A department that is not the caller's answers
/// 404, as a missing one does.
async fn asked(
    state: &AppState,
    member: &StaffMember,
    from: Option<String>,
    to: Option<String>,
    department: Option<String>,
) -> ApiResult<Asked> {
    if member.roles.is_empty() {
        return Err(ApiError::forbidden(
            "role_required",
            "Statistics need a staff role.",
        ));
    }
    let today = state
        .clock
        .now()
        .with_timezone(&state.config.local_offset())
        .date_naive();
    let to = match to {
        Some(text) => parse_date("to", &text)?,
        None => today,
    };
    let from = match from {
        Some(text) => parse_date("from", &text)?,
        None => to - Duration::days(DEFAULT_DAYS - 1),
    };
    if from > to {
        return Err(ApiError::bad_request(
            "invalid_period",
            "`from` is after `to`.",
        ));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(ApiError::bad_request(
            "invalid_period",
            format!("A period covers at most {MAX_DAYS} days."),
        ));
    }
    let everywhere = member.has(Role::Admin) && member.departments.is_empty();
    let departments = match department {
        Some(code) => {
            let known = if everywhere {
                stats::department_exists(state.db()?, &code).await?
            } else {
                member.departments.contains(&code)
            };
            if !known {
                return Err(ApiError::not_found(
                    "department_not_found",
                    "No such department among yours.",
                ));
            }
            Some(vec![code])
        }
        None if everywhere => None,
        None => Some(member.departments.clone()),
    };
    Ok(Asked {
        period: Period { from, to },
        departments,
    })
}

fn parse_date(name: &str, text: &str) -> ApiResult<NaiveDate> {
    // chrono takes `2026-1-1` too; the contract says ten characters.
    let exact = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    exact
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_date",
                format!("`{name}` must be a date, YYYY-MM-DD."),
            )
        })
}

/// The catalogue's current names of items and materials.
struct Names {
    matters: HashMap<String, String>,
    materials: HashMap<(String, String), String>,
}

impl Names {
    async fn read(db: &sea_orm::DatabaseConnection) -> Result<Self, sea_orm::DbErr> {
        let mut names = Self {
            matters: HashMap::new(),
            materials: HashMap::new(),
        };
        for (matter, material, name) in stats::names(db).await? {
            match material {
                Some(material) => names.materials.insert((matter, material), name),
                None => names.matters.insert(matter, name),
            };
        }
        Ok(names)
    }

    fn matter(&self, code: &str) -> String {
        self.matters
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.into())
    }

    fn material(&self, matter: &str, code: &str) -> String {
        self.materials
            .get(&(matter.into(), code.into()))
            .cloned()
            .unwrap_or_else(|| code.into())
    }
}
