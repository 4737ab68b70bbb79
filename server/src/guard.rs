//! Request guards applied to every route: security and caching headers, load shedding, and
//! bounds on how long and how large a request body may be (cross-site refusal: `same_origin`).

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use meridian_app::edge::ClientAddress;
use meridian_control::Control;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::rest::ApiError;

/// The Content-Security-Policy of every response that does not set its own. Pages set theirs with
/// the render's nonce (see `meridian_app::shell`); this one allows no inline script at all.
pub const DEFAULT_CSP: &str = "script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Adds headers every response should carry, errors and assets included; HSTS only when Meridian is
/// served over HTTPS (`https`), since a browser ignores it on plain HTTP and a loopback dev server
/// must not pin itself.
pub async fn security_headers(State(https): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A page carries its policy, with its scripts' nonce, in a `<meta>` too (see `app::shell`):
    // the strict default added to a page whose header went missing would block those scripts.
    let page = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !page {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(DEFAULT_CSP));
    }
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
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
    limit: usize,
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
            limit,
            permits: Arc::new(tokio::sync::Semaphore::new(limit)),
            refused: Arc::default(),
            logged_at_ms: Arc::default(),
        }
    }

    /// How many requests may be in flight at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether a request arriving now would be refused: every slot is taken. The readiness
    /// check says so, so a load balancer sends new work elsewhere while this server catches up.
    pub fn is_full(&self) -> bool {
        self.permits.available_permits() == 0
    }

    /// Counts a refusal, and logs the count at most once a second: an overloaded server must not
    /// also spend itself writing a log line per refused request.
    fn refused(&self) {
        use std::sync::atomic::Ordering;
        self.refused.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("meridian_http_requests_shed_total").increment(1);
        let now = meridian_control::now_ms();
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
    if path.starts_with("/events/") || path == "/healthz" || path == "/readyz" {
        return next.run(request).await;
    }
    match in_flight.permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            in_flight.refused();
            overloaded()
        }
    }
}

/// 503 with `Retry-After`: busy, try again in a moment.
fn overloaded() -> Response {
    let mut response = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "Meridian is busy right now. Please try again in a moment.",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The largest body a server function takes: its inputs are form fields, the largest a 16 KiB
/// cloud-config; a quarter of a MiB leaves room for URL encoding and more.
pub const SERVER_FN_BODY_MAX: usize = 256 * 1024;

/// The largest body any other route takes (the REST and CloudStack APIs): axum's own default.
pub const BODY_MAX: usize = 2 * 1024 * 1024;

/// The largest body a request to `path` may carry.
pub fn body_limit(path: &str) -> usize {
    if path.starts_with("/fn/") {
        SERVER_FN_BODY_MAX
    } else {
        BODY_MAX
    }
}

/// Bodies being received at once, per load-shedding slot: enough for every slot's next request
/// and clients on slow links, while bounding the memory bodies in flight take
/// ([`BODY_MAX`] each at most).
pub const RECEIVING_PER_SLOT: usize = 4;

/// How long a body may take to arrive, and the bound on bodies being received at once.
#[derive(Clone)]
pub struct BodyGuard {
    timeout: Duration,
    receiving: Arc<tokio::sync::Semaphore>,
}

impl BodyGuard {
    /// Bodies get `timeout` each, and at most `receiving` are received at once.
    pub fn new(timeout: Duration, receiving: usize) -> Self {
        Self {
            timeout,
            receiving: Arc::new(tokio::sync::Semaphore::new(receiving)),
        }
    }
}

/// Receives a request's whole body before the request goes further, within the guard's timeout
/// from its first byte to its last and within [`body_limit`] bytes; too slow is `408` (and the
/// connection is closed: what remains of the body is never read), too large `413`, announced too
/// large in `Content-Length` is refused before a byte of it is read. This runs outside load
/// shedding, so a client trickling a body never holds one of the slots real work needs, and
/// however slowly it sends, it is cut off at the timeout. Bodies received at once are bounded
/// too (their memory): past the bound a request with a body is `503`, while requests without one
/// (pages, reads) are not affected.
pub async fn receive_body(State(guard): State<BodyGuard>, request: Request, next: Next) -> Response {
    let timeout = guard.timeout;
    let limit = body_limit(request.uri().path());
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return too_large(limit);
    }
    let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
    if !chunked && announced.is_none_or(|length| length == 0) {
        return next.run(request).await;
    }
    let Ok(receiving) = guard.receiving.clone().try_acquire_owned() else {
        return overloaded();
    };
    let (parts, body) = request.into_parts();
    let received = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await;
    drop(receiving);
    match received {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Ok(Err(error)) => {
            let is_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if is_limit {
                too_large(limit)
            } else {
                tracing::info!(error.detail = %error, "request body not received");
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "The request's body could not be read.",
                )
                .into_response()
            }
        }
        Err(_) => {
            tracing::info!(
                path = %parts.uri.path(),
                timeout_ms = timeout.as_millis() as u64,
                "request body too slow: refused with 408"
            );
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "The request's body did not arrive in time.",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

fn too_large(limit: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "The request's body is larger than this route takes ({} KiB).",
            limit / 1024
        ),
    )
    .into_response()
}

/// The longest request target (path and query) the router takes: far beyond any real link.
pub const URI_MAX: usize = 8 * 1024;
/// The most header bytes (names and values) the router takes.
pub const HEADER_BYTES_MAX: usize = 64 * 1024;
/// The most header lines the router takes.
pub const HEADERS_MAX: usize = 128;

/// Refuses a request whose target is longer than [`URI_MAX`] (`414`) or whose headers exceed
/// [`HEADERS_MAX`] lines or [`HEADER_BYTES_MAX`] bytes (`431`). hyper has limits of its own, set
/// above these (see `serve`), and answers them itself without the security headers; these answer
/// first, through every guard, in the API's JSON shape.
pub async fn refuse_oversized_head(request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if uri_len > URI_MAX {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("The request's address is longer than {} KiB.", URI_MAX / 1024),
        )
        .into_response();
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > HEADERS_MAX || bytes > HEADER_BYTES_MAX {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "The request's headers are too large (at most {HEADERS_MAX} lines and {} KiB).",
                HEADER_BYTES_MAX / 1024
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// Server functions take forms only (`application/x-www-form-urlencoded`, what the dashboard
/// sends); a POST whose body is of another type is `415` before any decoding is tried. A POST
/// without a body (a function without arguments) needs no type.
pub async fn server_fn_body_type(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length != "0");
    let is_fn_post = request.uri().path().starts_with("/fn/")
        && request.method() == http::Method::POST
        && (has_body || headers.contains_key(header::CONTENT_TYPE));
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
    if is_fn_post && !is_form {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send server function arguments as a form (Content-Type: application/x-www-form-urlencoded).",
        )
        .into_response();
    }
    next.run(request).await
}

/// A dashboard form posted by the browser itself (no WASM yet, or none at all) is answered with a
/// redirect: back to the page, with the error in its query when it was refused (Leptos sets the
/// `Location`; a refusal's status, e.g. 422, would otherwise leave the browser on a JSON body).
/// `303 See Other`, so the page is fetched with GET and a reload does not post twice.
///
/// The page shows that error in its alert, so the query carries a seal too (`__sig`, made by
/// [`Control::form_error_seal`], good for [`FORM_ERROR_TTL_S`]): a page asked for with an error
/// that is not sealed, or sealed too long ago, is sent to itself without it. A link cannot put
/// words of its own into Meridian's log-in page.
pub async fn plain_forms(State(control): State<Control>, request: Request, next: Next) -> Response {
    let now_s = meridian_control::now_ms().max(0) as u64 / 1000;
    if request.method() == http::Method::GET {
        let uri = request.uri();
        if let Some(query) = uri.query().filter(|q| query_get(q, "__err").is_some())
            && !form_error_sealed(&control, query, now_s)
        {
            let rest = query_without(query, &["__path", "__err", "__sig"]);
            let location = if rest.is_empty() {
                uri.path().to_owned()
            } else {
                format!("{}?{rest}", uri.path())
            };
            return see_other(&location);
        }
        return next.run(request).await;
    }
    let plain_form = request.method() == http::Method::POST
        && request.uri().path().starts_with("/fn/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    let response = next.run(request).await;
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (true, Some(location)) = (plain_form, location) else {
        return response;
    };
    let (base, query) = location.split_once('?').unwrap_or((&location, ""));
    let mut query = query_without(query, &["__sig"]);
    if let (Some(path), Some(error)) = (query_get(&query, "__path"), query_get(&query, "__err")) {
        let seal = control.form_error_seal(now_s, path, error);
        query = format!("{query}&__sig={now_s}.{seal}");
    }
    let location = if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    };
    let Ok(location) = HeaderValue::from_str(&location) else {
        return response;
    };
    // The rest of the answer stays (a new session's cookie, after a log-in); its body goes.
    let (mut parts, _body) = response.into_parts();
    parts.status = StatusCode::SEE_OTHER;
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::LOCATION, location);
    Response::from_parts(parts, axum::body::Body::empty())
}

/// How long a refused form's sealed error is shown on its page: the redirect follows at once,
/// a reload soon after still shows it.
pub const FORM_ERROR_TTL_S: u64 = 120;

fn form_error_sealed(control: &Control, query: &str, now_s: u64) -> bool {
    let (Some(path), Some(error), Some(sig)) = (
        query_get(query, "__path"),
        query_get(query, "__err"),
        query_get(query, "__sig"),
    ) else {
        return false;
    };
    let Some((at, seal)) = sig.split_once('.') else {
        return false;
    };
    let Ok(at_s) = at.parse::<u64>() else {
        return false;
    };
    at_s <= now_s + 5
        && now_s.saturating_sub(at_s) <= FORM_ERROR_TTL_S
        && control.form_error_seal_valid(at_s, path, error, seal)
}

/// The raw (still percent-encoded) value of `key` in a query string.
fn query_get<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The query string without the pairs named in `keys`.
fn query_without(query: &str, keys: &[&str]) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && !keys.contains(&pair.split('=').next().unwrap_or(pair)))
        .collect::<Vec<_>>()
        .join("&")
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// What a response that shows tenant or staff data carries: no cache on the way, shared or the
/// browser's own, may keep it (a shared computer's back button, a proxy's disk).
pub const NO_STORE: &str = "private, no-store";

/// What a file named by a hash of its content carries (`/pkg/meridian.<hash>.wasm`): any cache
/// may keep it for a year without asking again, since a new build is a new name.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What the other static files carry (the icon, xterm.js): kept, but checked with the server
/// (`If-Modified-Since`) before each use, so a new build is seen at once.
pub const REVALIDATE: &str = "no-cache";

/// Marks every answer `Cache-Control: private, no-store`, pages, server functions, REST, CloudStack
/// and CSV exports alike, except the static assets: the built bundle under `/pkg/` and the
/// public files (images and styles), which are [`IMMUTABLE`] when named by their content and
/// [`REVALIDATE`] otherwise. An answer that sets its own `Cache-Control` keeps it.
pub async fn no_store(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let under_pkg = path.starts_with("/pkg/");
    let content_named = under_pkg && is_content_named(path);
    let mut response = next.run(request).await;
    let is_asset = under_pkg
        || response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_asset_type);
    let policy = match (is_asset, response.status().is_success()) {
        (false, _) => NO_STORE,
        (true, true) if content_named => IMMUTABLE,
        (true, true) => REVALIDATE,
        (true, false) => return response,
    };
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(policy));
    response
}

/// Whether a file's name carries the hash of its content, as `scripts/build.sh` names the bundle:
/// `name.<16 hex digits>.ext`.
fn is_content_named(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let mut parts = name.split('.');
    let (Some(_stem), Some(hash), Some(_ext), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Content types only static files have: images, styles, scripts, WebAssembly, fonts.
fn is_asset_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.starts_with("image/")
        || essence.starts_with("font/")
        || matches!(
            essence,
            "text/css" | "text/javascript" | "application/javascript" | "application/wasm" | "text/markdown"
        )
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
        let in_flight = InFlight::with_limit(1);
        let router = axum::Router::new()
            .route("/slow", axum::routing::get(slow.clone()))
            .route("/events/vms/1", axum::routing::get(slow))
            .route("/fast", axum::routing::get(|| async { "fast" }))
            .layer(axum::middleware::from_fn_with_state(in_flight.clone(), shed_load));
        assert!(!in_flight.is_full());
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
        // The readiness check sees it.
        assert!(in_flight.is_full());
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

    #[tokio::test]
    async fn bodies_received_at_once_are_bounded_and_requests_without_one_pass() {
        use tower::ServiceExt;
        let router = axum::Router::new()
            .route(
                "/",
                axum::routing::get(|| async { "read" }).post(|body: String| async move { body }),
            )
            .layer(axum::middleware::from_fn_with_state(
                BodyGuard::new(Duration::from_secs(30), 1),
                receive_body,
            ));
        // One body arrives slowly and holds the only reception place.
        let (sender, stalled) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
        sender.send(Ok("a".into())).await.unwrap();
        let slow = Request::post("/")
            .header(header::CONTENT_LENGTH, "100")
            .body(axum::body::Body::from_stream(tokio_stream_of(stalled)))
            .unwrap();
        let slow = tokio::spawn(router.clone().oneshot(slow));
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let another = Request::post("/")
            .header(header::CONTENT_LENGTH, "2")
            .body(axum::body::Body::from("hi"))
            .unwrap();
        let refused = router.clone().oneshot(another).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        let read = Request::get("/").body(axum::body::Body::empty()).unwrap();
        assert_eq!(
            router.clone().oneshot(read).await.unwrap().status(),
            StatusCode::OK
        );
        drop(sender);
        // The slow one ends (its sender gone: the body is short) and frees its place.
        let _ = slow.await.unwrap();
        let again = Request::post("/")
            .header(header::CONTENT_LENGTH, "2")
            .body(axum::body::Body::from("hi"))
            .unwrap();
        assert_eq!(router.oneshot(again).await.unwrap().status(), StatusCode::OK);
    }

    /// A stream of the chunks `receiver` gets, ending when its sender is dropped.
    fn tokio_stream_of(
        receiver: tokio::sync::mpsc::Receiver<Result<axum::body::Bytes, std::io::Error>>,
    ) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> {
        futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        })
    }

    #[tokio::test]
    async fn data_is_marked_no_store_and_assets_are_cached_by_how_they_are_named() {
        use tower::ServiceExt;
        let router = axum::Router::new()
            .route(
                "/page",
                axum::routing::get(|| async { axum::response::Html("<p>tenant</p>") }),
            )
            .route(
                "/data.csv",
                axum::routing::get(|| async { ([(header::CONTENT_TYPE, "text/csv")], "a,b") }),
            )
            .route(
                "/favicon.svg",
                axum::routing::get(|| async { ([(header::CONTENT_TYPE, "image/svg+xml")], "<svg/>") }),
            )
            .route("/pkg/meridian.js", axum::routing::get(|| async { "js" }))
            .route(
                "/pkg/meridian.0123456789abcdef.wasm",
                axum::routing::get(|| async { "wasm" }),
            )
            .route(
                "/pkg/meridian.0123456789abcdef.wasm.br",
                axum::routing::get(|| async { "a name that is not the build's" }),
            )
            .layer(axum::middleware::from_fn(no_store));
        let cache_control = |path: &'static str| {
            let router = router.clone();
            async move {
                let request = Request::builder()
                    .uri(path)
                    .body(axum::body::Body::empty())
                    .unwrap();
                let response = router.oneshot(request).await.unwrap();
                response
                    .headers()
                    .get(header::CACHE_CONTROL)
                    .map(|v| v.to_str().unwrap().to_owned())
            }
        };
        assert_eq!(cache_control("/page").await.as_deref(), Some(NO_STORE));
        assert_eq!(cache_control("/data.csv").await.as_deref(), Some(NO_STORE));
        assert_eq!(cache_control("/nowhere").await.as_deref(), Some(NO_STORE));
        assert_eq!(cache_control("/favicon.svg").await.as_deref(), Some(REVALIDATE));
        assert_eq!(
            cache_control("/pkg/meridian.js").await.as_deref(),
            Some(REVALIDATE)
        );
        assert_eq!(
            cache_control("/pkg/meridian.0123456789abcdef.wasm")
                .await
                .as_deref(),
            Some(IMMUTABLE)
        );
        assert_eq!(
            cache_control("/pkg/meridian.0123456789abcdef.wasm.br")
                .await
                .as_deref(),
            Some(REVALIDATE)
        );
        // A missing asset is not cached as if it existed.
        assert_eq!(cache_control("/pkg/meridian.fedcba9876543210.js").await, None);
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
