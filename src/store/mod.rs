//! The database: one sea-orm connection pool over SQLite (embedded default) or PostgreSQL, the
//! schema from the `migrations` crate, and one query module per aggregate.

pub mod applications;
pub mod audit;
pub mod authorizations;
pub mod box_runs;
pub mod catalog;
pub mod citizens;
pub mod claims;
pub mod decisions;
pub mod department;
pub mod dispatch;
pub mod documents;
pub mod filings;
pub mod idempotency;
pub mod jobs;
pub mod login_attempts;
pub mod notifications;
pub mod object_refs;
pub mod outbox;
pub mod pages;
pub mod retention;
pub mod route_writes;
pub mod service_points;
pub mod sessions;
pub mod shipments;
pub mod staff;
pub mod stats;
pub mod subscriptions;
pub mod uploads;
pub mod wechat_tokens;

use std::path::Path;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{CommonTableExpression, Expr, InsertStatement, Query, WithClause};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::config::DatabaseConfig;

/// The database is still connecting or migrating: start-up makes the pool after the service
/// is listening, so a request may come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the database is not ready yet")]
pub struct DatabaseNotReady;

/// Opens the pool. SQLite runs in WAL mode with a busy timeout and foreign keys on.
pub async fn connect(config: &DatabaseConfig, url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(url)
        && let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", parent.display())))?;
    }
    let busy_timeout = Duration::from_millis(config.sqlite_busy_timeout_ms);
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        // Statements are logged by our own spans; sqlx's logging could echo values.
        .sqlx_logging(false)
        // sqlx pings every connection it hands out by default: a round trip more per
        // transaction. Only a connection idle long enough to have been dropped is pinged.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// `sqlite://data/x.sqlite?mode=rwc` -> `data/x.sqlite`; `None` for other databases and memory.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so a transaction that reads
/// first and writes later cannot fail with SQLITE_BUSY half-way.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Runs INSERTs that do not depend on one another: on PostgreSQL as one statement, each a
/// data-modifying `WITH` query, so that a change and what it causes (its event, the citizen's
/// notifications, their send jobs) cost one round trip; elsewhere one after the other.
pub async fn insert_all<C: ConnectionTrait>(
    db: &C,
    inserts: Vec<InsertStatement>,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres || inserts.len() < 2 {
        for insert in &inserts {
            db.execute(insert).await?;
        }
        return Ok(());
    }
    let mut with = WithClause::new();
    for (i, insert) in inserts.into_iter().enumerate() {
        with.cte(
            CommonTableExpression::new()
                .query(insert)
                .table_name(format!("insert_{i}"))
                .to_owned(),
        );
    }
    // Every data-modifying WITH query runs, whether or not the main query reads it.
    let statement = with.query(Query::select().expr(Expr::val(1)).to_owned());
    db.execute(&statement).await?;
    Ok(())
}

/// Applies pending migrations in one transaction. On PostgreSQL an advisory lock makes instances
/// that start together take turns; the later ones then find nothing to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7262003)")
            .await?;
    }
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// Connections in use and idle, for `/metrics`.
pub fn pool_usage(db: &DatabaseConnection) -> (u32, u32) {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        _ => (0, 0),
    }
}

/// What a failed connection attempt looks like in a log line or `/readyz`: the kind of failure,
/// never the URL (it may hold a password).
pub fn describe_error(error: &DbErr) -> String {
    let text = error.to_string();
    text.chars().take(300).collect()
}

/// Whether `error` says the database cannot be reached just now (no connection, a connection
/// cut, the server shutting down or starting: SQLSTATE classes 08 and 57), rather than that a
/// statement failed: a client should retry the former shortly.
pub fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        // The server went away mid-message.
        Sqlx::Protocol(_) => true,
        _ => false,
    }
}

/// A write's failure, with the one the caller acts on named: a unique index refusing a second
/// row, which is a retry or a race that another transaction won.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with the same key exists already")]
    Conflict,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl StoreError {
    fn from_db(error: DbErr) -> Self {
        match error.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Self::Conflict,
            _ => Self::Db(error),
        }
    }
}

/// A write whose unique violation the caller answers: `Conflict` instead of a database error.
pub fn unique<T>(result: Result<T, DbErr>) -> Result<T, StoreError> {
    result.map_err(StoreError::from_db)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lost_connection_is_unavailable_and_a_failed_statement_is_not() {
        use std::sync::Arc;

        use sea_orm::sqlx::Error as Sqlx;
        use sea_orm::{DbErr, RuntimeErr};
        let query = |e: Sqlx| DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)));
        assert!(super::is_unavailable(&query(Sqlx::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset)
        ))));
        assert!(super::is_unavailable(&query(Sqlx::PoolTimedOut)));
        assert!(!super::is_unavailable(&query(Sqlx::RowNotFound)));
        assert!(!super::is_unavailable(&DbErr::Custom("no".into())));
    }

    use super::sqlite_path;

    #[test]
    fn finds_the_sqlite_file_in_a_url() {
        assert_eq!(
            sqlite_path("sqlite://data/b.sqlite?mode=rwc"),
            Some("data/b.sqlite")
        );
        assert_eq!(sqlite_path("sqlite:/tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://localhost/b"), None);
    }
}
