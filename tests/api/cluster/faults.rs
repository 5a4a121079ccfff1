//! The faults of the cluster run: instance 2 killed (SIGKILL) mid-run and started again, then
//! instance 3 stopped (SIGTERM) with uploads on their way to it, which it must answer before it
//! goes, handing back the jobs it held.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::CITIZENS;
use super::run::Run;
use crate::support::cluster::Cluster;
use crate::support::pages::jpeg;
use crate::support::wait::poll;

/// What the faults cost the clients: retries while instance 2 was down, and while instance 3
/// drained (uploads in flight to it).
pub struct Faults {
    pub retries_after_kill: usize,
    pub drained: usize,
    pub retries_in_drain: usize,
}

/// Mid-run, instance 2 is killed (SIGKILL) and started again; later instance 3 is stopped
/// (SIGTERM) while uploads sent straight to it are on their way: they must all be answered, and
/// its worker must hand back what it held.
pub async fn faults(
    cluster: &Cluster,
    run: &Run,
    db: &DatabaseConnection,
    slow: &[(String, String)],
) -> Faults {
    let submitted = |n: usize| async move {
        while run.submitted.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    submitted(CITIZENS / 4).await;
    let before = run.client.retries().0;
    cluster.signal(2, "KILL");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.restart(2).await;
    let retries_after_kill = run.client.retries().0 - before;

    submitted(CITIZENS / 2).await;
    let pid = cluster.pid(3);
    let base = cluster.instance_url(3);
    let sending = AtomicUsize::new(0);
    let uploads = slow
        .iter()
        .enumerate()
        .map(|(k, (token, id))| slow_upload(&base, token, id, jpeg(200 + k as u8), &sending));
    let before = run.client.retries().0;
    let stop = async {
        // Every upload is under way and has had time to be read as a request: the instance
        // drains requests it has begun. (A connection it has not yet read from is closed, as
        // hyper's HTTP/1 graceful shutdown does, and its client sees a reset: behind the
        // balancer, a 502 to retry.)
        while sending.load(Ordering::SeqCst) < slow.len() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        cluster.signal(3, "TERM");
    };
    let (answers, ()) = tokio::join!(futures_util::future::join_all(uploads), stop);
    for answer in &answers {
        assert_eq!(
            answer.as_ref().map(|(s, _)| *s).ok(),
            Some(201),
            "{answer:?}"
        );
    }
    let stopped = poll(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            if Cluster::running(pid) {
                Err(())
            } else {
                Ok(())
            }
        },
    )
    .await;
    assert!(stopped.is_ok(), "instance 3 did not stop within its grace");
    let retries_in_drain = run.client.retries().0 - before;
    let log = cluster.log(3);
    assert!(
        log.contains("job worker stopped"),
        "instance 3's worker:\n{log}"
    );
    let held = beebox::store::jobs::job::Entity::find()
        .filter(beebox::store::jobs::job::Column::State.eq("running"))
        .filter(beebox::store::jobs::job::Column::LockedBy.like(format!("%-{pid}-%")))
        .all(db)
        .await
        .unwrap();
    assert!(held.is_empty(), "jobs instance 3 kept: {held:?}");
    Faults {
        retries_after_kill,
        drained: answers.len(),
        retries_in_drain,
    }
}

/// A page sent straight to one instance, its body trickling out over about a second and a half,
/// on a connection the instance has served already; `sending` counts the uploads under way (the
/// first bytes out).
async fn slow_upload(
    base: &str,
    token: &str,
    id: &str,
    bytes: Vec<u8>,
    sending: &AtomicUsize,
) -> Result<(u16, String), String> {
    let len = bytes.len() as u64;
    let chunks: Vec<(usize, bytes::Bytes)> = bytes
        .chunks(bytes.len().div_ceil(6))
        .map(bytes::Bytes::copy_from_slice)
        .enumerate()
        .collect();
    let (first, rest) = tokio::sync::oneshot::channel::<()>();
    let mut first = Some(first);
    let body = futures_util::stream::iter(chunks).then(move |(n, chunk)| {
        if n == 1
            && let Some(first) = first.take()
        {
            first.send(()).ok();
        }
        async move {
            if n > 0 {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok::<_, std::io::Error>(chunk)
        }
    });
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), len)
        .file_name("slow.jpg");
    let form = reqwest::multipart::Form::new().part("file", part);
    // A connection the instance accepted and reads from (the upload takes it from the pool).
    let http = reqwest::Client::new();
    let warm = http.get(format!("{base}/healthz")).send().await;
    assert_eq!(warm.map(|r| r.status().as_u16()).ok(), Some(200));
    let send = http
        .post(format!(
            "{base}/v1/applications/{id}/materials/id-card/pages"
        ))
        .bearer_auth(token)
        .multipart(form)
        .send();
    let under_way = async {
        // The second chunk is asked for once the first went out on the connection.
        if rest.await.is_ok() {
            sending.fetch_add(1, Ordering::SeqCst);
        }
    };
    let (response, ()) = tokio::join!(send, under_way);
    let response = response.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.unwrap_or_default()))
}
