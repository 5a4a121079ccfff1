//! Prometheus metrics: requests and latency by route template and status, plus database pool use.
//! Labels use the route template (`/v1/matters/{code}`), never the raw path, to keep cardinality low.

use std::time::Instant;

use crate::http::routes::RouteIndex;
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    db_pool: IntGaugeVec,
    prereview_overdue: IntGaugeVec,
    jobs: IntGaugeVec,
    job_duration: HistogramVec,
    job_wait: HistogramVec,
    webhook_rejected: IntCounterVec,
    webhook_events: IntCounterVec,
    webhook_batch: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("beebox".into()), None).expect("a valid metrics prefix");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests served"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to produce the response head",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )
        .expect("valid metric");
        let prereview_overdue = IntGaugeVec::new(
            Opts::new(
                "prereview_overdue",
                "Submitted cases past their pre-review deadline, by item and department",
            ),
            &["matter", "department"],
        )
        .expect("valid metric");
        let jobs = IntGaugeVec::new(
            Opts::new(
                "jobs",
                "Jobs in the queue by kind and state (queued, running, dead)",
            ),
            &["kind", "state"],
        )
        .expect("valid metric");
        let job_duration = HistogramVec::new(
            HistogramOpts::new("job_duration_seconds", "Time a job's handler ran").buckets(vec![
                0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        let job_wait = HistogramVec::new(
            HistogramOpts::new(
                "job_wait_seconds",
                "Time from when a job was due until a worker started it",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0,
            ]),
            &["kind"],
        )
        .expect("valid metric");
        let webhook_rejected = IntCounterVec::new(
            Opts::new(
                "webhook_rejected_total",
                "Partner pushes refused, by partner and reason (unauthenticated, malformed, \
                 stale, rate_limited)",
            ),
            &["partner", "reason"],
        )
        .expect("valid metric");
        let webhook_events = IntCounterVec::new(
            Opts::new(
                "webhook_events_total",
                "Route events in accepted pushes, by partner and outcome (stored, duplicate, \
                 unknown_waybill)",
            ),
            &["partner", "outcome"],
        )
        .expect("valid metric");
        let webhook_batch = HistogramVec::new(
            HistogramOpts::new(
                "webhook_batch_pushes",
                "Partner pushes written in one transaction (group commit), by partner",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0]),
            &["partner"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(db_pool.clone()),
            Box::new(prereview_overdue.clone()),
            Box::new(jobs.clone()),
            Box::new(job_duration.clone()),
            Box::new(job_wait.clone()),
            Box::new(webhook_rejected.clone()),
            Box::new(webhook_events.clone()),
            Box::new(webhook_batch.clone()),
        ] {
            registry.register(collector).expect("metrics register once");
        }
        Self {
            registry,
            requests,
            latency,
            db_pool,
            prereview_overdue,
            jobs,
            job_duration,
            job_wait,
            webhook_rejected,
            webhook_events,
            webhook_batch,
        }
    }

    /// Replaces the queue depth: `(kind, state, count)`.
    pub fn set_jobs(&self, depth: &[(String, String, i64)]) {
        self.jobs.reset();
        for (kind, state, count) in depth {
            self.jobs.with_label_values(&[kind, state]).set(*count);
        }
    }

    pub fn observe_job(&self, kind: &str, outcome: &str, seconds: f64, waited_seconds: f64) {
        self.job_duration
            .with_label_values(&[kind, outcome])
            .observe(seconds);
        self.job_wait
            .with_label_values(&[kind])
            .observe(waited_seconds.max(0.0));
    }

    pub fn set_db_pool(&self, in_use: u32, idle: u32, max: u32) {
        self.db_pool
            .with_label_values(&["in_use"])
            .set(in_use as i64);
        self.db_pool.with_label_values(&["idle"]).set(idle as i64);
        self.db_pool.with_label_values(&["max"]).set(max as i64);
    }

    /// Replaces the overdue counts: `(matter, department, overdue)`.
    pub fn set_prereview_overdue(&self, counts: &[(String, String, u64)]) {
        self.prereview_overdue.reset();
        for (matter, department, overdue) in counts {
            self.prereview_overdue
                .with_label_values(&[matter.as_str(), department.as_str()])
                .set(*overdue as i64);
        }
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding never fails");
        String::from_utf8(buffer).expect("prometheus text is UTF-8")
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }
}

pub async fn middleware<E: Endpoint>(
    next: E,
    req: Request,
    metrics: std::sync::Arc<Metrics>,
    routes: std::sync::Arc<RouteIndex>,
) -> Result<Response> {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = routes
        .template(req.uri().path())
        .unwrap_or("unmatched")
        .to_string();
    let response = next.call(req).await.map(IntoResponse::into_response)?;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.observe(&method, &route, status, elapsed.as_secs_f64());
    tracing::info!(
        status,
        route = %route,
        latency_ms = elapsed.as_millis() as u64,
        "request finished"
    );
    Ok(response)
}

impl Metrics {
    /// A partner push refused before anything was stored.
    pub fn webhook_rejected(&self, partner: &str, reason: &str) {
        self.webhook_rejected
            .with_label_values(&[partner, reason])
            .inc();
    }

    /// `count` route events of an accepted push ended as `outcome`.
    pub fn webhook_events(&self, partner: &str, outcome: &str, count: usize) {
        if count > 0 {
            self.webhook_events
                .with_label_values(&[partner, outcome])
                .inc_by(count as u64);
        }
    }

    /// `pushes` partner pushes were written in one transaction.
    pub fn webhook_batch(&self, partner: &str, pushes: usize) {
        self.webhook_batch
            .with_label_values(&[partner])
            .observe(pushes as f64);
    }
}
