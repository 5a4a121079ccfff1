//! `kill -9` in the middle of 50 page uploads, then a restarted service's orphan sweep: every
//! object left in the store is one a page row names, and no temp file stays behind.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::binary::beebox_command;
use crate::support::cases::new_application;
use crate::support::pages::jpeg;
use crate::support::{fresh_database_url, spawn_app_on};

fn service(dir: &Path, url: &str, port: u16, objects: &Path) -> Child {
    beebox_command(dir)
        .env("BEEBOX_SERVER__PORT", port.to_string())
        .env("BEEBOX_DATABASE__URL", url)
        .env("BEEBOX_STORAGE__FS__ROOT", objects)
        .env("BEEBOX_LOG__FILTER", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the beebox binary starts")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_upload_leaves_nothing_the_sweep_does_not_remove() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let objects = dir.path().join("objects");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = service(dir.path(), &url, port, &objects);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the service never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login: serde_json::Value = client
        .post(format!("{base}/v1/auth/wechat"))
        .json(&serde_json::json!({ "code": "dev:crasher" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let created: serde_json::Value = client
        .post(format!("{base}/v1/applications"))
        .bearer_auth(&token)
        .json(&new_application("social-security-card-replacement"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..50u8 {
        let (client, base, token, id, done) = (
            client.clone(),
            base.clone(),
            token.clone(),
            id.clone(),
            done_tx.clone(),
        );
        tokio::spawn(async move {
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(jpeg(100 + i)).file_name("p.jpg"),
            );
            let sent = client
                .post(format!(
                    "{base}/v1/applications/{id}/materials/id-card/pages"
                ))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await;
            let _ = done.send(sent.is_ok());
        });
    }
    // Killed while uploads are still arriving.
    for _ in 0..5 {
        done_rx.recv().await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // A new instance on the same database and store sweeps with no grace period.
    let app = spawn_app_on(&url, |c| {
        // The killed instance's own disk: its keys, and the pages it had waiting.
        c.data_dir = dir.path().join("data");
        c.storage.fs.root = Some(objects.clone());
        c.storage.orphan_grace_secs = 0;
        c.jobs.worker = false;
    })
    .await;
    let db = app.state.database().unwrap();
    // The new instance makes the thumbnails the killed one had not: let it finish first, as
    // the sweep runs here with no grace period.
    let deadline = Instant::now() + Duration::from_secs(30);
    let pages = loop {
        let pages = beebox::store::pages::of_application(db, id.parse().unwrap())
            .await
            .unwrap();
        if pages.iter().all(|p| p.thumbnail_key.is_some()) {
            break pages;
        }
        assert!(Instant::now() < deadline, "thumbnails never made");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let named: HashSet<PathBuf> = pages
        .iter()
        .flat_map(|p| [Some(&p.object_key), p.thumbnail_key.as_ref()])
        .flatten()
        .map(|key| objects.join(key))
        .collect();
    let stored = files_under(&objects.join("applications"));
    let orphans_before = stored.iter().filter(|f| !named.contains(*f)).count();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    beebox::sweeps::sweep_orphan_objects(&app.state)
        .await
        .unwrap();
    let left: Vec<PathBuf> = files_under(&objects.join("applications"))
        .into_iter()
        .filter(|f| !named.contains(f))
        .collect();
    assert!(
        left.is_empty(),
        "{} of {} orphans left: {left:?}",
        left.len(),
        orphans_before
    );
    for page in &pages {
        assert!(
            objects.join(&page.object_key).exists(),
            "a page's object went"
        );
    }
    let temp = files_under(&objects.join(".tmp"));
    assert!(temp.is_empty(), "{temp:?}");
    let waiting = files_under(&dir.path().join("data").join("tmp"));
    assert!(waiting.is_empty(), "{waiting:?}");
}
