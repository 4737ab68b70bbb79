//! Request guards applied to every route: cross-site mutation refusal and security headers.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use meridian_app::server::ClientAddress;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Refuses any state-changing request (not GET/HEAD/OPTIONS) that a browser says came from another
/// site: `Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` whose host is not this
/// request's `Host`. Clients that send neither header (curl, API tools) are not browsers and carry
/// no ambient cookie risk of this kind, so they pass.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if request.method().is_safe() || is_same_origin(&request) {
        next.run(request).await
    } else {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
        let body = serde_json::json!({
            "error": {
                "code": "cross_site_request",
                "message": "This request came from another site and was refused.",
            }
        });
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    }
}

fn is_same_origin(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, authority)| authority);
    matches!((origin_host, host), (Some(origin_host), Some(host)) if origin_host.eq_ignore_ascii_case(host))
}

/// The Content-Security-Policy of every response that does not set its own. Pages set theirs with
/// the render's nonce (see `meridian_app::shell`); this one allows no inline script at all.
pub const DEFAULT_CSP: &str = "script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Adds headers every response should carry, errors and assets included; HSTS only when Meridian is
/// served over HTTPS (`https`), since a browser ignores it on plain HTTP and a loopback dev server
/// must not pin itself.
pub async fn security_headers(State(https): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, DEFAULT_CSP),
    ];
    for (name, value) in fixed {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

/// Requests in flight at once per CPU core before more are refused: about what one core answers
/// in 100 ms (docs/BENCHMARKS.md, "Load on one server core"), so an admitted request waits at most
/// that long behind the others.
pub const IN_FLIGHT_PER_CORE: usize = 64;

/// The bound on requests in flight, shared by every request, and how many were refused since the
/// last time that was logged.
#[derive(Clone)]
pub struct InFlight {
    permits: Arc<tokio::sync::Semaphore>,
    refused: Arc<std::sync::atomic::AtomicU64>,
    logged_at_ms: Arc<std::sync::atomic::AtomicI64>,
}

impl InFlight {
    /// [`IN_FLIGHT_PER_CORE`] for each core this process may run on.
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::with_limit(IN_FLIGHT_PER_CORE * cores)
    }

    /// At most `limit` requests in flight.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(limit)),
            refused: Arc::default(),
            logged_at_ms: Arc::default(),
        }
    }

    /// Counts a refusal, and logs the count at most once a second: an overloaded server must not
    /// also spend itself writing a log line per refused request.
    fn refused(&self) {
        use std::sync::atomic::Ordering;
        self.refused.fetch_add(1, Ordering::Relaxed);
        let now = meridian_control::store::now_ms();
        let last = self.logged_at_ms.load(Ordering::Relaxed);
        if now - last >= 1000
            && self
                .logged_at_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let refused = self.refused.swap(0, Ordering::Relaxed);
            tracing::warn!(
                requests.refused = refused,
                "overloaded: requests refused with 503"
            );
        }
    }
}

/// Sheds load: past the bound on requests in flight, a request is answered at once with 503 and
/// `Retry-After` instead of joining a queue that only grows (an open-ended queue made every page
/// take 20 s and the server hold 1.5 GB in the load benchmark). Live-progress streams and the
/// health check are not counted: a stream lasts as long as its page is open.
pub async fn shed_load(State(in_flight): State<InFlight>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/events/") || path == "/healthz" {
        return next.run(request).await;
    }
    match in_flight.permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            in_flight.refused();
            let body = serde_json::json!({
                "error": {
                    "code": "overloaded",
                    "message": "Meridian is busy right now. Please try again in a moment.",
                }
            });
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                axum::Json(body),
            )
                .into_response()
        }
    }
}

/// Works out who the client is and records it on the request as [`ClientAddress`]: the connection's
/// peer, unless that peer is one of the `trusted` proxies, in which case the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy. A forwarded header from anyone else is
/// ignored: a client could write anything there to dodge log-in throttling.
pub async fn client_address(
    State(trusted): State<Arc<[IpAddr]>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    if let Some(peer) = peer {
        let client = resolve_client(peer, &trusted, request.headers());
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

/// The client behind `peer`, given the trusted proxies and the request's headers.
pub fn resolve_client(peer: IpAddr, trusted: &[IpAddr], headers: &http::HeaderMap) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) if trusted.contains(&address) => continue,
            Ok(address) => return address,
            // Garbage in the chain: stop trusting it here and blame the last proxy we trust.
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    async fn headers_over(https: bool) -> http::HeaderMap {
        use tower::ServiceExt;
        let router = axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(https, security_headers));
        let request = Request::builder()
            .uri("/")
            .body(axum::body::Body::empty())
            .unwrap();
        router.oneshot(request).await.unwrap().headers().clone()
    }

    #[tokio::test]
    async fn hsts_is_sent_over_https_only() {
        let https = headers_over(true).await;
        assert_eq!(
            https[header::STRICT_TRANSPORT_SECURITY],
            "max-age=63072000; includeSubDomains"
        );
        assert_eq!(https[header::CONTENT_SECURITY_POLICY], DEFAULT_CSP);
        assert!(
            headers_over(false)
                .await
                .get(header::STRICT_TRANSPORT_SECURITY)
                .is_none()
        );
    }

    #[tokio::test]
    async fn past_the_bound_requests_are_refused_at_once_and_streams_are_not_counted() {
        use tower::ServiceExt;
        let (release, released) = tokio::sync::watch::channel(false);
        let slow = move || {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|done| *done).await;
                "done"
            }
        };
        let router = axum::Router::new()
            .route("/slow", axum::routing::get(slow.clone()))
            .route("/events/vms/1", axum::routing::get(slow))
            .route("/fast", axum::routing::get(|| async { "fast" }))
            .layer(axum::middleware::from_fn_with_state(
                InFlight::with_limit(1),
                shed_load,
            ));
        let get = |path: &str| {
            Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        // A stream and one slow page are in flight: the stream does not count, the page fills the bound.
        let stream = tokio::spawn(router.clone().oneshot(get("/events/vms/1")));
        let first = tokio::spawn(router.clone().oneshot(get("/slow")));
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let refused = router.clone().oneshot(get("/fast")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        release.send(true).unwrap();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(stream.await.unwrap().unwrap().status(), StatusCode::OK);
        // Once the page is answered, there is room again.
        assert_eq!(
            router.oneshot(get("/fast")).await.unwrap().status(),
            StatusCode::OK
        );
    }

    #[test]
    fn a_forwarded_header_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let claim = forwarded("198.51.100.7");
        assert_eq!(resolve_client(stranger, &[proxy], &claim), stranger);
        assert_eq!(resolve_client(stranger, &[], &claim), stranger);
        assert_eq!(
            resolve_client(proxy, &[proxy], &claim),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let edge: IpAddr = "10.0.0.1".parse().unwrap();
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        // The client claims to be 1.1.1.1; the edge proxy appends who really connected.
        let chain = forwarded("1.1.1.1, 198.51.100.7, 10.0.0.1");
        assert_eq!(
            resolve_client(inner, &[edge, inner], &chain),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            resolve_client(inner, &[edge, inner], &forwarded("not an address")),
            inner
        );
        assert_eq!(
            resolve_client(inner, &[edge, inner], &http::HeaderMap::new()),
            inner
        );
    }
}
