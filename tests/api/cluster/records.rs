//! What the run left in the operator's records: each email once in the mail directories (or
//! marked `unknown`), each scheduled slot's job once, and the bucket matching the rows that name
//! its objects after the orphan sweep.

use std::collections::{BTreeMap, BTreeSet};

use beebox::domain::application::ApplicationState;
use beebox::store::applications::event;
use beebox::store::department::result_file;
use beebox::store::documents::document_page;
use beebox::store::jobs::job;
use beebox::store::notifications::notification;
use beebox::store::pages::page;
use beebox::store::uploads::upload;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::checks::ids;
use super::run::Run;
use crate::support::cluster::Cluster;

/// Every message of every citizen event: one row per channel, and an email that was sent is in
/// exactly one instance's mail directory; one whose sending was cut off is `unknown`, never sent
/// twice.
pub async fn notifications(
    cluster: &Cluster,
    run: &Run,
    db: &DatabaseConnection,
) -> (usize, usize) {
    let ids = ids(run);
    let events = event::Entity::find()
        .filter(event::Column::ApplicationId.is_in(ids.clone()))
        .all(db)
        .await
        .unwrap();
    let rows = notification::Entity::find()
        .filter(notification::Column::ApplicationId.is_in(ids))
        .all(db)
        .await
        .unwrap();
    // An instance killed while writing one leaves a cut-off file (the dev file backend writes in
    // place): a message only once its headers are there.
    let mails: Vec<String> = cluster
        .mails()
        .into_iter()
        .filter(|m| m.contains("Message-ID:"))
        .collect();
    let mut seen = BTreeSet::new();
    let (mut sent, mut unknown, mut unknown_written) = (0, 0, 0);
    for row in rows.iter().filter(|r| r.channel == "email") {
        assert!(
            seen.insert(row.event_id),
            "two email rows for {}",
            row.event_id
        );
        let message_id = format!("<{}.email@beebox>", row.event_id);
        let copies = mails.iter().filter(|m| m.contains(&message_id)).count();
        match row.status.as_str() {
            "sent" => {
                assert_eq!(copies, 1, "{message_id} written {copies} times");
                sent += 1;
            }
            "unknown" => {
                assert!(copies <= 1, "{message_id} written {copies} times");
                unknown += 1;
                unknown_written += copies;
            }
            other => panic!("{message_id}: {other} ({:?})", row.detail),
        }
    }
    for event in &events {
        // A move into a state the citizen hears of (a step within one, such as the originals'
        // delivery to the centre, is not news).
        let moved = event.from_state.as_deref() != Some(event.to_state.as_str());
        let news = ApplicationState::parse(&event.to_state).and_then(|s| s.citizen_event());
        if moved && news.is_some() {
            assert!(seen.contains(&event.id), "no email for {event:?}");
        }
    }
    // No mail of anything else, nor a second copy of one.
    assert_eq!(mails.len(), sent + unknown_written, "mail files");
    (sent, unknown)
}

/// Every schedule's slot in the run has one job, and it ran; the reconciliation (every
/// `every` seconds) has no slot missing.
pub async fn schedule_slots(db: &DatabaseConnection, every: i64) -> usize {
    let jobs = job::Entity::find()
        .filter(job::Column::DedupeKey.like("schedule:%"))
        .all(db)
        .await
        .unwrap();
    let mut slots: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for job in &jobs {
        let key = job.dedupe_key.clone().unwrap();
        assert!(keys.insert(key.clone()), "{key} twice");
        let (kind, slot) = key["schedule:".len()..].rsplit_once(':').unwrap();
        slots
            .entry(kind.to_string())
            .or_default()
            .push(slot.parse().unwrap());
    }
    for job in &jobs {
        let key = job.dedupe_key.as_deref().unwrap();
        let (kind, slot) = key["schedule:".len()..].rsplit_once(':').unwrap();
        let latest = slots[kind].iter().max() == Some(&slot.parse().unwrap());
        // The current slot of a schedule may still be on its way.
        if !latest {
            assert_eq!(job.state, "done", "{key}: {job:?}");
        }
        assert_ne!(job.state, "dead", "{key}: {job:?}");
    }
    let mut reconcile = slots["reconcile_shipments"].clone();
    reconcile.sort();
    for pair in reconcile.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            every,
            "a reconciliation slot missing: {pair:?}"
        );
    }
    jobs.len()
}

/// No row without its object, and, once the orphan sweep ran past its grace, no object without
/// its row. Returns the objects counted.
pub async fn objects(cluster: &Cluster, db: &DatabaseConnection) -> usize {
    let mut named: BTreeSet<String> = BTreeSet::new();
    for p in page::Entity::find().all(db).await.unwrap() {
        named.insert(p.object_key);
        named.extend(p.thumbnail_key);
    }
    for p in document_page::Entity::find().all(db).await.unwrap() {
        named.insert(p.object_key);
        named.extend(p.thumbnail_key);
    }
    for r in result_file::Entity::find().all(db).await.unwrap() {
        named.insert(r.object_key);
    }
    let stored: BTreeSet<String> = cluster.object_keys("applications/").into_iter().collect();
    let missing: Vec<&String> = named.difference(&stored).collect();
    assert!(missing.is_empty(), "rows without their object: {missing:?}");
    let orphans: Vec<&String> = stored.difference(&named).collect();
    assert!(orphans.is_empty(), "objects without their row: {orphans:?}");
    let open: BTreeSet<String> = upload::Entity::find()
        .filter(upload::Column::SweptAt.is_null())
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.object_key)
        .collect();
    for staged in cluster.object_keys("uploads/") {
        assert!(
            open.contains(&staged),
            "staged {staged} without its open upload"
        );
    }
    stored.len()
}
