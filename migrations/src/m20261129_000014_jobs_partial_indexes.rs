//! The job queue's indexes, one per question the worker asks. Which queued jobs are due comes
//! from an index of queued jobs only, read in `run_at` order: a claimed or finished job leaves it,
//! and the ordered scan skips the entries of jobs claimed since the last vacuum (the bitmap scan
//! over `(state, run_at)` it replaces visited every one of them, which under load was most of the
//! cost of a claim). Whose lease ran out comes from an index of running jobs only.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "jobs_due_idx";
const QUEUED: &str = "jobs_queued_idx";
const LEASES: &str = "jobs_leases_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(QUEUED)
                    .table(Jobs::Table)
                    .col(Jobs::RunAt)
                    .col(Jobs::Id)
                    .and_where(Expr::col(Jobs::State).eq("queued"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LEASES)
                    .table(Jobs::Table)
                    .col(Jobs::LeaseUntil)
                    .and_where(Expr::col(Jobs::State).eq("running"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(OLD).table(Jobs::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::RunAt)
                    .to_owned(),
            )
            .await?;
        for name in [QUEUED, LEASES] {
            manager
                .drop_index(Index::drop().name(name).table(Jobs::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    State,
    RunAt,
    LeaseUntil,
}
