//! The staff login throttle: one row per (username, client address) and one per username with
//! the address `*` (every address together). An attempt is counted *before* its password is
//! checked, in one atomic upsert, so a burst of parallel guesses gets no more checks than a
//! sequence of them. Never holds passwords, only names and addresses.

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{Condition, ConnectionTrait, DbBackend, Value};

/// The client address of the per-username row.
pub const EVERYWHERE: &str = "*";

pub mod attempt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_attempts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub username: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_ip: String,
        /// Attempts in the current window, the one being made included.
        pub failures: i32,
        pub last_failure_at: DateTimeUtc,
        pub locked_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What counting one attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// This attempt's place in the window: 1 for the first.
    pub attempt: i32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Counted {
    /// The attempt may have its password checked: it is within the allowance.
    pub fn allowed(&self, limit: u32) -> bool {
        self.attempt <= limit as i32
    }
}

/// Counts one attempt on `(username, client_ip)`. The `limit`-th attempt of a window sets the
/// lock (`lock_for`); attempts past it are counted but do not extend it. A window ends when
/// its lock has run out, or `lock_for` after the last attempt if it never locked.
pub async fn count<C: ConnectionTrait>(
    db: &C,
    username: &str,
    client_ip: &str,
    now: DateTime<Utc>,
    limit: u32,
    lock_for: Duration,
) -> Result<Counted, DbErr> {
    let until = now + lock_for;
    let first_lock: Option<DateTime<Utc>> = (limit <= 1).then_some(until);
    // In both databases SET expressions see the row as it was before this statement.
    let backend = db.get_database_backend();
    let fresh = "((login_attempts.locked_until IS NOT NULL AND login_attempts.locked_until <= ?) \
                 OR (login_attempts.locked_until IS NULL AND login_attempts.last_failure_at <= ?))";
    let failures = Expr::cust_with_values(
        placeholders(
            backend,
            &format!("CASE WHEN {fresh} THEN 1 ELSE login_attempts.failures + 1 END"),
        ),
        [Value::from(now), Value::from(now - lock_for)],
    );
    let locked_until = Expr::cust_with_values(
        placeholders(
            backend,
            &format!(
                "CASE WHEN {fresh} THEN ? \
                 WHEN login_attempts.locked_until IS NOT NULL THEN login_attempts.locked_until \
                 WHEN login_attempts.failures + 1 >= ? THEN ? ELSE NULL END"
            ),
        ),
        [
            Value::from(now),
            Value::from(now - lock_for),
            Value::from(first_lock),
            Value::from(limit as i32),
            Value::from(until),
        ],
    );
    let insert = Query::insert()
        .into_table(attempt::Entity)
        .columns([
            attempt::Column::Username,
            attempt::Column::ClientIp,
            attempt::Column::Failures,
            attempt::Column::LastFailureAt,
            attempt::Column::LockedUntil,
        ])
        .values_panic([
            username.into(),
            client_ip.into(),
            1i32.into(),
            now.into(),
            first_lock.into(),
        ])
        .on_conflict(
            OnConflict::columns([attempt::Column::Username, attempt::Column::ClientIp])
                .value(attempt::Column::Failures, failures)
                .value(attempt::Column::LockedUntil, locked_until)
                .value(attempt::Column::LastFailureAt, Expr::value(now))
                .to_owned(),
        )
        .returning(
            Query::returning().columns([attempt::Column::Failures, attempt::Column::LockedUntil]),
        )
        .to_owned();
    let statement = backend.build(&insert);
    let row = db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the upsert returned no row".into()))?;
    Ok(Counted {
        attempt: row.try_get("", "failures")?,
        locked_until: row.try_get("", "locked_until")?,
    })
}

/// A custom expression's placeholders, one value each in order: `?` for SQLite (where numbered
/// ones get mixed up with the statement's other `?`), `$1`, `$2`, ... for PostgreSQL (where `?`
/// is an operator).
fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_string();
    }
    let mut n = 0;
    sql.chars()
        .map(|c| match c {
            '?' => {
                n += 1;
                format!("${n}")
            }
            c => c.to_string(),
        })
        .collect()
}

/// Forgets the attempts of a username from one address, or from everywhere with `None`.
pub async fn clear<C: ConnectionTrait>(
    db: &C,
    username: &str,
    client_ip: Option<&str>,
) -> Result<u64, DbErr> {
    let mut delete = attempt::Entity::delete_many().filter(attempt::Column::Username.eq(username));
    if let Some(ip) = client_ip {
        delete = delete.filter(attempt::Column::ClientIp.eq(ip));
    }
    Ok(delete.exec(db).await?.rows_affected)
}

/// Rows whose window is over: nothing to remember any more.
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    older_than: Duration,
) -> Result<u64, DbErr> {
    let result = attempt::Entity::delete_many()
        .filter(attempt::Column::LastFailureAt.lt(now - older_than))
        .filter(
            Condition::any()
                .add(attempt::Column::LockedUntil.is_null())
                .add(attempt::Column::LockedUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
