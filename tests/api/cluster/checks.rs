//! What the cluster run must have left, read as a client reads it (the API through the load
//! balancer) and as an operator does (the database, the courier simulator's record); the mail,
//! job and object records are in `records`. Each check names what went wrong and where.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use beebox::store::applications::application;
use beebox::store::jobs::job;
use beebox::store::pages::page;
use beebox::store::shipments::shipment;
use beebox::store::{decisions, department};
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use super::run::{Plan, Run, pages_of};
use crate::support::cases::ELDERLY_CARD;
use crate::support::cluster::Cluster;
use crate::support::wait::poll;

/// The ids of the run's cases.
pub fn ids(run: &Run) -> Vec<Uuid> {
    run.cases
        .lock()
        .unwrap()
        .keys()
        .map(|id| id.parse().unwrap())
        .collect()
}

/// Waits until every case reached its final state, every page has its thumbnail and no job but
/// the schedules' is left to run: what the run's background work owes.
pub async fn settle(run: &Run, db: &DatabaseConnection) {
    let cases = run.cases.lock().unwrap().clone();
    let ids = ids(run);
    let settled = poll(Duration::from_secs(180), Duration::from_secs(1), || async {
        let rows = application::Entity::find()
            .filter(application::Column::Id.is_in(ids.clone()))
            .all(db)
            .await
            .unwrap();
        let behind: Vec<String> = rows
            .iter()
            .filter(|a| a.state != cases[&a.id.to_string()].final_state())
            .map(|a| format!("{} {}", a.id, a.state))
            .collect();
        let unthumbed = page::Entity::find()
            .filter(page::Column::ThumbnailKey.is_null())
            .all(db)
            .await
            .unwrap()
            .len();
        let due: Vec<String> = job::Entity::find()
            .filter(job::Column::State.is_in(["queued", "running"]))
            .filter(job::Column::RunAt.lte(chrono::Utc::now()))
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| {
                !j.dedupe_key
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("schedule:")
            })
            .map(|j| format!("{} {}", j.kind, j.state))
            .collect();
        if behind.is_empty() && unthumbed == 0 && due.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} cases behind ({:?}), {unthumbed} pages without thumbnail, jobs due {due:?}",
                behind.len(),
                &behind[..behind.len().min(5)]
            ))
        }
    })
    .await;
    if let Err(what) = settled {
        panic!("the run never settled: {what}");
    }
}

/// Every case as its citizen reads it: the final state, each page once, each action once, the
/// courier legs delivered with each step once, and one application per citizen however often
/// the creation was sent.
pub async fn cases_as_citizens_see_them(run: &Run) {
    let cases = run.cases.lock().unwrap().clone();
    futures_util::stream::iter(cases.iter())
        .for_each_concurrent(16, |(id, case)| async move {
            let client = &run.client;
            let view = client
                .get(&case.token, &format!("/v1/applications/{id}"))
                .await;
            assert_eq!(
                view.body["state"],
                case.final_state(),
                "{id}: {}",
                view.body
            );
            let mut pages: BTreeMap<String, usize> = BTreeMap::new();
            for material in view.body["materials"].as_array().unwrap() {
                let n = material["pages"].as_array().map_or(0, Vec::len);
                if n > 0 {
                    pages.insert(material["code"].as_str().unwrap().to_string(), n);
                }
            }
            let mut wanted: BTreeMap<String, usize> = BTreeMap::new();
            for m in pages_of(case.item) {
                *wanted.entry(m.to_string()).or_default() += 1;
            }
            assert_eq!(pages, wanted, "{id}: pages");

            let mine = client.get(&case.token, "/v1/applications").await;
            let mine = mine.body["items"].as_array().unwrap().len();
            assert_eq!(mine, 1, "citizen {} has {mine} applications", case.citizen);

            let events = client
                .get(&case.token, &format!("/v1/applications/{id}/events"))
                .await;
            let actions: Vec<&str> = events.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap())
                .collect();
            let unique: BTreeSet<&str> = actions.iter().copied().collect();
            assert_eq!(
                unique.len(),
                actions.len(),
                "{id}: an action twice: {actions:?}"
            );
            assert_eq!(&actions[..2], ["create", "submit"], "{id}: {actions:?}");

            let legs = client
                .get(&case.token, &format!("/v1/applications/{id}/shipments"))
                .await;
            let legs = legs.body["items"].as_array().unwrap().clone();
            let wanted: &[&str] = match (case.plan, case.item) {
                (Plan::Approve, ELDERLY_CARD) => &["materials", "result"],
                (Plan::Approve, _) => &["result"],
                _ => &[],
            };
            let kinds: Vec<&str> = legs.iter().map(|l| l["leg"].as_str().unwrap()).collect();
            assert_eq!(kinds, wanted, "{id}: legs");
            for leg in &legs {
                assert_eq!(leg["status"], "delivered", "{id}: {leg}");
                // The simulator's five steps, each once however often it was pushed.
                let steps: Vec<&str> = leg["timeline"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["op_code"].as_str().unwrap())
                    .collect();
                let unique: BTreeSet<&str> = steps.iter().copied().collect();
                assert_eq!((unique.len(), steps.len()), (5, 5), "{id}: steps {steps:?}");
            }

            let sent = client
                .get(&case.token, &format!("/v1/applications/{id}/notifications"))
                .await;
            // Email goes to the address on the application; WeChat has no template here.
            for n in sent.body["items"].as_array().unwrap() {
                let fine = match n["channel"].as_str().unwrap() {
                    "email" => n["status"] == "sent" || n["status"] == "unknown",
                    _ => n["status"] == "skipped",
                };
                assert!(fine, "{id}: {n}");
            }
        })
        .await;
}

/// Every decision made once, by the reviewer who alone claimed the case, and in the audit log:
/// claims, review and department decisions and receipts, one successful record each.
pub async fn decisions_and_audit(
    run: &Run,
    db: &DatabaseConnection,
    admin: &str,
    reviewers: &HashMap<Uuid, usize>,
) {
    let cases = run.cases.lock().unwrap().clone();
    // The client's view: no case handed to two reviewers.
    let mut holders: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for (r, id) in run.claims.lock().unwrap().iter() {
        holders.entry(id.clone()).or_default().insert(*r);
    }
    for (id, who) in &holders {
        assert_eq!(who.len(), 1, "{id} claimed by reviewers {who:?}");
    }
    assert_eq!(holders.len(), cases.len(), "every case claimed");

    let claims = audit(run, admin, "review.claim").await;
    let reviews = audit(run, admin, "review.decision").await;
    for (id, case) in &cases {
        let uid: Uuid = id.parse().unwrap();
        let claimers: BTreeSet<Uuid> = claims
            .iter()
            .filter(|e| e["target_id"] == id.as_str())
            .map(|e| e["actor_id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(claimers.len(), 1, "{id}: claimed by {claimers:?} (audit)");
        let claimer = *claimers.iter().next().unwrap();
        let holder = holders[id].iter().next().copied();
        assert_eq!(reviewers.get(&claimer).copied(), holder, "{id}: claimer");

        let made = decisions::decision::Entity::find()
            .filter(decisions::decision::Column::ApplicationId.eq(uid))
            .all(db)
            .await
            .unwrap();
        assert_eq!(made.len(), 1, "{id}: {} review decisions", made.len());
        assert_eq!(made[0].reviewer_id, claimer, "{id}: decided by another");
        let audited = reviews
            .iter()
            .filter(|e| e["target_id"] == id.as_str() && e["outcome"] == "success")
            .count();
        assert_eq!(audited, 1, "{id}: {audited} audited review decisions");

        if case.plan == Plan::Approve {
            let made = department::decision::Entity::find()
                .filter(department::decision::Column::ApplicationId.eq(uid))
                .all(db)
                .await
                .unwrap();
            assert_eq!(made.len(), 1, "{id}: {} department decisions", made.len());
        }
    }
    for (action, wanted) in [
        ("department.decide", run.count(Some(Plan::Approve), None)),
        (
            "reception.receive",
            run.count(Some(Plan::Approve), Some(ELDERLY_CARD)),
        ),
    ] {
        let records = audit(run, admin, action).await;
        let targets: Vec<&str> = records
            .iter()
            .filter(|e| e["outcome"] == "success")
            .map(|e| e["target_id"].as_str().unwrap())
            .collect();
        let unique: BTreeSet<&str> = targets.iter().copied().collect();
        assert_eq!(unique.len(), targets.len(), "{action}: a case twice");
        assert_eq!(targets.len(), wanted, "{action}: records");
    }
}

/// Every audit record of `action`, all pages.
async fn audit(run: &Run, admin: &str, action: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/v1/admin/audit?action={action}&limit=500{cursor}");
        let page = run.client.get(admin, &path).await;
        page.expect("audit", 200, &[]);
        all.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

/// One partner order per courier leg, each delivered, whatever the retries and crashes; the
/// simulator pushed every step twice.
pub async fn partner_orders(cluster: &Cluster, run: &Run, db: &DatabaseConnection) {
    let sim: Value = run
        .client
        .http
        .get(cluster.sim_control())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let orders = sim["orders"].as_array().unwrap();
    let legs = shipment::Entity::find().all(db).await.unwrap();
    let wanted =
        run.count(Some(Plan::Approve), None) + run.count(Some(Plan::Approve), Some(ELDERLY_CARD));
    assert_eq!(legs.len(), wanted, "courier legs");
    let order_ids: BTreeSet<&str> = orders
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order_ids.len(),
        orders.len(),
        "an order id twice at the partner"
    );
    assert_eq!(orders.len(), legs.len(), "partner orders per leg");
    let mut per_case: BTreeSet<(Uuid, String)> = BTreeSet::new();
    for leg in &legs {
        assert!(
            per_case.insert((leg.application_id, leg.leg.clone())),
            "{leg:?}"
        );
        let order = orders
            .iter()
            .find(|o| o["order_id"] == leg.order_id.as_str())
            .unwrap_or_else(|| panic!("no partner order for {leg:?}"));
        assert_eq!(order["waybill_no"].as_str(), leg.waybill_no.as_deref());
        assert_eq!(order["cancelled"], false, "{order}");
        assert_eq!(order["steps_done"], 5, "{order}");
        assert_eq!(leg.status, "delivered", "{leg:?}");
    }
    let pushes = sim["pushes"].as_array().unwrap();
    let first_tries = pushes.iter().filter(|p| p["attempt"] == 1).count();
    assert!(
        first_tries >= legs.len() * 5 * 2,
        "every step pushed twice: {first_tries} pushes for {} legs",
        legs.len()
    );
}
