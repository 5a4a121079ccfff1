//! The partners by code: the adapters this service talks to, and the built-in simulator that
//! stands in for SF in dev. Built once from the configuration; the courier flow and its jobs
//! pick a partner here and speak only `CourierPartner` to it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Config;
use crate::integrations::courier::CourierPartner;
use crate::integrations::courier::sf::{SfExpress, SfSettings};
use crate::integrations::courier::sim::{SfSimulator, SimSettings};

/// Dev defaults, shared by the service and its built-in simulator. prod refuses them.
pub const DEV_SF_PARTNER_ID: &str = "BEEBOX_DEV";
pub const DEV_SF_CHECK_WORD: &str = "dev-sf-check-word-not-secret";
pub const DEV_SF_WEBHOOK_SECRET: &str = "dev-sf-webhook-secret";
/// Where the dev simulator is mounted on our own server.
pub const SIM_MOUNT: &str = "/_sim/sf";

/// The partners by code, and the built-in simulator when dev uses it.
#[derive(Clone)]
pub struct Couriers {
    partners: HashMap<&'static str, Arc<dyn CourierPartner>>,
    default: &'static str,
    pub simulator: Option<SfSimulator>,
}

impl Couriers {
    /// `public_url` is where this instance is reached: the simulator pushes to its webhook.
    pub fn from_config(config: &Config, public_url: &str) -> Self {
        let sf = &config.courier.sf;
        let partner_id = sf
            .partner_id
            .clone()
            .unwrap_or_else(|| DEV_SF_PARTNER_ID.into());
        let check_word = sf
            .check_word
            .as_ref()
            .map_or(DEV_SF_CHECK_WORD, |s| s.expose())
            .to_string();
        let webhook_secret = sf
            .webhook_secret
            .as_ref()
            .map_or(DEV_SF_WEBHOOK_SECRET, |s| s.expose())
            .to_string();
        let (api_base, simulator) = match &sf.api_base {
            Some(base) => (base.clone(), None),
            None => {
                let simulator = SfSimulator::new(SimSettings {
                    partner_id: partner_id.clone(),
                    check_word: check_word.clone(),
                    push_url: format!(
                        "{public_url}/v1/webhooks/courier/sf?secret={webhook_secret}"
                    ),
                    step: std::time::Duration::from_millis(sf.sim_step_ms),
                    skip_pickup_wait: sf.sim_skip_pickup_wait,
                });
                (
                    format!("{public_url}{SIM_MOUNT}/std/service"),
                    Some(simulator),
                )
            }
        };
        let adapter = SfExpress::new(SfSettings {
            api_base,
            partner_id,
            check_word,
            webhook_secret,
            monthly_card: sf.monthly_card.clone(),
            express_type_id: sf.express_type_id,
            timeout: std::time::Duration::from_millis(sf.timeout_ms),
            push_max_age: std::time::Duration::from_secs(sf.push_max_age_secs),
        });
        let mut partners: HashMap<&'static str, Arc<dyn CourierPartner>> = HashMap::new();
        partners.insert("sf", Arc::new(adapter));
        Self {
            partners,
            default: "sf",
            simulator,
        }
    }

    /// The codes of every partner this instance knows.
    pub fn codes(&self) -> Vec<&'static str> {
        self.partners.keys().copied().collect()
    }

    pub fn get(&self, code: &str) -> Option<Arc<dyn CourierPartner>> {
        self.partners.get(code).cloned()
    }

    /// The partner new orders go to.
    pub fn default_partner(&self) -> Arc<dyn CourierPartner> {
        self.partners[self.default].clone()
    }
}
