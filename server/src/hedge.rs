//! Hedged reads: a GET whose answer has not started after [`HEDGE_AFTER`] is handled a second
//! time, and whichever attempt answers first is sent.
//!
//! Why: Leptos' server rendering can, rarely, lose the wake-up of a `<Suspense>` and never finish
//! the page (leptos-rs/leptos#4851, #4673 and #4647 describe it; Meridian's authorization test met
//! it about once in twenty runs of its binary). Every page renders fully before it answers
//! (`SsrMode::Async`), so a stuck render has sent nothing yet; a GET changes nothing, so running it
//! again is safe. The stuck attempt is dropped with the request, freeing what it held.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use std::time::Duration;

/// How long a read may go without answering before it is tried a second time. Pages render in
/// milliseconds; this is far past any healthy render and short enough that a user barely waits.
pub const HEDGE_AFTER: Duration = Duration::from_secs(2);

/// How long a read may take, both attempts together, before the visitor is told to try again.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(20);

/// Runs a GET or HEAD once more if it has not answered after [`HEDGE_AFTER`]; other methods pass
/// through untouched (a change must never run twice), and so do the APIs (a CloudStack command
/// such as `deployVirtualMachine` comes as a GET, and none of them renders a page) and upgrades.
pub async fn hedge_reads(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // An upgrade (the console's WebSocket) is a connection, not a read: it must not be made twice.
    if !matches!(*request.method(), Method::GET | Method::HEAD)
        || path.starts_with("/client/")
        || path.starts_with("/api/")
        || request.headers().contains_key(header::UPGRADE)
    {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let again = copy(&request);
    let first = next.clone().run(request);
    tokio::pin!(first);
    tokio::select! {
        response = &mut first => return response,
        () = tokio::time::sleep(HEDGE_AFTER) => {}
    }
    tracing::warn!(path = %path, wait_ms = HEDGE_AFTER.as_millis() as u64, "read not answered yet: handling it a second time");
    let second = next.run(again);
    let raced = async {
        tokio::select! {
            response = first => response,
            response = second => response,
        }
    };
    match tokio::time::timeout(GIVE_UP_AFTER - HEDGE_AFTER, raced).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(path = %path, wait_ms = GIVE_UP_AFTER.as_millis() as u64, "read not answered by either attempt");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "Meridian took too long to answer. Please try again.",
            )
                .into_response()
        }
    }
}

/// The same read again: method, address, headers and extensions; a GET carries no body.
fn copy(request: &Request) -> Request {
    let mut again = Request::new(Body::empty());
    *again.method_mut() = request.method().clone();
    *again.uri_mut() = request.uri().clone();
    *again.version_mut() = request.version();
    *again.headers_mut() = request.headers().clone();
    *again.extensions_mut() = request.extensions().clone();
    again
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A page whose first render never finishes, like the stuck Suspense, and whose later renders do.
    fn flaky_page(calls: Arc<AtomicUsize>) -> Router {
        let stuck_first = move || {
            let calls = Arc::clone(&calls);
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    std::future::pending::<()>().await;
                }
                "rendered"
            }
        };
        Router::new()
            .route("/page", get(stuck_first.clone()).post(stuck_first))
            .layer(axum::middleware::from_fn(hedge_reads))
    }

    /// The answer, or None if there is none within twice [`GIVE_UP_AFTER`] (of paused time).
    async fn send(router: Router, method: Method) -> Option<(StatusCode, String)> {
        use tower::ServiceExt;
        let request = Request::builder()
            .method(method)
            .uri("/page")
            .body(Body::empty())
            .unwrap();
        let response = tokio::time::timeout(GIVE_UP_AFTER * 2, router.oneshot(request))
            .await
            .ok()?
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        Some((status, String::from_utf8(body.to_vec()).unwrap()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_page_is_rendered_again_and_answers() {
        let calls = Arc::new(AtomicUsize::new(0));
        let answer = send(flaky_page(Arc::clone(&calls)), Method::GET).await;
        assert_eq!(answer, Some((StatusCode::OK, "rendered".to_owned())));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one stuck attempt, one that answered"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_healthy_page_is_rendered_once() {
        let calls = Arc::new(AtomicUsize::new(1));
        let answer = send(flaky_page(Arc::clone(&calls)), Method::GET).await;
        assert_eq!(answer, Some((StatusCode::OK, "rendered".to_owned())));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "rendered exactly once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_is_never_sent_twice() {
        let calls = Arc::new(AtomicUsize::new(0));
        let answer = send(flaky_page(Arc::clone(&calls)), Method::POST).await;
        assert_eq!(answer, None, "the stuck change is still waiting");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "and was not run again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_stuck_every_time_ends_with_try_again() {
        let router = Router::new()
            .route("/page", get(|| std::future::pending::<&'static str>()))
            .layer(axum::middleware::from_fn(hedge_reads));
        let (status, body) = send(router, Method::GET).await.expect("an answer");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("try again"));
    }
}
