//! Prometheus metrics, served at `/metrics` on a listen address of their own (`--metrics-listen`,
//! off unless set), never beside the public routes.
//!
//! Names follow Prometheus' conventions: the unit in the name, `_total` for counters, and only
//! labels with few values (a route template, a method, a status, a job kind), never an id.
//! Recording sites across the code use the `metrics` facade; without `--metrics-listen` no
//! recorder is installed and they cost nothing.

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use meridian_control::Control;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Latency buckets (seconds) for request and job durations: 1 ms to 60 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process's recorder, installed on first use (tests start several servers in one process).
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full("meridian_backbone_probe_rtt_seconds".into()),
                        &[0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5],
                    )
                })
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    if metrics::set_global_recorder(recorder).is_err() {
                        tracing::warn!(
                            "a metrics recorder was installed already; /metrics shows this one's only"
                        );
                    }
                    handle
                }
                // Only a bad bucket list fails, which is a constant above.
                Err(error) => panic!("metrics recorder: {error}"),
            }
        })
        .clone()
}

/// The `/metrics` route, for its own listener.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(handle)
}

async fn scrape(State(handle): State<PrometheusHandle>) -> Response {
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Marks a response whose request [`matched`] already counted.
#[derive(Clone, Copy)]
struct Counted;

/// Counts a request that reached one of the router's routes, by its route template.
pub async fn matched(path: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let route = path.map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let mut response = count(route, request, next).await;
    response.extensions_mut().insert(Counted);
    response
}

/// Counts every other request (static files, the fallback, refusals before routing) as route
/// `other`, and keeps the in-flight gauge.
pub async fn all(request: Request, next: Next) -> Response {
    metrics::gauge!("meridian_http_requests_in_flight").increment(1.0);
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::gauge!("meridian_http_requests_in_flight").decrement(1.0);
    if response.extensions().get::<Counted>().is_none() {
        observe("other".to_owned(), &method, response.status(), started.elapsed());
    }
    response
}

async fn count(route: String, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    observe(route, &method, response.status(), started.elapsed());
    response
}

fn observe(route: String, method: &http::Method, status: http::StatusCode, took: Duration) {
    let method = method_label(method);
    metrics::counter!(
        "meridian_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!(
        "meridian_http_request_duration_seconds",
        "route" => route,
        "method" => method
    )
    .record(took.as_secs_f64());
}

/// A method as a label: the common ones by name, anything else as `other` (the set stays small
/// whatever clients send).
fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Samples what is read from the database rather than counted as it happens (the job queue by
/// state, live sessions) every 15 seconds, for as long as the server runs.
pub fn spawn_sampler(control: Control) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(15));
        loop {
            tick.tick().await;
            if let Err(error) = sample(&control).await {
                tracing::warn!(error = ?error, "metrics sample failed");
            }
        }
    });
}

/// One sample of the job queue and the sessions.
pub async fn sample(control: &Control) -> Result<(), meridian_control::Error> {
    let (jobs, sessions) = control.metrics_sample().await?;
    for (state, count) in jobs {
        metrics::gauge!("meridian_jobs", "state" => state).set(count as f64);
    }
    metrics::gauge!("meridian_sessions").set(sessions as f64);
    Ok(())
}
