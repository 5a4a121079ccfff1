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
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(db_pool.clone()),
            Box::new(prereview_overdue.clone()),
        ] {
            registry.register(collector).expect("metrics register once");
        }
        Self {
            registry,
            requests,
            latency,
            db_pool,
            prereview_overdue,
        }
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
