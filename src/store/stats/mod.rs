//! The dashboard's statistics: reads of the rollup tables (`rollups` keeps them, in the
//! transaction of each change; `rebuild` recomputes them) and the live workload counts read
//! from the applications. Every read takes a period of local days and a department scope, and
//! groups in the database: a read touches at most days × hours × items rows, never the events.

pub mod rebuild;
pub mod rollups;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{
    Alias, Cond, Expr, ExprTrait, Func, Order, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{ConnectionTrait, DbErr};

use crate::domain::application::ApplicationState;
use crate::store::applications::application;
use crate::store::shipments::{LEG_MATERIALS, closed_orders, shipment};

pub use rollups::{DecisionCounts, record_decision};

/// Local days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Which departments a read covers: `None` is every department.
pub type Scope<'a> = Option<&'a [String]>;

/// `CAST(SUM(col) AS BIGINT)`: PostgreSQL sums a bigint as numeric.
fn sum(column: &str) -> SimpleExpr {
    Func::cast_as(
        Func::sum(Expr::col(Alias::new(column))),
        Alias::new("BIGINT"),
    )
    .into()
}

fn sum_of(expr: SimpleExpr) -> SimpleExpr {
    Func::cast_as(Func::sum(expr), Alias::new("BIGINT")).into()
}

/// The rows of `table` in the period and scope.
fn within(table: &str, period: Period, scope: Scope<'_>) -> SelectStatement {
    let mut select = Query::select();
    select
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("day")).gte(period.from))
        .and_where(Expr::col(Alias::new("day")).lte(period.to));
    if let Some(departments) = scope {
        select
            .and_where(Expr::col(Alias::new("department_code")).is_in(departments.iter().cloned()));
    }
    select
}

fn empty(scope: Scope<'_>) -> bool {
    scope.is_some_and(|d| d.is_empty())
}

/// First submissions per local (day, hour).
pub async fn filings_by_hour<C: ConnectionTrait>(
    db: &C,
    period: Period,
    scope: Scope<'_>,
) -> Result<Vec<(NaiveDate, i16, i64)>, DbErr> {
    if empty(scope) {
        return Ok(Vec::new());
    }
    let select = within(rollups::FILINGS, period, scope)
        .column(Alias::new("day"))
        .column(Alias::new("hour"))
        .expr_as(sum("count"), Alias::new("n"))
        .group_by_col(Alias::new("day"))
        .group_by_col(Alias::new("hour"))
        .to_owned();
    db.query_all(&select)
        .await?
        .into_iter()
        .map(|row| {
            Ok((
                row.try_get("", "day")?,
                row.try_get("", "hour")?,
                row.try_get("", "n")?,
            ))
        })
        .collect()
}

/// First submissions of cases agents filed, per service point, between two instants (the
/// period's local days). Read from the cases: the index on `service_point_id` keeps it to the
/// points' own rows.
pub async fn filings_by_point<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    scope: Scope<'_>,
) -> Result<Vec<(uuid::Uuid, i64)>, DbErr> {
    use application::Column as A;
    if empty(scope) {
        return Ok(Vec::new());
    }
    let mut select = Query::select();
    select
        .column(A::ServicePointId)
        .expr_as(Func::count(Expr::col(A::Id)), Alias::new("n"))
        .from(application::Entity)
        .and_where(Expr::col(A::ServicePointId).is_not_null())
        .and_where(Expr::col(A::FirstSubmittedAt).gte(from))
        .and_where(Expr::col(A::FirstSubmittedAt).lt(until))
        .group_by_col(A::ServicePointId);
    if let Some(departments) = scope {
        select.and_where(Expr::col(A::DepartmentCode).is_in(departments.iter().cloned()));
    }
    db.query_all(&select)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "service_point_id")?, row.try_get("", "n")?)))
        .collect()
}

/// The items most filed in the period, most first (ties by code).
pub async fn top_matters<C: ConnectionTrait>(
    db: &C,
    period: Period,
    scope: Scope<'_>,
    limit: u64,
) -> Result<Vec<(String, i64)>, DbErr> {
    if empty(scope) {
        return Ok(Vec::new());
    }
    let select = within(rollups::FILINGS, period, scope)
        .column(Alias::new("matter_code"))
        .expr_as(sum("count"), Alias::new("n"))
        .group_by_col(Alias::new("matter_code"))
        .order_by_expr(sum("count"), Order::Desc)
        .order_by(Alias::new("matter_code"), Order::Asc)
        .limit(limit)
        .to_owned();
    db.query_all(&select)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "matter_code")?, row.try_get("", "n")?)))
        .collect()
}

/// One bucket of a stage's durations: `(stage code, bucket, count, seconds summed)`.
pub type StageBucket = (i16, i16, i64, i64);

/// The stages' duration histograms of the cases whose stage ended in the period.
pub async fn stage_buckets<C: ConnectionTrait>(
    db: &C,
    period: Period,
    scope: Scope<'_>,
) -> Result<Vec<StageBucket>, DbErr> {
    if empty(scope) {
        return Ok(Vec::new());
    }
    let select = within(rollups::STAGES, period, scope)
        .column(Alias::new("stage"))
        .column(Alias::new("bucket"))
        .expr_as(sum("count"), Alias::new("n"))
        .expr_as(sum("seconds"), Alias::new("s"))
        .group_by_col(Alias::new("stage"))
        .group_by_col(Alias::new("bucket"))
        .to_owned();
    db.query_all(&select)
        .await?
        .into_iter()
        .map(|row| {
            Ok((
                row.try_get("", "stage")?,
                row.try_get("", "bucket")?,
                row.try_get("", "n")?,
                row.try_get("", "s")?,
            ))
        })
        .collect()
}

/// Narrows the returns' reads to one item or one material.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaterialFilter<'a> {
    pub matter: Option<&'a str>,
    pub material: Option<&'a str>,
}

impl MaterialFilter<'_> {
    fn apply(&self, select: &mut SelectStatement) {
        if let Some(matter) = self.matter {
            select.and_where(Expr::col(Alias::new("matter_code")).eq(matter));
        }
        if let Some(material) = self.material {
            select.and_where(Expr::col(Alias::new("material_code")).eq(material));
        }
    }
}

/// A material's pre-review counts: `(matter, material, decisions, returns)`.
pub type MaterialCount = (String, String, i64, i64);

pub async fn material_counts<C: ConnectionTrait>(
    db: &C,
    period: Period,
    scope: Scope<'_>,
    filter: MaterialFilter<'_>,
) -> Result<Vec<MaterialCount>, DbErr> {
    if empty(scope) {
        return Ok(Vec::new());
    }
    let mut select = within(rollups::MATERIALS, period, scope);
    filter.apply(&mut select);
    select
        .column(Alias::new("matter_code"))
        .column(Alias::new("material_code"))
        .expr_as(sum("decisions"), Alias::new("d"))
        .expr_as(sum("returns"), Alias::new("r"))
        .group_by_col(Alias::new("matter_code"))
        .group_by_col(Alias::new("material_code"));
    db.query_all(&select)
        .await?
        .into_iter()
        .map(|row| {
            Ok((
                row.try_get("", "matter_code")?,
                row.try_get("", "material_code")?,
                row.try_get("", "d")?,
                row.try_get("", "r")?,
            ))
        })
        .collect()
}

/// Returns per reason: `(matter, material, reason, count)`.
pub type ReasonCount = (String, String, String, i64);

pub async fn reason_counts<C: ConnectionTrait>(
    db: &C,
    period: Period,
    scope: Scope<'_>,
    filter: MaterialFilter<'_>,
) -> Result<Vec<ReasonCount>, DbErr> {
    if empty(scope) {
        return Ok(Vec::new());
    }
    let mut select = within(rollups::REASONS, period, scope);
    filter.apply(&mut select);
    select
        .column(Alias::new("matter_code"))
        .column(Alias::new("material_code"))
        .column(Alias::new("reason"))
        .expr_as(sum("count"), Alias::new("n"))
        .group_by_col(Alias::new("matter_code"))
        .group_by_col(Alias::new("material_code"))
        .group_by_col(Alias::new("reason"));
    db.query_all(&select)
        .await?
        .into_iter()
        .map(|row| {
            Ok((
                row.try_get("", "matter_code")?,
                row.try_get("", "material_code")?,
                row.try_get("", "reason")?,
                row.try_get("", "n")?,
            ))
        })
        .collect()
}

/// Live cases of one (department, item) in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCount {
    pub department_code: String,
    pub matter_code: String,
    pub state: ApplicationState,
    pub count: i64,
    /// Under a live claim (pre-review only).
    pub claimed: i64,
    /// Past the pre-review deadline (pre-review only).
    pub overdue: i64,
    /// Originals the courier delivered at the centre, waiting for reception (in transit only).
    pub delivered: i64,
}

/// The states the workload counts.
pub const LIVE_STATES: [ApplicationState; 4] = [
    ApplicationState::Submitted,
    ApplicationState::OriginalsInTransit,
    ApplicationState::Received,
    ApplicationState::AtDepartment,
];

/// Counts of the cases in `LIVE_STATES` now, per department, item and state. Reads the
/// applications through their `(state, department_code, ...)` index: only the live cases.
pub async fn live_counts<C: ConnectionTrait>(
    db: &C,
    scope: Scope<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<LiveCount>, DbErr> {
    use application::Column as A;
    if empty(scope) {
        return Ok(Vec::new());
    }
    let claimed = Expr::case(
        Cond::all()
            .add(Expr::col(A::ClaimedBy).is_not_null())
            .add(Expr::col(A::ClaimExpiresAt).gt(now)),
        1,
    )
    .finally(0);
    let overdue = Expr::case(Expr::col(A::PrereviewDueAt).lt(now), 1).finally(0);
    // The reception queue's rule (`dispatch::arrived`): the live originals leg was delivered.
    let delivered_leg = Query::select()
        .expr(Expr::val(1))
        .from(shipment::Entity)
        .and_where(
            Expr::col((shipment::Entity, shipment::Column::ApplicationId))
                .equals((application::Entity, A::Id)),
        )
        .and_where(Expr::col((shipment::Entity, shipment::Column::Leg)).eq(LEG_MATERIALS))
        .and_where(Expr::col((shipment::Entity, shipment::Column::Status)).eq("delivered"))
        .and_where(
            Expr::col((shipment::Entity, shipment::Column::OrderStatus)).is_not_in(closed_orders()),
        )
        .to_owned();
    let delivered = Expr::case(
        Cond::all()
            .add(
                Expr::col((application::Entity, A::State))
                    .eq(ApplicationState::OriginalsInTransit.as_str()),
            )
            .add(Expr::exists(delivered_leg)),
        1,
    )
    .finally(0);
    let mut select = Query::select();
    select
        .from(application::Entity)
        .column((application::Entity, A::DepartmentCode))
        .column((application::Entity, A::MatterCode))
        .column((application::Entity, A::State))
        .expr_as(
            Func::cast_as(Func::count(Expr::val(1)), Alias::new("BIGINT")),
            Alias::new("n"),
        )
        .expr_as(sum_of(claimed.into()), Alias::new("claimed"))
        .expr_as(sum_of(overdue.into()), Alias::new("overdue"))
        .expr_as(sum_of(delivered.into()), Alias::new("delivered"))
        .and_where(
            Expr::col((application::Entity, A::State))
                .is_in(LIVE_STATES.iter().map(|s| s.as_str())),
        )
        .group_by_col((application::Entity, A::DepartmentCode))
        .group_by_col((application::Entity, A::MatterCode))
        .group_by_col((application::Entity, A::State));
    if let Some(departments) = scope {
        select.and_where(
            Expr::col((application::Entity, A::DepartmentCode)).is_in(departments.iter().cloned()),
        );
    }
    let rows = db.query_all(&select).await?;
    let mut counts = Vec::with_capacity(rows.len());
    for row in rows {
        let state: String = row.try_get("", "state")?;
        let Some(state) = ApplicationState::parse(&state) else {
            continue;
        };
        counts.push(LiveCount {
            department_code: row.try_get("", "department_code")?,
            matter_code: row.try_get("", "matter_code")?,
            state,
            count: row.try_get("", "n")?,
            claimed: row.try_get("", "claimed")?,
            overdue: row.try_get("", "overdue")?,
            delivered: row.try_get("", "delivered")?,
        });
    }
    Ok(counts)
}

/// Names of the current items and of their materials, for the answers:
/// `(matter code, material code or None for the item, name)`.
pub async fn names<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(String, Option<String>, String)>, DbErr> {
    use crate::store::catalog::{material, matter};
    let matters = Query::select()
        .column((matter::Entity, matter::Column::Code))
        .column((matter::Entity, matter::Column::Name))
        .column((matter::Entity, matter::Column::Id))
        .from(matter::Entity)
        .and_where(Expr::col(matter::Column::IsCurrent).eq(true))
        .to_owned();
    let materials = Query::select()
        .expr_as(
            Expr::col((matter::Entity, matter::Column::Code)),
            Alias::new("matter_code"),
        )
        .expr_as(
            Expr::col((material::Entity, material::Column::Code)),
            Alias::new("code"),
        )
        .expr_as(
            Expr::col((material::Entity, material::Column::Name)),
            Alias::new("name"),
        )
        .from(material::Entity)
        .inner_join(
            matter::Entity,
            Expr::col((matter::Entity, matter::Column::Id))
                .equals((material::Entity, material::Column::MatterId)),
        )
        .and_where(Expr::col((matter::Entity, matter::Column::IsCurrent)).eq(true))
        .to_owned();
    let mut names = Vec::new();
    for row in db.query_all(&matters).await? {
        names.push((row.try_get("", "code")?, None, row.try_get("", "name")?));
    }
    for row in db.query_all(&materials).await? {
        names.push((
            row.try_get("", "matter_code")?,
            Some(row.try_get("", "code")?),
            row.try_get("", "name")?,
        ));
    }
    Ok(names)
}

/// Whether a department of this code exists.
pub async fn department_exists<C: ConnectionTrait>(db: &C, code: &str) -> Result<bool, DbErr> {
    use crate::store::catalog::department;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Ok(department::Entity::find()
        .filter(department::Column::Code.eq(code))
        .one(db)
        .await?
        .is_some())
}
