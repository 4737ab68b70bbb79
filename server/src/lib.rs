//! The Meridian server: wires the control plane, sessions and the Leptos app into one axum router.
//!
//! `main.rs` parses configuration and runs; this library exists so integration tests can boot the
//! very same router on port 0.

pub mod cloudstack;
pub mod config;
pub mod events;
pub mod exports;
pub mod guard;
pub mod hedge;
pub mod rest;

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
use meridian_control::session_store::DbSessionStore;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Leptos' options (site root, output name).
    pub leptos_options: LeptosOptions,
    /// The control plane.
    pub control: Control,
    /// Sessions older than this are ended.
    pub session_max: std::time::Duration,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Builds the whole HTTP surface: pages, server functions, health, static assets, and the layers
/// every request passes through.
pub fn router(config: &Config, control: Control) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("meridian")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .env(leptos::config::Env::PROD)
        .build();
    let state = AppState {
        leptos_options: leptos_options.clone(),
        control: control.clone(),
        session_max: config.session_max,
    };
    let policy = SessionPolicy {
        idle: config.session_idle,
        absolute: config.session_max,
    };
    let context = {
        let control = control.clone();
        move || {
            provide_context(control.clone());
            provide_context(policy);
        }
    };
    let idle = time::Duration::try_from(config.session_idle).unwrap_or(time::Duration::hours(4));
    let sessions = SessionManagerLayer::new(DbSessionStore::new(control.store().clone()))
        .with_name("meridian.sid")
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
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    config.secure_cookies,
                    guard::security_headers,
                ))
                // Past capacity a request is refused before anything else is spent on it.
                .layer(axum::middleware::from_fn_with_state(
                    guard::InFlight::per_core(),
                    guard::shed_load,
                ))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
                    let request_id =
                        request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request.id = %request_id)
                }))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CompressionLayer::new())
                .layer(axum::middleware::from_fn(guard::refuse_cross_site))
                .layer(axum::middleware::from_fn_with_state(
                    config.trusted_proxies.clone(),
                    guard::client_address,
                ))
                .layer(axum::middleware::from_fn(hedge::hedge_reads))
                .layer(sessions),
        )
}

/// The HTTP routes besides the pages, the server functions (which Leptos lists itself) and the
/// REST API ([`rest::routes`]). The router is built from these lists, so the
/// authorization-coverage test sees every route there is.
pub fn http_routes() -> Vec<(&'static str, axum::routing::MethodRouter<AppState>)> {
    vec![
        ("/healthz", get(healthz)),
        ("/events/vms/{id}", get(events::vm_events)),
        ("/billing/invoice.csv", get(exports::invoice_csv)),
        ("/billing/usage.csv", get(exports::usage_csv)),
        ("/residency/evidence.csv", get(exports::residency_csv)),
        (
            "/client/api",
            get(cloudstack::client_api).post(cloudstack::client_api),
        ),
        ("/api/{*path}", axum::routing::any(rest::no_such_route)),
    ]
}

/// Liveness and readiness: answers 200 when the database does.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.control.store().ping().await {
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

/// The driver the configuration asks for: today, the simulated zones, kept in the database.
pub fn driver(
    config: &Config,
    store: &meridian_control::Store,
) -> std::sync::Arc<dyn meridian_control::driver::Driver> {
    use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
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

/// Meters usage every minute, for as long as the server runs (state changes meter in between),
/// and fires the bandwidth alerts that the new usage makes due.
pub fn spawn_meter(control: Control) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let now = meridian_control::store::now_ms();
            if let Err(error) = control.meter_tick(now).await {
                tracing::warn!(error = ?error, "metering tick failed");
            }
            match control.bandwidth_alerts_check(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(alerts.fired = n, "bandwidth alerts fired"),
                Err(error) => tracing::warn!(error = ?error, "bandwidth alert check failed"),
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
        if let Err(error) = control
            .demo_history(meridian_control::store::now_ms, 600_000)
            .await
        {
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
            if let Err(error) = control.probe_tick(meridian_control::store::now_ms()).await {
                tracing::warn!(error = ?error, "latency probe round failed");
            }
        }
    });
}

/// Deletes expired sessions and day-old idempotency keys every ten minutes, for as long as the
/// server runs.
pub fn spawn_session_sweeper(control: Control) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            match control
                .store()
                .session_delete_expired(meridian_control::store::now_ms())
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions.deleted = n, "expired sessions deleted"),
                Err(error) => tracing::warn!(error.detail = %error, "expired-session sweep failed"),
            }
            match control
                .store()
                .idempotency_delete_expired(meridian_control::store::now_ms())
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(idempotency_keys.deleted = n, "day-old idempotency keys forgotten"),
                Err(error) => tracing::warn!(error.detail = %error, "idempotency-key sweep failed"),
            }
        }
    });
}
