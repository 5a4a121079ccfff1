//! The run's plan and record: which citizen files what and which decision each case gets
//! (`plan`), and what the actors share while they work (`Run`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use tokio::sync::mpsc;

use super::client::Client;
use crate::support::cases::{ELDERLY_CARD, SOCIAL_CARD};

/// What the reviewer will decide on a citizen's case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Approve,
    Return,
    Reject,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub citizen: usize,
    pub token: String,
    pub item: &'static str,
    pub plan: Plan,
}

impl Case {
    /// Where the case must end once everything settled.
    pub fn final_state(&self) -> &'static str {
        match self.plan {
            // Both items post their result: approved cases end delivered.
            Plan::Approve => "completed",
            Plan::Return => "returned",
            Plan::Reject => "rejected",
        }
    }
}

/// Citizen `i`'s item and the decision their case will get: every fifth posts its originals
/// (two courier legs), one in ten of the others is returned and one in ten rejected.
pub fn plan(i: usize) -> (&'static str, Plan) {
    match (i % 5, i % 10) {
        (0, _) => (ELDERLY_CARD, Plan::Approve),
        (_, 3) => (SOCIAL_CARD, Plan::Return),
        (_, 7) => (SOCIAL_CARD, Plan::Reject),
        _ => (SOCIAL_CARD, Plan::Approve),
    }
}

/// The materials of an item, one entry per page photographed.
pub fn pages_of(item: &str) -> &'static [&'static str] {
    if item == ELDERLY_CARD {
        &[
            "id-card",
            "id-card",
            "household-register",
            "household-register",
            "id-photo",
            "application-form",
        ]
    } else {
        &["id-card", "id-card", "id-photo"]
    }
}

/// What the actors share and record.
pub struct Run {
    pub client: Client,
    pub citizens: usize,
    /// Every case by its id.
    pub cases: Mutex<HashMap<String, Case>>,
    /// Cases submitted so far.
    pub submitted: AtomicUsize,
    /// Every `(reviewer, case)` a claim-next handed out, lost answers found again included.
    pub claims: Mutex<Vec<(usize, String)>>,
    /// Cases whose pre-review decision was answered, by outcome.
    pub decided: Mutex<HashMap<String, Plan>>,
    /// Cases reception received, and cases the department approved.
    pub received: Mutex<BTreeSet<String>>,
    pub approved: Mutex<BTreeSet<String>>,
    /// Path A and path B pages stored.
    pub path_a: AtomicUsize,
    pub path_b: AtomicUsize,
    /// Approved cases whose originals the courier collects: their citizens book the pickup.
    pub(super) pickups: mpsc::UnboundedSender<String>,
}

impl Run {
    /// The run, and the approvals whose pickup is to be booked (for `book_pickups`).
    pub fn new(lb: &str, citizens: usize) -> (Self, mpsc::UnboundedReceiver<String>) {
        let (pickups, approvals) = mpsc::unbounded_channel();
        let run = Self {
            client: Client::new(lb),
            citizens,
            cases: Mutex::default(),
            submitted: AtomicUsize::new(0),
            claims: Mutex::default(),
            decided: Mutex::default(),
            received: Mutex::default(),
            approved: Mutex::default(),
            path_a: AtomicUsize::new(0),
            path_b: AtomicUsize::new(0),
            pickups,
        };
        (run, approvals)
    }

    /// How many citizens' cases have this plan and item (`None`: any).
    pub fn count(&self, plan: Option<Plan>, item: Option<&str>) -> usize {
        (0..self.citizens)
            .map(self::plan)
            .filter(|(i, p)| plan.is_none_or(|w| w == *p) && item.is_none_or(|w| w == *i))
            .count()
    }

    /// The case `id` of the run (panics on a case the run did not file).
    pub fn case(&self, id: &str) -> Case {
        self.cases.lock().unwrap()[id].clone()
    }
}
