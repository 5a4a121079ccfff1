//! The partners by code: the adapters this service talks to (`courier.partners`), and the
//! built-in simulators that stand in for them in dev. Built once from the configuration; the
//! courier flow and its jobs pick a partner here and speak only `CourierPartner` to it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::integrations::courier::CourierPartner;
use crate::integrations::courier::ems::{ChinaPostEms, EmsSettings};
use crate::integrations::courier::sf::{SfExpress, SfSettings};
use crate::integrations::courier::sim::{
    CourierSimulator, EmsCredentials, SfCredentials, SimSettings,
};

/// Dev defaults, shared by the service and its built-in simulators. prod refuses them.
pub const DEV_SF_PARTNER_ID: &str = "BEEBOX_DEV";
pub const DEV_SF_CHECK_WORD: &str = "dev-sf-check-word-not-secret";
pub const DEV_SF_WEBHOOK_SECRET: &str = "dev-sf-webhook-secret";
pub const DEV_EMS_SENDER_NO: &str = "1100000000000";
pub const DEV_EMS_AUTHORIZATION: &str = "dev-ems-authorization";
/// The Base64 of the 16 bytes `dev-ems-sign-key`.
pub const DEV_EMS_SIGN_KEY: &str = "ZGV2LWVtcy1zaWduLWtleQ==";
pub const DEV_EMS_WEBHOOK_SECRET: &str = "dev-ems-webhook-secret";
/// Where the dev simulators are mounted on our own server: `/_sim/{partner}`.
pub const SIM_MOUNT: &str = "/_sim";

/// The enabled partners by code, the default one, and the built-in simulators dev uses.
#[derive(Clone)]
pub struct Couriers {
    partners: HashMap<&'static str, Arc<dyn CourierPartner>>,
    default: &'static str,
    simulators: Vec<CourierSimulator>,
}

impl Couriers {
    /// `public_url` is where this instance is reached: the simulators push to its webhooks.
    pub fn from_config(config: &Config, public_url: &str) -> Self {
        let courier = &config.courier;
        let mut couriers = Self {
            partners: HashMap::new(),
            default: "sf",
            simulators: Vec::new(),
        };
        for code in &courier.partners {
            match code.as_str() {
                "sf" => couriers.add_sf(config, public_url),
                "ems" => couriers.add_ems(config, public_url),
                // The configuration refuses any other.
                _ => {}
            }
        }
        if let Some((code, _)) = couriers
            .partners
            .get_key_value(courier.default_partner.as_str())
        {
            couriers.default = code;
        }
        couriers
    }

    fn add_sf(&mut self, config: &Config, public_url: &str) {
        let sf = &config.courier.sf;
        let credentials = sf_dev_credentials(config);
        let webhook_secret = expose_or(&sf.webhook_secret, DEV_SF_WEBHOOK_SECRET);
        let api_base = match &sf.api_base {
            Some(base) => base.clone(),
            None => {
                let settings = SimSettings {
                    push_url: format!(
                        "{public_url}/v1/webhooks/courier/sf?secret={webhook_secret}"
                    ),
                    step: Duration::from_millis(sf.sim_step_ms),
                    skip_pickup_wait: sf.sim_skip_pickup_wait,
                };
                let simulator = CourierSimulator::sf(credentials.clone(), settings);
                let base = format!("{public_url}{SIM_MOUNT}/sf{}", simulator.api_path());
                self.simulators.push(simulator);
                base
            }
        };
        let adapter = SfExpress::new(SfSettings {
            api_base,
            partner_id: credentials.partner_id,
            check_word: credentials.check_word,
            webhook_secret,
            monthly_card: sf.monthly_card.clone(),
            express_type_id: sf.express_type_id,
            timeout: Duration::from_millis(sf.timeout_ms),
            push_max_age: Duration::from_secs(sf.push_max_age_secs),
        });
        self.partners.insert("sf", Arc::new(adapter));
    }

    fn add_ems(&mut self, config: &Config, public_url: &str) {
        let ems = &config.courier.ems;
        let credentials = ems_dev_credentials(config);
        let webhook_secret = expose_or(&ems.webhook_secret, DEV_EMS_WEBHOOK_SECRET);
        let api_base = match &ems.api_base {
            Some(base) => base.clone(),
            None => {
                let settings = SimSettings {
                    push_url: format!(
                        "{public_url}/v1/webhooks/courier/ems?secret={webhook_secret}"
                    ),
                    step: Duration::from_millis(ems.sim_step_ms),
                    skip_pickup_wait: ems.sim_skip_pickup_wait,
                };
                let simulator = CourierSimulator::ems(credentials.clone(), settings);
                let base = format!("{public_url}{SIM_MOUNT}/ems{}", simulator.api_path());
                self.simulators.push(simulator);
                base
            }
        };
        let adapter = ChinaPostEms::new(EmsSettings {
            api_base,
            sender_no: credentials.sender_no,
            authorization: credentials.authorization,
            sign_key: credentials.sign_key,
            webhook_secret,
            biz_product_no: ems.biz_product_no.clone(),
            timeout: Duration::from_millis(ems.timeout_ms),
        });
        self.partners.insert("ems", Arc::new(adapter));
    }

    /// The codes of every partner this instance works with.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut codes: Vec<_> = self.partners.keys().copied().collect();
        codes.sort_unstable();
        codes
    }

    pub fn get(&self, code: &str) -> Option<Arc<dyn CourierPartner>> {
        self.partners.get(code).cloned()
    }

    /// The partner a leg goes to when nothing names another.
    pub fn default_partner(&self) -> Arc<dyn CourierPartner> {
        self.partners[self.default].clone()
    }

    /// The built-in simulators, each to mount at `{SIM_MOUNT}/{code}`.
    pub fn simulators(&self) -> &[CourierSimulator] {
        &self.simulators
    }

    /// The built-in simulator of one partner, when dev runs it.
    pub fn simulator(&self, code: &str) -> Option<&CourierSimulator> {
        self.simulators.iter().find(|s| s.code() == code)
    }
}

/// SF's account: the configured one, else the dev simulator's.
pub fn sf_dev_credentials(config: &Config) -> SfCredentials {
    let sf = &config.courier.sf;
    SfCredentials {
        partner_id: sf
            .partner_id
            .clone()
            .unwrap_or_else(|| DEV_SF_PARTNER_ID.into()),
        check_word: expose_or(&sf.check_word, DEV_SF_CHECK_WORD),
    }
}

/// EMS's account: the configured one, else the dev simulator's.
pub fn ems_dev_credentials(config: &Config) -> EmsCredentials {
    let ems = &config.courier.ems;
    EmsCredentials {
        sender_no: ems
            .sender_no
            .clone()
            .unwrap_or_else(|| DEV_EMS_SENDER_NO.into()),
        authorization: expose_or(&ems.authorization, DEV_EMS_AUTHORIZATION),
        sign_key: expose_or(&ems.sign_key, DEV_EMS_SIGN_KEY),
    }
}

fn expose_or(secret: &Option<crate::config::Secret>, default: &str) -> String {
    secret.as_ref().map_or(default, |s| s.expose()).to_string()
}
