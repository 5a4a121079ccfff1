//! The SMTP peer (maildev, started by `scripts/peers.sh`): where it listens, and what it holds.
//! maildev keeps every message it ever got, so each test sends to an address of its own and
//! reads back only what went there.

use std::time::Duration;

use beebox::config::{Config, MailBackend, SmtpTls};
use serde_json::Value;

use super::wait::poll;

const START_THE_PEER: &str = "start the SMTP peer with scripts/peers.sh, or run scripts/test.sh";

/// The SMTP test peer's host and port, from `BEEBOX_TEST_SMTP` (`127.0.0.1:2525`).
pub fn smtp_peer() -> (String, u16) {
    let value = std::env::var("BEEBOX_TEST_SMTP")
        .unwrap_or_else(|_| panic!("BEEBOX_TEST_SMTP is unset: {START_THE_PEER}"));
    let (host, port) = value
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("BEEBOX_TEST_SMTP={value:?} is not HOST:PORT"));
    let port = port
        .parse()
        .unwrap_or_else(|_| panic!("BEEBOX_TEST_SMTP={value:?} has no valid port"));
    (host.to_string(), port)
}

/// maildev's HTTP API base, from `BEEBOX_TEST_MAILDEV` (`http://127.0.0.1:2580`).
pub fn maildev_url() -> String {
    std::env::var("BEEBOX_TEST_MAILDEV")
        .unwrap_or_else(|_| panic!("BEEBOX_TEST_MAILDEV is unset: {START_THE_PEER}"))
        .trim_end_matches('/')
        .to_string()
}

/// An address no other test (or earlier run) has used.
pub fn unique_address(label: &str) -> String {
    format!("{label}-{}@beebox.test", uuid::Uuid::new_v4().simple())
}

/// Every message maildev holds with `address` among its recipients, as maildev's JSON
/// (`subject`, `text`, `to: [{address}]`, `headers`, ...), as it stands right now.
pub async fn maildev_messages_to(address: &str) -> Vec<Value> {
    let url = format!("{}/api/email", maildev_url());
    let response = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("maildev at {url} is not answering ({e}): {START_THE_PEER}"));
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    let all: Vec<Value> = response.json().await.expect("maildev lists mail as JSON");
    all.into_iter()
        .filter(|message| {
            message["to"].as_array().is_some_and(|to| {
                to.iter().any(|r| {
                    r["address"]
                        .as_str()
                        .is_some_and(|a| a.eq_ignore_ascii_case(address))
                })
            })
        })
        .collect()
}

/// Waits (up to 10 s) until maildev holds at least `count` messages to `address`: it stores
/// a message a moment after acknowledging it over SMTP.
pub async fn wait_for_mail_to(address: &str, count: usize) -> Vec<Value> {
    let found = poll(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let messages = maildev_messages_to(address).await;
            if messages.len() >= count {
                Ok(messages)
            } else {
                Err(messages.len())
            }
        },
    )
    .await;
    found.unwrap_or_else(|held| {
        panic!("maildev holds {held} message(s) to {address}, expected {count}")
    })
}

/// A config whose mailer talks plain SMTP to the test peer.
pub fn smtp_config() -> Config {
    let mut config = Config::default();
    mail_to_peer(&mut config);
    config.mail.smtp.timeout_secs = 5;
    config
}

/// Points the app's mailer at the SMTP peer, in plain SMTP.
pub fn mail_to_peer(config: &mut Config) {
    let (host, port) = smtp_peer();
    config.mail.backend = MailBackend::Smtp;
    config.mail.smtp.host = host;
    config.mail.smtp.port = port;
    config.mail.smtp.tls = SmtpTls::None;
}
