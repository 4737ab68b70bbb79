//! The Meridian server: wires the control plane, sessions and the Leptos app into one axum router.
//!
//! `main.rs` parses configuration and runs; this library exists so integration tests can boot the
//! very same router on port 0.

// The pages' view types nest deeply (tachys builds one type per page), and laying out their
// server-rendering futures goes past the default query depth of 128.
#![recursion_limit = "256"]

pub mod client;
pub mod cloudstack;
pub mod config;
pub mod console;
pub mod events;
pub mod exports;
pub mod guard;
pub mod hedge;
pub mod host_agent;
pub mod metrics;
pub mod rest;
pub mod same_origin;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::IntoResponse;
use axum::routing::get;
use config::Config;
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use meridian_app::{App, server::SessionPolicy, shell};
use meridian_control::Control;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Where, under the site root, `scripts/build.sh` lists the bundle's content-hashed file names
/// (`js: …`, `wasm: …`, `css: …`); Leptos reads it too.
pub const ASSET_NAMES: &str = meridian_app::ASSET_NAMES;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Leptos' options (site root, output name).
    pub leptos_options: LeptosOptions,
    /// The control plane.
    pub control: Control,
    /// Sessions older than this are ended.
    pub session_max: std::time::Duration,
    /// The bound on requests in flight, which the readiness check reads.
    pub in_flight: guard::InFlight,
    /// The live-progress streams and consoles open, per user.
    pub streams: events::Streams,
    /// `scheme://host[:port]` of `--public-url`, which a console's WebSocket must come from
    /// (without one, `http://` and the request's `Host`).
    pub public_origin: Option<String>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Builds the whole HTTP surface: pages, server functions, health, static assets, and the layers
/// every request passes through.
pub fn router(config: &Config, control: Control) -> Router {
    // `scripts/build.sh` names the bundle's files by their content and lists the names here.
    // Absolute: Leptos reads it relative to the server's executable.
    let hash_file = config.site_root.join(ASSET_NAMES);
    let hash_file = std::path::absolute(&hash_file).unwrap_or(hash_file);
    let leptos_options = LeptosOptions::builder()
        .output_name("meridian")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .env(leptos::config::Env::PROD)
        .hash_files(hash_file.exists())
        .hash_file(std::sync::Arc::<str>::from(hash_file.display().to_string()))
        .build();
    let in_flight = guard::InFlight::per_core();
    // Live streams here hear every server's VM changes, and the others hear this one's.
    control.live_start();
    let state = AppState {
        leptos_options: leptos_options.clone(),
        control: control.clone(),
        session_max: config.session_max,
        in_flight: in_flight.clone(),
        streams: events::Streams::default(),
        public_origin: config.public_origin.clone(),
    };
    let policy = SessionPolicy {
        idle: config.session_idle,
        absolute: config.session_max,
        secure_cookies: config.secure_cookies,
    };
    let context = {
        let control = control.clone();
        move || {
            provide_context(control.clone());
            provide_context(policy);
            provide_context(meridian_app::server::RequestActor::default());
        }
    };
    let idle = time::Duration::try_from(config.session_idle).unwrap_or(time::Duration::hours(4));
    let sessions = SessionManagerLayer::new(control.session_store())
        .with_name(meridian_core::form_token::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(idle))
        // Save on every request, so that idle time counts from the last use (the store skips
        // writes that would barely move the expiry).
        .with_always_save(true);

    let routes = generate_route_list(App);
    let mut router = Router::new();
    for (path, route) in http_routes() {
        router = router.route(path, route);
    }
    for (path, route) in rest::routes_by_path() {
        router = router.route(path, route);
    }
    router
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        // Every route above is counted by its template; what falls through, below, as `other`.
        .route_layer(axum::middleware::from_fn(metrics::matched))
        // The bundle, as `scripts/build.sh` compressed it (brotli 11, gzip 9) where it did; the
        // compression layer below skips what is already compressed.
        .nest_service(
            "/pkg",
            ServeDir::new(config.site_root.join("pkg"))
                .precompressed_br()
                .precompressed_gzip(),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                // Outermost: every request is counted, refused ones included.
                .layer(axum::middleware::from_fn(metrics::all))
                .layer(axum::middleware::from_fn_with_state(
                    config.secure_cookies,
                    guard::security_headers,
                ))
                .layer(axum::middleware::from_fn(guard::no_store))
                .layer(axum::middleware::from_fn(guard::refuse_oversized_head))
                // The body arrives whole (or the request is refused) before the request takes a
                // slot below: a slow sender holds no slot, and is cut off at the body timeout.
                .layer(axum::middleware::from_fn_with_state(
                    guard::BodyGuard::new(config.body_timeout, in_flight.limit() * guard::RECEIVING_PER_SLOT),
                    guard::receive_body,
                ))
                // Past capacity a request is refused before anything else is spent on it.
                .layer(axum::middleware::from_fn_with_state(in_flight, guard::shed_load))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
                    let request_id =
                        request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request.id = %request_id)
                }).on_failure(log_failure))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CompressionLayer::new())
                .layer(axum::middleware::from_fn_with_state(
                    same_origin::SameOrigin {
                        public_origin: config.public_origin.clone(),
                        control: control.clone(),
                    },
                    same_origin::refuse_cross_site,
                ))
                .layer(axum::middleware::from_fn(guard::server_fn_body_type))
                .layer(axum::middleware::from_fn_with_state(control.clone(), guard::plain_forms))
                .layer(axum::middleware::from_fn_with_state(
                    config.trusted_proxies.clone(),
                    guard::client_address,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    std::sync::Arc::<hedge::SlowReads>::default(),
                    hedge::hedge_reads,
                ))
                .layer(sessions),
        )
}

/// Logs a 5xx answer or a failed response: at ERROR, except CloudStack's refusals (531, a
/// client's mistake), which are WARN.
fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass;
    let latency_ms = latency.as_millis() as u64;
    match class {
        ServerErrorsFailureClass::StatusCode(status) if cloudstack::is_refusal_status(status) => {
            tracing::warn!(status = status.as_u16(), latency_ms, "request refused");
        }
        other => tracing::error!(classification = %other, latency_ms, "response failed"),
    }
}

/// The HTTP routes besides the pages, the server functions (which Leptos lists itself) and the
/// REST API ([`rest::routes`]). The router is built from these lists, so the
/// authorization-coverage test sees every route there is.
pub fn http_routes() -> Vec<(&'static str, axum::routing::MethodRouter<AppState>)> {
    vec![
        ("/healthz", get(healthz)),
        ("/readyz", get(readyz)),
        ("/events/vms/{id}", get(events::vm_events)),
        ("/vms/{id}/console/ws", get(console::vm_console_ws)),
        ("/billing/invoice.csv", get(exports::invoice_csv)),
        ("/billing/usage.csv", get(exports::usage_csv)),
        ("/residency/evidence.csv", get(exports::residency_csv)),
        (
            "/client/api",
            get(cloudstack::client_api).post(cloudstack::client_api),
        ),
        ("/api/{*path}", axum::routing::any(rest::no_such_route)),
        (
            meridian_core::agent_api::REGISTER_PATH,
            axum::routing::post(host_agent::register),
        ),
        (
            meridian_core::agent_api::PROBES_PATH,
            axum::routing::post(host_agent::probes),
        ),
        (meridian_core::agent_api::BACKBONE_PATH, get(host_agent::backbone)),
    ]
}

/// Readiness: 200 when this server takes new work, 503 while it refuses it (every load-shedding
/// slot is taken) or its database does not answer. A load balancer stops sending requests here
/// while it says 503; liveness (`/healthz`) stays 200, since the process is well and will catch up.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let refusing = state.in_flight.is_full();
    let database = state.control.database_ping().await;
    let status = match (refusing, database) {
        (false, Ok(())) => {
            return (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "status": "ready" })),
            );
        }
        (true, _) => "overloaded",
        (false, Err(error)) => {
            tracing::warn!(error.detail = %error, "readiness check: database unreachable");
            "database unreachable"
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({ "status": status })),
    )
}

/// Liveness: answers 200 when the database does.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.control.database_ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ok" }))),
        Err(error) => {
            tracing::error!(error.detail = %error, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "status": "database unreachable" })),
            )
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets the requests in flight finish.
///
/// Like `axum::serve`, with the time limit it lacks: a client has `header_timeout` to send a
/// request's line and headers (and an idle kept-alive connection as long to start the next one),
/// or the connection is closed. The body's own limit is [`guard::receive_body`]'s. Connections
/// may be upgraded (the console's WebSocket); an upgraded one is no longer an HTTP connection and
/// is not waited for.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;
    // Each connection holds a receiver: `closed()` on the sender resolves once all are gone.
    // (hyper-util's `GracefulShutdown` does not take an upgradeable HTTP/1 connection.)
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, usually: wait a moment rather than spin.
                    tracing::warn!(error.detail = %error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = app
            .clone()
            .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(remote));
                request.map(axum::body::Body::new)
            });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            // Room for more than the router's own limits ([`guard::refuse_oversized_head`]), so
            // that it, not hyper, answers those, with the security headers.
            .max_buf_size(HYPER_MAX_BUF)
            .max_headers(HYPER_MAX_HEADERS)
            .serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            )
            .with_upgrades();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async {
                    // The borrowed value (not `Send`) is let go of here, inside.
                    let _ = stop.wait_for(|stopping| *stopping).await;
                } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(error.detail = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(stop);
    stopping.closed().await;
}

/// hyper's read buffer, and so the largest request head it takes at all.
const HYPER_MAX_BUF: usize = 512 * 1024;
/// The most header lines hyper parses at all.
const HYPER_MAX_HEADERS: usize = 256;

/// The driver the configuration asks for: the simulated zones, kept in the database, or host
/// agents (whose tokens derive from `agent_secret`).
pub fn driver(
    config: &Config,
    store: &meridian_control::Store,
    agent_secret: &[u8],
) -> std::sync::Arc<dyn meridian_control::driver::Driver> {
    use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
    if config.driver == config::DriverChoice::Agents {
        return std::sync::Arc::new(meridian_control::driver::agent::AgentDriver::new(
            store.clone(),
            agent_secret.into(),
        ));
    }
    let timing = match config.sim_timing {
        config::SimTimingChoice::Realistic => SimTiming::realistic(),
        config::SimTimingChoice::Fast => SimTiming::fast(),
        config::SimTimingChoice::Uniform(each) => SimTiming::uniform(each),
    };
    std::sync::Arc::new(SimulatedDriver::persistent(
        store.clone(),
        timing,
        std::process::id().into(),
    ))
}

/// Starts `count` job workers; send `true` on the returned channel to stop them after their
/// current step.
pub fn spawn_workers(
    control: &Control,
    count: u16,
) -> (tokio::sync::watch::Sender<bool>, Vec<tokio::task::JoinHandle<()>>) {
    spawn_workers_named(control, count, &uuid::Uuid::new_v4().to_string())
}

/// [`spawn_workers`] under a worker identity (see `Control::worker_identity_take`): lease owners
/// are `NAME/n#cohort#`.
pub fn spawn_workers_named(
    control: &Control,
    count: u16,
    process: &str,
) -> (tokio::sync::watch::Sender<bool>, Vec<tokio::task::JoinHandle<()>>) {
    // The jobs' progress reaches live streams on every server.
    control.live_start();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handles = (0..count)
        .map(|n| {
            let control = control.clone();
            let stopped = stopped.clone();
            let owner = format!("{process}/{n}");
            tokio::spawn(async move { control.worker_run(owner, stopped).await })
        })
        .collect();
    (stop, handles)
}

/// Meters usage every `every` (a minute by default), for as long as the server runs (state
/// changes meter in between), forgets hourly usage past its retention a few hours at a time, and
/// fires the bandwidth alerts that the new usage makes due.
pub fn spawn_meter(control: Control, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = meridian_control::now_ms();
            if let Err(error) = control.meter_tick(now).await {
                tracing::warn!(error = ?error, "metering tick failed");
            }
            if let Err(error) = control.usage_prune(now).await {
                tracing::warn!(error = ?error, "pruning old hourly usage failed");
            }
            match control.bandwidth_alerts_check(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(alerts.fired = n, "bandwidth alerts fired"),
                Err(error) => tracing::warn!(error = ?error, "bandwidth alert check failed"),
            }
        }
    });
}

/// Runs a scaling round every fifteen seconds, for as long as the server runs: each autoscaling
/// group this server claims is measured, decided on and brought to its desired size.
pub fn spawn_scaler(control: Control) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            tick.tick().await;
            if let Err(error) = control.scaling_tick(meridian_control::now_ms()).await {
                tracing::warn!(error = ?error, "scaling round failed");
            }
        }
    });
}

/// Seeds the demo tenant (demo mode) and, once its VMs run, its history; in the background, so
/// the server answers at once.
pub fn spawn_demo_seed(control: Control) {
    tokio::spawn(async move {
        match control.demo_seed().await {
            Ok(false) => return,
            Ok(true) => {}
            Err(error) => {
                tracing::error!(error = ?error, "demo seeding failed");
                return;
            }
        }
        if let Err(error) = control.demo_history(meridian_control::now_ms, 600_000).await {
            tracing::warn!(error = ?error, "demo history not written");
        }
    });
}

/// Probes every backbone edge every ten seconds, for as long as the server runs.
pub fn spawn_prober(control: Control) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            if let Err(error) = control.probe_tick(meridian_control::now_ms()).await {
                tracing::warn!(error = ?error, "latency probe round failed");
            }
        }
    });
}

/// Reconciles host agents' hosts with the database `every` so often, discarding orphans after
/// `grace`, for as long as the server runs (see `meridian_control::reconcile`).
pub fn spawn_reconciler(control: Control, every: std::time::Duration, grace: std::time::Duration) {
    tokio::spawn(async move {
        let mut reconciler = meridian_control::reconcile::Reconciler::default();
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match control.reconcile_with_grace(&mut reconciler, grace).await {
                Ok(report) if report != Default::default() => {
                    tracing::info!(report = ?report, "reconciled host agents' hosts");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(error = ?error, "reconciliation round failed"),
            }
        }
    });
}

/// Deletes expired sessions, day-old idempotency keys, expired CloudStack signatures and throttled
/// attempts older than every window every ten minutes, for as long as the server runs.
pub fn spawn_session_sweeper(control: Control) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            control.expired_sweep().await;
        }
    });
}
