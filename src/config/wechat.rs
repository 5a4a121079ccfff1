//! `[wechat]`: the mini-program's credentials and its subscribe-message templates. Without an
//! AppID dev logs citizens in with simulated codes; prod refuses that.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Problems, Profile, Secret};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WechatConfig {
    /// Base URL of the WeChat server API; tests point it at a local server.
    pub api_base: String,
    /// The mini-program's AppID.
    pub app_id: Option<String>,
    /// The mini-program's AppSecret.
    pub app_secret: Option<Secret>,
    pub timeout_ms: u64,
    pub subscribe: SubscribeConfig,
}

impl Default for WechatConfig {
    fn default() -> Self {
        Self {
            api_base: "https://api.weixin.qq.com".into(),
            app_id: None,
            app_secret: None,
            timeout_ms: 5_000,
            subscribe: SubscribeConfig::default(),
        }
    }
}

/// Subscribe messages (订阅消息) to citizens: one template per event.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscribeConfig {
    /// `formal`, `trial` or `developer`: which build of the mini-program the message opens.
    pub miniprogram_state: String,
    /// The page a message opens; `{application_id}` is replaced.
    pub page: String,
    /// Refresh the shared access token this long before it expires.
    pub token_refresh_margin_secs: u64,
    /// Per event (`submitted`, `returned`, `rejected`, `prereview_passed`, `originals_in_transit`,
    /// `received`, `refused`, `result_in_delivery`, `completed`): the template id
    /// and what goes in each of its fields. An event without a template id sends no message.
    /// A file or the environment merges into the defaults per event and per field; a field set
    /// to `""` is left out of the message.
    pub templates: BTreeMap<String, MessageTemplate>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MessageTemplate {
    pub template_id: Option<String>,
    /// Template field (`thing1`, `time2`, ...) -> value, with `{matter_name}`, `{status}`,
    /// `{time}`, `{reason}`, `{application_no}`, `{waybill_no}` replaced. Values are cut to the field type's limit.
    pub fields: BTreeMap<String, String>,
}

impl MessageTemplate {
    /// The fields that go into a message: those not blanked out with `""`.
    pub fn data_fields(&self) -> impl Iterator<Item = (&String, &String)> {
        self.fields
            .iter()
            .filter(|(_, pattern)| !pattern.is_empty())
    }
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        let fields = |pairs: &[(&str, &str)]| MessageTemplate {
            template_id: None,
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let standard = [
            ("thing1", "{matter_name}"),
            ("character_string2", "{application_no}"),
            ("phrase3", "{status}"),
            ("time4", "{time}"),
            ("thing5", "{reason}"),
        ];
        let templates = crate::domain::application::ALL_STATES
            .into_iter()
            .filter_map(|state| state.citizen_event())
            .chain([crate::domain::application::DROP_OFF_REMINDER])
            .map(|event| (event.to_string(), fields(&standard)))
            .collect();
        Self {
            miniprogram_state: "formal".into(),
            page: "pages/application/detail?id={application_id}".into(),
            token_refresh_margin_secs: 300,
            templates,
        }
    }
}

impl WechatConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if !(self.api_base.starts_with("http://") || self.api_base.starts_with("https://")) {
            problems.add("wechat.api_base", "must start with http:// or https://");
        }
        if self.app_id.is_some() != self.app_secret.is_some() {
            problems.add(
                "wechat.app_secret",
                "wechat.app_id and wechat.app_secret are set together",
            );
        }
        self.subscribe.validate(problems);
        if profile == Profile::Prod && self.app_id.is_none() {
            problems.add(
                "wechat.app_id",
                "prod needs the mini-program's AppID and AppSecret (no simulated login)",
            );
        }
    }
}

impl SubscribeConfig {
    fn validate(&self, problems: &mut Problems) {
        if !["formal", "trial", "developer"].contains(&self.miniprogram_state.as_str()) {
            problems.add(
                "wechat.subscribe.miniprogram_state",
                "must be formal, trial or developer",
            );
        }
        for (event, template) in &self.templates {
            if template.template_id.is_some() && template.data_fields().next().is_none() {
                problems.add(
                    "wechat.subscribe.templates",
                    format!(
                        "the `{event}` template has an id but no fields: WeChat refuses empty data"
                    ),
                );
            }
        }
    }
}
