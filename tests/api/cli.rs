//! The `beebox` binary: configuration refusals, `check-config`, `migrate`, `catalog import`,
//! `openapi`.

use std::process::Output;

use crate::support::binary::{beebox, beebox_command};
use crate::support::cases::{VALID_ID, new_application};
use crate::support::fresh_database_url;
use crate::support::wechat::{APP_ID, APP_SECRET, SESSION_KEY, WechatServer};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn malformed_config_value_refuses_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = beebox(dir.path(), &["serve"], &[("BEEBOX_SERVER__PORT", "eighty")]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("server.port"), "{err}");
    assert!(err.contains("BEEBOX_SERVER__PORT"), "{err}");
}

#[test]
fn malformed_value_in_the_config_file_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("beebox.toml");
    std::fs::write(&file, "[storage]\nbackend = \"ftp\"\n").unwrap();
    let output = beebox(
        dir.path(),
        &["check-config", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("storage.backend"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_setting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[("BEEBOX_SERVER__PROT", "1")],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("prot"), "{}", stderr(&output));
}

#[test]
fn push_writers_outside_their_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for writers in ["0", "65"] {
        let output = beebox(
            dir.path(),
            &["check-config"],
            &[("BEEBOX_COURIER__PUSH_WRITERS", writers)],
        );
        assert_eq!(
            output.status.code(),
            Some(2),
            "{writers}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("courier.push_writers"),
            "{}",
            stderr(&output)
        );
    }
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[("BEEBOX_COURIER__PUSH_WRITERS", "16")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn prod_with_dev_defaults_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let output = beebox(dir.path(), &["serve"], &[("BEEBOX_PROFILE", "prod")]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    for key in [
        "database.url",
        "storage.backend",
        "keys.jwt_private_key",
        "keys.url_signing_key",
        "keys.data_encryption_key",
        "server.public_url",
        "wechat.app_id",
        "mail.backend",
        "courier.sf.api_base",
        "courier.sf.check_word",
        "ops.token",
    ] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    // Refused before anything was created.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn prod_refuses_an_explicit_sample_catalogue_too() {
    let dir = tempfile::tempdir().unwrap();
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[
            ("BEEBOX_PROFILE", "prod"),
            ("BEEBOX_CATALOG__SEED_ON_EMPTY", "true"),
        ],
    );
    assert!(stderr(&output).contains("catalog.seed_on_empty"));
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("beebox.toml");
    std::fs::write(
        &file,
        "[server]\nport = 9000\n[storage.s3]\nbucket = \"from-file\"\n",
    )
    .unwrap();
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[
            ("BEEBOX_CONFIG", file.to_str().unwrap()),
            ("BEEBOX_STORAGE__S3__BUCKET", "from-env"),
            ("BEEBOX_STORAGE__S3__SECRET_ACCESS_KEY", "very-secret-value"),
            ("BEEBOX_STORAGE__S3__ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "BEEBOX_DATABASE__URL",
                "postgres://u:db-password@localhost/b",
            ),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("port = 9000"), "file value applies: {out}");
    assert!(
        out.contains("bucket = \"from-env\""),
        "env beats file: {out}"
    );
    assert!(!out.contains("very-secret-value"));
    assert!(!out.contains("db-password"));
    assert!(out.contains("[redacted]"));
}

#[test]
fn prod_starts_checking_with_everything_set() {
    let dir = tempfile::tempdir().unwrap();
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFTgKGYKHtwqnzhNr9nm7dapJGHRIK9O+amHorS3CmFE\n-----END PRIVATE KEY-----\n";
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[
            ("BEEBOX_PROFILE", "prod"),
            ("BEEBOX_DATABASE__URL", "postgres://beebox@db/beebox"),
            ("BEEBOX_STORAGE__BACKEND", "s3"),
            ("BEEBOX_STORAGE__S3__BUCKET", "beebox"),
            ("BEEBOX_KEYS__JWT_PRIVATE_KEY", pem),
            (
                "BEEBOX_KEYS__URL_SIGNING_KEY",
                "0123456789abcdef0123456789abcdef",
            ),
            ("BEEBOX_SERVER__PUBLIC_URL", "https://beebox.example.gov.cn"),
            (
                "BEEBOX_KEYS__DATA_ENCRYPTION_KEY",
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            ),
            ("BEEBOX_WECHAT__APP_ID", "wx0123456789abcdef"),
            ("BEEBOX_WECHAT__APP_SECRET", "app-secret"),
            ("BEEBOX_MAIL__BACKEND", "smtp"),
            ("BEEBOX_MAIL__SMTP__HOST", "smtp.example.gov.cn"),
            (
                "BEEBOX_COURIER__SF__API_BASE",
                "https://sfapi.sf-express.com/std/service",
            ),
            ("BEEBOX_COURIER__SF__PARTNER_ID", "GOV0571"),
            ("BEEBOX_COURIER__SF__CHECK_WORD", "check-word"),
            ("BEEBOX_COURIER__SF__WEBHOOK_SECRET", "webhook-secret"),
            ("BEEBOX_OPS__METRICS_LISTEN", "127.0.0.1:9090"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn openapi_command_prints_the_committed_contract() {
    let dir = tempfile::tempdir().unwrap();
    let output = beebox(dir.path(), &["openapi"], &[]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        include_str!("../../openapi/beebox.yaml")
    );
}

#[tokio::test]
async fn migrate_then_catalog_import_reports_created_and_updated() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let env = [("BEEBOX_DATABASE__URL", url.as_str())];
    let output = beebox(dir.path(), &["migrate"], &env);
    assert!(output.status.success(), "{}", stderr(&output));

    let file = dir.path().join("matters.toml");
    std::fs::write(&file, beebox::startup::SAMPLE_CATALOG).unwrap();
    let output = beebox(
        dir.path(),
        &["catalog", "import", file.to_str().unwrap()],
        &env,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("13 created, 0 updated"), "{out}");
    assert!(
        out.contains("bundles: 2 created, 0 updated, 0 unchanged"),
        "{out}"
    );

    let changed =
        beebox::startup::SAMPLE_CATALOG.replacen("processing_days = 5", "processing_days = 6", 1);
    std::fs::write(&file, changed).unwrap();
    let output = beebox(
        dir.path(),
        &["catalog", "import", file.to_str().unwrap()],
        &env,
    );
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.contains("0 created, 1 updated (new version), 12 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("bundles: 0 created, 0 updated, 2 unchanged"),
        "{out}"
    );

    std::fs::write(&file, "[[matter]]\ncode = \"X\"\n").unwrap();
    let output = beebox(
        dir.path(),
        &["catalog", "import", file.to_str().unwrap()],
        &env,
    );
    assert!(!output.status.success());
}

/// Runs the real binary with debug logging through a login and an application with a phone and
/// an ID number, then reads every log line it wrote.
#[tokio::test]
async fn logs_never_hold_tokens_phones_id_numbers_or_session_keys() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let wechat = WechatServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = beebox_command(dir.path())
        .env("BEEBOX_SERVER__PORT", "0")
        .env("BEEBOX_LOG__FORMAT", "json")
        .env("BEEBOX_LOG__FILTER", "debug")
        .env("BEEBOX_WECHAT__API_BASE", &wechat.base)
        .env("BEEBOX_WECHAT__APP_ID", APP_ID)
        .env("BEEBOX_WECHAT__APP_SECRET", APP_SECRET)
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut logs = Vec::new();
    let port = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the service logs that it listens");
        let parsed: Option<serde_json::Value> = serde_json::from_str(&line).ok();
        logs.push(line);
        if let Some(addr) = parsed.as_ref().and_then(|v| v["addr"].as_str())
            && let Some((_, port)) = addr.rsplit_once(':')
        {
            break port.to_string();
        }
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pair: serde_json::Value = client
        .post(format!("{base}/v1/auth/wechat"))
        .json(&serde_json::json!({"code": "ok-logcheck"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = pair["access_token"].as_str().unwrap().to_string();
    let refresh = pair["refresh_token"].as_str().unwrap().to_string();
    let created = client
        .post(format!("{base}/v1/applications"))
        .bearer_auth(&access)
        .json(&new_application("elderly-preferential-card"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // A failing request too: errors are where secrets tend to leak.
    client
        .post(format!("{base}/v1/applications"))
        .bearer_auth(format!("{access}x"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/v1/auth/refresh"))
        .json(&serde_json::json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    logs.extend(rx.try_iter());
    let all = logs.join("\n");
    assert!(
        all.contains("request finished"),
        "request logs are written: {all}"
    );
    for secret in [
        access.as_str(),
        refresh.as_str(),
        "13800138000",
        VALID_ID,
        "19491231",
        SESSION_KEY,
        APP_SECRET,
        "ok-logcheck",
    ] {
        assert!(!all.contains(secret), "the logs contain {secret}");
    }
}

#[test]
fn a_rate_limit_without_a_burst_and_a_tiny_push_window_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[
            ("BEEBOX_RATE_LIMITS__APPLICATIONS_PER_CITIZEN__BURST", "0"),
            ("BEEBOX_COURIER__SF__PUSH_MAX_AGE_SECS", "5"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("rate_limits.applications_per_citizen.burst"),
        "{err}"
    );
    assert!(err.contains("courier.sf.push_max_age_secs"), "{err}");
    // Both at 0 is a limit turned off.
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[
            ("BEEBOX_RATE_LIMITS__APPLICATIONS_PER_CITIZEN__BURST", "0"),
            (
                "BEEBOX_RATE_LIMITS__APPLICATIONS_PER_CITIZEN__PER_MINUTE",
                "0",
            ),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Giving one of the two keeps the other's default.
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[("BEEBOX_RATE_LIMITS__APPLICATIONS_PER_CITIZEN__BURST", "5")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("[rate_limits.applications_per_citizen]\nper_minute = 30\nburst = 5"),
        "{printed}"
    );
}

#[test]
fn an_unknown_courier_partner_or_a_default_not_enabled_refuses_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("beebox.toml");
    let cases = [
        (
            "[courier]\npartners = [\"sf\", \"dhl\"]\n",
            "courier.partners",
            "`dhl` is not a partner",
        ),
        (
            "[courier]\npartners = [\"sf\"]\ndefault_partner = \"ems\"\n",
            "courier.default_partner",
            "`ems` is not enabled",
        ),
        (
            "[courier]\npartners = [\"ems\"]\n",
            "courier.default_partner",
            "`sf` is not enabled",
        ),
        (
            "[courier]\npartners = []\n",
            "courier.partners",
            "name at least one partner",
        ),
        (
            "[courier]\npartners = [\"ems\"]\ndefault_partner = \"ems\"\n[courier.ems]\nsign_key = \"c2hvcnQ=\"\n",
            "courier.ems.sign_key",
            "16-byte SM4 key",
        ),
    ];
    for (text, key, says) in cases {
        std::fs::write(&file, text).unwrap();
        let output = beebox(
            dir.path(),
            &["serve", "--config", file.to_str().unwrap()],
            &[],
        );
        assert_eq!(output.status.code(), Some(2), "{text}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(err.contains(key) && err.contains(says), "{text}: {err}");
    }
    // Both enabled, EMS the default, and the old key `courier.partner` still read.
    std::fs::write(
        &file,
        "[courier]\npartners = [\"sf\", \"ems\"]\npartner = \"ems\"\n",
    )
    .unwrap();
    let output = beebox(
        dir.path(),
        &["check-config", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("default_partner = \"ems\""), "{printed}");
}

#[test]
fn prod_refuses_an_enabled_partners_simulator_and_names_each_missing_credential() {
    let dir = tempfile::tempdir().unwrap();
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[
            ("BEEBOX_PROFILE", "prod"),
            ("BEEBOX_COURIER__PARTNERS", "[\"sf\", \"ems\"]"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    for key in [
        "courier.ems.api_base",
        "courier.ems.sender_no",
        "courier.ems.authorization",
        "courier.ems.sign_key",
        "courier.ems.webhook_secret",
    ] {
        assert!(err.contains(key), "{key}: {err}");
    }
}
