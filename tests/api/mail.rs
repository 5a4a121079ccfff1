//! The mailer against a real SMTP server: maildev, started by `scripts/peers.sh` (which
//! `scripts/test.sh` runs). maildev keeps every message it ever got, so each test sends to an
//! address of its own and reads back only what went there.

use base64::Engine as _;
use beebox::config::Config;
use beebox::integrations::mailer::{MailError, Mailer, OutgoingMail};

use crate::support::mail::{smtp_config, unique_address, wait_for_mail_to};

fn chinese_mail(to: Vec<String>) -> OutgoingMail {
    OutgoingMail {
        to,
        subject: "申请需补正材料：居住证办理（申请编号 BB20261128-0001）".into(),
        body: "张三，您好：\n\n您办理的“居住证办理”经预审，部分材料需要补正。\n1. 身份证正面：照片模糊，请重新拍摄\n\n（此邮件由系统自动发送，请勿直接回复。）\n".into(),
        message_id: format!("<{}-email@beebox>", uuid::Uuid::now_v7()),
    }
}

#[tokio::test]
async fn a_chinese_message_arrives_intact_over_smtp() {
    let mailer = Mailer::from_config(&smtp_config()).expect("smtp mailer builds");
    let to = unique_address("citizen");
    let mail = chinese_mail(vec![to.clone()]);

    mailer
        .send(&mail)
        .await
        .expect("maildev accepts the message");

    let messages = wait_for_mail_to(&to, 1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["subject"], mail.subject.as_str());
    assert_eq!(
        message["text"].as_str().unwrap().trim_end(),
        mail.body.trim_end()
    );
    assert_eq!(message["to"].as_array().unwrap().len(), 1);
    assert_eq!(message["to"][0]["address"], to.as_str());
    assert_eq!(message["from"][0]["address"], "noreply@beebox.localhost");
    assert_eq!(message["headers"]["message-id"], mail.message_id.as_str());
    // maildev leaves Content-Type out of `headers`; the .eml test below checks it.
}

#[tokio::test]
async fn every_recipient_of_one_message_receives_it() {
    let mailer = Mailer::from_config(&smtp_config()).unwrap();
    let (first, second) = (unique_address("staff-a"), unique_address("staff-b"));
    let mail = chinese_mail(vec![first.clone(), second.clone()]);

    mailer.send(&mail).await.unwrap();

    for address in [&first, &second] {
        let messages = wait_for_mail_to(address, 1).await;
        assert_eq!(
            messages[0]["headers"]["message-id"],
            mail.message_id.as_str()
        );
    }
}

#[tokio::test]
async fn smtp_down_is_transient() {
    // Bind, note the port, close it again: nothing listens there for the moment we need.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = smtp_config();
    config.mail.smtp.port = port;
    let mailer = Mailer::from_config(&config).unwrap();

    let error = mailer
        .send(&chinese_mail(vec![unique_address("nobody")]))
        .await
        .unwrap_err();

    assert!(matches!(error, MailError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn the_file_backend_writes_the_message_as_an_eml_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    // A directory that does not exist yet: from_config creates it.
    config.mail.file_dir = Some(dir.path().join("outbox"));
    let mailer = Mailer::from_config(&config).expect("file mailer builds");
    let to = unique_address("file");
    let mail = chinese_mail(vec![to.clone()]);

    mailer.send(&mail).await.expect("the .eml file is written");

    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    let (headers, body) = split_eml(&raw);
    assert_eq!(header(&headers, "To"), to);
    assert_eq!(header(&headers, "Message-ID"), mail.message_id);
    assert_eq!(
        decode_encoded_words(&header(&headers, "Subject")),
        mail.subject
    );
    assert!(header(&headers, "Content-Type").starts_with("text/plain; charset=utf-8"));
    let text = match header(&headers, "Content-Transfer-Encoding").as_str() {
        "base64" => decode_base64(&body),
        "7bit" | "8bit" => body,
        other => panic!("unexpected transfer encoding {other}"),
    };
    assert_eq!(text.replace("\r\n", "\n").trim_end(), mail.body.trim_end());
}

/// Unfolded headers (name, value) and the raw body of an RFC 5322 message.
fn split_eml(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw
        .split_once("\n\n")
        .expect("headers, a blank line, a body");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a continuation follows a header");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').expect("Name: value");
            headers.push((name.to_string(), value.trim().to_string()));
        }
    }
    (headers, body.to_string())
}

fn header(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// `=?utf-8?b?...?= =?utf-8?b?...?=` (RFC 2047, as lettre writes a non-ASCII subject) -> text.
fn decode_encoded_words(value: &str) -> String {
    if !value.starts_with("=?") {
        return value.to_string();
    }
    let mut bytes = Vec::new();
    for word in value.split_whitespace() {
        let inner = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .unwrap_or_else(|| panic!("not an encoded word: {word}"));
        let parts: Vec<&str> = inner.splitn(3, '?').collect();
        assert!(parts[0].eq_ignore_ascii_case("utf-8"), "{word}");
        assert!(parts[1].eq_ignore_ascii_case("b"), "{word}");
        bytes.extend(
            base64::engine::general_purpose::STANDARD
                .decode(parts[2])
                .unwrap(),
        );
    }
    String::from_utf8(bytes).expect("the subject is UTF-8")
}

fn decode_base64(body: &str) -> String {
    let joined: String = body.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(joined)
        .unwrap();
    String::from_utf8(bytes).expect("the body is UTF-8")
}
