//! Courier legs and their route events. A shipment is one leg (`materials`: the citizen's
//! originals to the centre; `result`: the result to the citizen; `return`: originals sent back)
//! with its partner order and normalised status. Route events are stored raw, once per partner
//! event id, including events for waybills we do not know yet (matched later).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Shipments::Table)
                    .col(pk_uuid(Shipments::Id))
                    .col(uuid(Shipments::ApplicationId))
                    .col(string_len(Shipments::Leg, 16))
                    .col(string_len(Shipments::Partner, 16))
                    // Never reused: a partner refuses an order id it has seen cancelled.
                    .col(string_len_uniq(Shipments::OrderId, 64))
                    .col(string_len(Shipments::OrderStatus, 24))
                    .col(string_len(Shipments::Status, 24))
                    .col(string_len_null(Shipments::LastOpCode, 16))
                    .col(string_len_null(Shipments::WaybillNo, 64))
                    .col(string_len_null(Shipments::CourierName, 64))
                    .col(string_len_null(Shipments::CourierPhone, 32))
                    .col(text(Shipments::Sender))
                    .col(text(Shipments::Recipient))
                    .col(string_len_null(Shipments::PickupDate, 10))
                    .col(string_len_null(Shipments::PickupSlot, 16))
                    .col(timestamp_with_time_zone_null(Shipments::PickupFrom))
                    .col(timestamp_with_time_zone_null(Shipments::PickupUntil))
                    .col(timestamp_with_time_zone_null(Shipments::LastEventAt))
                    .col(timestamp_with_time_zone_null(Shipments::DeliveredAt))
                    .col(text_null(Shipments::LastError))
                    .col(integer(Shipments::Version).default(1))
                    .col(timestamp_with_time_zone(Shipments::CreatedAt))
                    .col(timestamp_with_time_zone(Shipments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "shipments_application_idx",
                vec![Shipments::ApplicationId, Shipments::Leg],
            ),
            (
                "shipments_waybill_idx",
                vec![Shipments::Partner, Shipments::WaybillNo],
            ),
            ("shipments_status_idx", vec![Shipments::Status]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Shipments::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ShipmentEvents::Table)
                    .col(pk_uuid(ShipmentEvents::Id))
                    .col(string_len(ShipmentEvents::Partner, 16))
                    .col(string_len(ShipmentEvents::PartnerEventId, 128))
                    .col(string_len(ShipmentEvents::WaybillNo, 64))
                    .col(uuid_null(ShipmentEvents::ShipmentId))
                    .col(string_len(ShipmentEvents::OpCode, 16))
                    .col(string_len(ShipmentEvents::Status, 24))
                    .col(timestamp_with_time_zone(ShipmentEvents::OccurredAt))
                    .col(text_null(ShipmentEvents::Location))
                    .col(text(ShipmentEvents::Description))
                    .col(text(ShipmentEvents::Raw))
                    .col(boolean(ShipmentEvents::Applied).default(false))
                    .col(timestamp_with_time_zone(ShipmentEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("shipment_events_partner_event_idx")
                    .table(ShipmentEvents::Table)
                    .col(ShipmentEvents::Partner)
                    .col(ShipmentEvents::PartnerEventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("shipment_events_waybill_idx")
                    .table(ShipmentEvents::Table)
                    .col(ShipmentEvents::WaybillNo)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ShipmentEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Shipments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Shipments {
    Table,
    Id,
    ApplicationId,
    Leg,
    Partner,
    OrderId,
    OrderStatus,
    Status,
    LastOpCode,
    WaybillNo,
    CourierName,
    CourierPhone,
    Sender,
    Recipient,
    PickupDate,
    PickupSlot,
    PickupFrom,
    PickupUntil,
    LastEventAt,
    DeliveredAt,
    LastError,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ShipmentEvents {
    Table,
    Id,
    Partner,
    PartnerEventId,
    WaybillNo,
    ShipmentId,
    OpCode,
    Status,
    OccurredAt,
    Location,
    Description,
    Raw,
    Applied,
    ReceivedAt,
}
