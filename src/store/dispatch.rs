//! Reception's findings and the dispatch batches that carry received originals to their
//! department. A batch is one department's cases at one cut-off; the unique (department,
//! cut-off) pair makes a rerun of the same cut-off add to the same batch, never a second one.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, Condition, QueryOrder, QuerySelect, QueryTrait};
use uuid::Uuid;

use crate::domain::application::ApplicationState;
use crate::store::applications::application;

pub mod batch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "dispatch_batches")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub department_code: String,
        pub cutoff_at: DateTimeUtc,
        pub case_count: i32,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod reception {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "receptions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub staff_id: Uuid,
        pub matches: bool,
        pub note: Option<String>,
        /// JSON list of material codes.
        pub mismatched_materials: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn record_reception<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    staff_id: Uuid,
    matches: bool,
    note: Option<String>,
    mismatched: &[String],
) -> Result<(), DbErr> {
    reception::ActiveModel {
        id: Set(Uuid::now_v7()),
        application_id: Set(application_id),
        staff_id: Set(staff_id),
        matches: Set(matches),
        note: Set(note),
        mismatched_materials: Set(serde_json::to_string(mismatched).unwrap_or_default()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Marks the originals received now.
pub async fn set_received<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(application::Column::ReceivedAt, Expr::value(Utc::now()))
        .filter(application::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Received cases not yet in a batch, received before `cutoff`, by department (of
/// `departments` only, when given).
pub async fn undispatched<C: ConnectionTrait>(
    db: &C,
    cutoff: DateTime<Utc>,
    departments: Option<&[String]>,
) -> Result<Vec<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::State.eq(ApplicationState::Received.as_str()))
        .filter(application::Column::BatchId.is_null())
        .filter(application::Column::ReceivedAt.lte(cutoff))
        .apply_if(departments, |query, departments| {
            query.filter(application::Column::DepartmentCode.is_in(departments.iter().cloned()))
        })
        .order_by_asc(application::Column::DepartmentCode)
        .order_by_asc(application::Column::ReceivedAt)
        .all(db)
        .await
}

/// The batch of `department` at `cutoff`, made if missing.
pub async fn batch_for<C: ConnectionTrait>(
    db: &C,
    department: &str,
    cutoff: DateTime<Utc>,
) -> Result<batch::Model, DbErr> {
    let model = batch::ActiveModel {
        id: Set(Uuid::now_v7()),
        department_code: Set(department.to_string()),
        cutoff_at: Set(cutoff),
        case_count: Set(0),
        created_at: Set(Utc::now()),
    };
    batch::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([batch::Column::DepartmentCode, batch::Column::CutoffAt])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    batch::Entity::find()
        .filter(batch::Column::DepartmentCode.eq(department))
        .filter(batch::Column::CutoffAt.eq(cutoff))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the batch just written".into()))
}

/// Puts `app` in `batch` and counts it.
pub async fn add_to_batch<C: ConnectionTrait>(
    db: &C,
    batch_id: Uuid,
    app_id: Uuid,
) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(application::Column::BatchId, Expr::value(batch_id))
        .filter(application::Column::Id.eq(app_id))
        .exec(db)
        .await?;
    let count = application::Entity::find()
        .filter(application::Column::BatchId.eq(batch_id))
        .count(db)
        .await?;
    batch::Entity::update_many()
        .col_expr(batch::Column::CaseCount, Expr::value(count as i32))
        .filter(batch::Column::Id.eq(batch_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Batches of these departments, newest first.
pub async fn batches<C: ConnectionTrait>(
    db: &C,
    departments: &[String],
    limit: u64,
) -> Result<Vec<batch::Model>, DbErr> {
    batch::Entity::find()
        .filter(batch::Column::DepartmentCode.is_in(departments.iter().cloned()))
        .order_by_desc(batch::Column::CutoffAt)
        .order_by_desc(batch::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn find_batch<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<batch::Model>, DbErr> {
    batch::Entity::find_by_id(id).one(db).await
}

/// The cases of a batch, in the order they were received.
pub async fn cases_of<C: ConnectionTrait>(
    db: &C,
    batch_id: Uuid,
) -> Result<Vec<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::BatchId.eq(batch_id))
        .order_by_asc(application::Column::ReceivedAt)
        .order_by_asc(application::Column::Id)
        .all(db)
        .await
}

/// The latest mismatch reception found for an application at or before `at`.
pub async fn mismatch_before<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<reception::Model>, DbErr> {
    reception::Entity::find()
        .filter(reception::Column::ApplicationId.eq(application_id))
        .filter(reception::Column::Matches.eq(false))
        .filter(reception::Column::CreatedAt.lte(at))
        .order_by_desc(reception::Column::CreatedAt)
        .one(db)
        .await
}

/// Reception's queue: cases of `departments` in transit whose current originals leg the courier
/// delivered, oldest first, each with that leg. Two queries, whatever the queue's length.
pub async fn arrived<C: ConnectionTrait>(
    db: &C,
    departments: &[String],
) -> Result<Vec<(application::Model, crate::store::shipments::shipment::Model)>, DbErr> {
    use crate::store::shipments::{LEG_MATERIALS, closed_orders, shipment, shipment_case};
    let in_transit = application::Entity::find()
        .filter(application::Column::State.eq(ApplicationState::OriginalsInTransit.as_str()))
        .filter(application::Column::DepartmentCode.is_in(departments.to_vec()))
        .order_by_asc(application::Column::UpdatedAt)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = in_transit.iter().map(|a| a.id).collect();
    // The cases each leg carries besides its first (one pickup of several cases' originals).
    let shared = shipment_case::Entity::find()
        .filter(shipment_case::Column::ApplicationId.is_in(ids.clone()))
        .all(db)
        .await?;
    let legs = shipment::Entity::find()
        .filter(
            Condition::any()
                .add(shipment::Column::ApplicationId.is_in(ids))
                .add(shipment::Column::Id.is_in(shared.iter().map(|c| c.shipment_id))),
        )
        .filter(shipment::Column::Leg.eq(LEG_MATERIALS))
        .filter(shipment::Column::OrderStatus.is_not_in(closed_orders()))
        .order_by_desc(shipment::Column::Id)
        .all(db)
        .await?;
    // The current leg of each case is its newest live one (as `shipments::current_leg`).
    let mut current = std::collections::HashMap::new();
    for leg in legs {
        let also = shared.iter().filter(|c| c.shipment_id == leg.id);
        for id in std::iter::once(leg.application_id).chain(also.map(|c| c.application_id)) {
            current.entry(id).or_insert_with(|| leg.clone());
        }
    }
    Ok(in_transit
        .into_iter()
        .filter_map(|app| {
            let leg = current.remove(&app.id)?;
            (leg.status == "delivered").then_some((app, leg))
        })
        .collect())
}

/// The cases of my departments whose originals travel (or travelled) under `waybill_no` with
/// one of `partners` (one parcel may carry several), with that leg: what reception's scanner
/// looks up. The newest leg with a case of mine wins.
pub async fn by_waybill<C: ConnectionTrait>(
    db: &C,
    departments: &[String],
    partners: &[&str],
    waybill_no: &str,
) -> Result<
    Option<(
        Vec<application::Model>,
        crate::store::shipments::shipment::Model,
    )>,
    DbErr,
> {
    use crate::store::shipments::{LEG_MATERIALS, carried, shipment};
    let legs = shipment::Entity::find()
        .filter(shipment::Column::Partner.is_in(partners.iter().copied()))
        .filter(shipment::Column::WaybillNo.eq(waybill_no))
        .filter(shipment::Column::Leg.eq(LEG_MATERIALS))
        .order_by_desc(shipment::Column::Id)
        .all(db)
        .await?;
    for leg in legs {
        let cases = application::Entity::find()
            .filter(application::Column::Id.is_in(carried(db, &leg).await?))
            .filter(application::Column::DepartmentCode.is_in(departments.to_vec()))
            .order_by_asc(application::Column::Id)
            .all(db)
            .await?;
        if !cases.is_empty() {
            return Ok(Some((cases, leg)));
        }
    }
    Ok(None)
}
