//! Hedged reads: a GET whose answer has not started after [`HEDGE_AFTER`] is handled a second
//! time, and whichever attempt answers first is sent.
//!
//! Why: Leptos' server rendering can, rarely, lose the wake-up of a `<Suspense>` and never finish
//! the page (leptos-rs/leptos#4851, #4673 and #4647 describe it; Meridian's authorization test met
//! it about once in twenty runs of its binary). Every page renders fully before it answers
//! (`SsrMode::Async`), so a stuck render has sent nothing yet; a GET changes nothing, so running it
//! again is safe. The stuck attempt is dropped with the request, freeing what it held.
//!
//! A stuck render is alone; an overloaded server makes many reads slow at once, and running each
//! of them twice would add to the load that made them slow (issue 24). So a read is tried again
//! only while fewer than [`OVERLOADED_AT`] reads are past [`HEDGE_AFTER`], this one included;
//! otherwise it waits for its first attempt like any other request.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a read may go without answering before it is tried a second time. Pages render in
/// milliseconds; this is far past any healthy render and short enough that a user barely waits.
pub const HEDGE_AFTER: Duration = Duration::from_secs(2);

/// How long a read may take, both attempts together, before the visitor is told to try again.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(20);

/// How many reads past [`HEDGE_AFTER`] at once mean the server is overloaded rather than one
/// render stuck: from this many on, none is tried a second time.
pub const OVERLOADED_AT: usize = 3;

/// The reads of one server that are past [`HEDGE_AFTER`] and not answered yet.
#[derive(Debug, Default)]
pub struct SlowReads(AtomicUsize);

impl SlowReads {
    /// Counts one more slow read until the returned guard is dropped; says whether the server
    /// looks overloaded, this read included.
    fn enter(self: &Arc<Self>) -> (SlowRead, bool) {
        let now = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        (SlowRead(Arc::clone(self)), now >= OVERLOADED_AT)
    }
}

/// One slow read, counted while it lives.
struct SlowRead(Arc<SlowReads>);

impl Drop for SlowRead {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs a GET or HEAD once more if it has not answered after [`HEDGE_AFTER`] and the server is
/// not overloaded; other methods pass through untouched (a change must never run twice), and so
/// do the APIs (a CloudStack command such as `deployVirtualMachine` comes as a GET, and none of
/// them renders a page) and upgrades.
pub async fn hedge_reads(
    axum::extract::State(slow): axum::extract::State<Arc<SlowReads>>,
    request: Request,
    next: Next,
) -> Response {
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
    let (_slow, overloaded) = slow.enter();
    let raced = async {
        if overloaded {
            tracing::warn!(path = %path, wait_ms = HEDGE_AFTER.as_millis() as u64, "read not answered yet, among many: not handled a second time");
            return first.await;
        }
        tracing::warn!(path = %path, wait_ms = HEDGE_AFTER.as_millis() as u64, "read not answered yet: handling it a second time");
        let second = next.run(again);
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
            .layer(axum::middleware::from_fn_with_state(Arc::default(), hedge_reads))
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
            .layer(axum::middleware::from_fn_with_state(Arc::default(), hedge_reads));
        let (status, body) = send(router, Method::GET).await.expect("an answer");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("try again"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_overloaded_server_does_not_run_slow_reads_twice() {
        // Every read takes 5 s (past HEDGE_AFTER, within GIVE_UP_AFTER): the server is slow for all.
        let calls = Arc::new(AtomicUsize::new(0));
        let slow = {
            let calls = Arc::clone(&calls);
            move || {
                let calls = Arc::clone(&calls);
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "rendered"
                }
            }
        };
        let router = Router::new()
            .route("/page", get(slow))
            .layer(axum::middleware::from_fn_with_state(Arc::default(), hedge_reads));
        let reads = (0..5).map(|_| send(router.clone(), Method::GET));
        let answers = futures_util::future::join_all(reads).await;
        assert!(
            answers
                .iter()
                .all(|a| a == &Some((StatusCode::OK, "rendered".to_owned())))
        );
        // The first OVERLOADED_AT - 1 slow reads may look like stuck renders and be tried again;
        // from then on the server is overloaded and no read is.
        assert_eq!(
            calls.load(Ordering::SeqCst),
            5 + (OVERLOADED_AT - 1),
            "five reads, and a second attempt only for those before the server counted as overloaded"
        );
    }
}
