//! Request guards applied to every route: cross-site mutation refusal and security headers.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

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

/// Adds headers every response should carry, errors and assets included.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
        ),
    ];
    for (name, value) in fixed {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}
