//! Subscribe-message templates configured the way the README says, with only an id: by
//! environment and by TOML file the id merges with the default field mapping, per event and per
//! field, and the message WeChat receives carries the full `data`.

use std::collections::BTreeMap;

use beebox::config::{Config, SubscribeConfig};
use serde_json::Value;

use crate::support::binary::beebox;
use crate::support::cases::submitted_case;
use crate::support::notify::{settled_notifications, subscribe, wechat_citizen};
use crate::support::wechat::WechatServer;
use crate::support::{TestApp, spawn_app_with};

/// The `[wechat.subscribe]` section of what `beebox check-config` prints for these settings.
fn effective_subscribe(env: &[(&str, &str)], file: Option<&str>) -> SubscribeConfig {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env.to_vec();
    let path = dir.path().join("beebox.toml");
    let path_text = path.to_str().unwrap().to_string();
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
        env.push(("BEEBOX_CONFIG", &path_text));
    }
    let output = beebox(dir.path(), &["check-config"], &env);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    let printed: toml::Value = toml::from_str(&out).unwrap();
    printed["wechat"]["subscribe"].clone().try_into().unwrap()
}

fn default_fields() -> BTreeMap<String, String> {
    Config::default().wechat.subscribe.templates["submitted"]
        .fields
        .clone()
}

#[test]
fn an_id_set_by_env_keeps_the_default_fields_and_the_other_events() {
    let subscribe = effective_subscribe(
        &[(
            "BEEBOX_WECHAT__SUBSCRIBE__TEMPLATES__SUBMITTED__TEMPLATE_ID",
            "tpl-x",
        )],
        None,
    );
    let submitted = &subscribe.templates["submitted"];
    assert_eq!(submitted.template_id.as_deref(), Some("tpl-x"));
    assert_eq!(submitted.fields, default_fields());
    assert_eq!(submitted.fields.len(), 5);
    // Every other event keeps its default mapping (and no id).
    let defaults = Config::default().wechat.subscribe.templates;
    assert_eq!(subscribe.templates.len(), defaults.len());
    for (event, template) in &subscribe.templates {
        assert_eq!(template.fields, defaults[event].fields, "{event}");
    }
    assert_eq!(subscribe.templates["returned"].template_id, None);
}

#[test]
fn a_toml_file_merges_per_event_and_per_field() {
    let subscribe = effective_subscribe(
        &[],
        Some(
            "[wechat.subscribe.templates.returned]\ntemplate_id = \"tpl-r\"\n\
             [wechat.subscribe.templates.rejected.fields]\nthing5 = \"驳回：{reason}\"\nphrase3 = \"\"\n",
        ),
    );
    let returned = &subscribe.templates["returned"];
    assert_eq!(returned.template_id.as_deref(), Some("tpl-r"));
    assert_eq!(returned.fields, default_fields());
    // One field changed, one blanked out, the other three as they were.
    let rejected = &subscribe.templates["rejected"].fields;
    let mut expected = default_fields();
    expected.insert("thing5".into(), "驳回：{reason}".into());
    expected.insert("phrase3".into(), String::new());
    assert_eq!(rejected, &expected);
    assert!(subscribe.templates.contains_key("completed"));
}

#[test]
fn a_template_id_without_any_field_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = beebox(
        dir.path(),
        &["check-config"],
        &[(
            "BEEBOX_WECHAT__SUBSCRIBE__TEMPLATES__CUSTOM__TEMPLATE_ID",
            "tpl-c",
        )],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("wechat.subscribe.templates") && err.contains("`custom`"),
        "{err}"
    );
}

/// Submits a case for a WeChat citizen who accepted `tpl-x`, and returns the `data` WeChat
/// received for it.
async fn data_sent(
    subscribe_config: SubscribeConfig,
) -> (TestApp, String, BTreeMap<String, String>) {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|config| {
        wechat.configure(config);
        config.wechat.subscribe = subscribe_config;
        config.jobs.poll_ms = 50;
    })
    .await;
    let token = wechat_citizen(&app, "tplx").await;
    subscribe(&app, &token, &["tpl-x"]).await;
    let id = submitted_case(&app, &token, None, 0).await;
    let items = settled_notifications(&app, &token, &id, 1).await;
    let wechat_item = items
        .iter()
        .find(|n| n["channel"] == "wechat")
        .expect("a WeChat notification");
    assert_eq!(wechat_item["status"], "sent", "{items:#?}");
    let sent = wechat.sent_to("wx-tplx");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].template_id, "tpl-x");
    (app, id, sent[0].data.clone())
}

async fn assert_full_submitted_data(subscribe_config: SubscribeConfig) {
    let (app, id, data) = data_sent(subscribe_config).await;
    let matter: Value = app
        .get("/v1/matters/social-security-card-replacement")
        .await
        .json()
        .await
        .unwrap();
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["character_string2", "phrase3", "thing1", "thing5", "time4"]
    );
    assert_eq!(data["thing1"], matter["name"].as_str().unwrap());
    assert_eq!(data["character_string2"], id.replace('-', ""));
    assert_eq!(data["phrase3"], "已提交");
    assert_eq!(data["thing5"], "无");
    let time = &data["time4"];
    assert!(
        time.chars().count() == 17 && time.contains('年') && time.contains('日'),
        "{time}"
    );
}

#[tokio::test]
async fn a_template_id_set_by_env_sends_the_full_data() {
    let subscribe = effective_subscribe(
        &[(
            "BEEBOX_WECHAT__SUBSCRIBE__TEMPLATES__SUBMITTED__TEMPLATE_ID",
            "tpl-x",
        )],
        None,
    );
    assert_full_submitted_data(subscribe).await;
}

#[tokio::test]
async fn a_template_id_set_in_a_toml_file_sends_the_full_data() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("beebox.toml");
    std::fs::write(
        &file,
        "[wechat.subscribe.templates.submitted]\ntemplate_id = \"tpl-x\"\n",
    )
    .unwrap();
    let loaded = Config::load(Some(&file)).expect("the file loads");
    assert_full_submitted_data(loaded.wechat.subscribe).await;
}

#[tokio::test]
async fn a_blanked_field_is_left_out_of_the_message() {
    let subscribe = effective_subscribe(
        &[],
        Some(
            "[wechat.subscribe.templates.submitted]\ntemplate_id = \"tpl-x\"\n\
             [wechat.subscribe.templates.submitted.fields]\nthing5 = \"\"\n",
        ),
    );
    let (_app, _id, data) = data_sent(subscribe).await;
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, ["character_string2", "phrase3", "thing1", "time4"]);
}
