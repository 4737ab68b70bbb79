//! Cross-site request refusal: a state-changing request carrying the session cookie must prove it
//! came from one of Meridian's own pages.
//!
//! Browsers say where a request comes from: `Sec-Fetch-Site` (anything but `same-origin` or `none`
//! is refused) and `Origin` (which must be Meridian's public origin, scheme included). A browser
//! that sends neither with a cookie must show the session's form token instead, which every page
//! carries in its forms (`meridian_app::components::form::FormToken`) and which another site cannot
//! read. Requests without the session cookie (API keys, CloudStack signatures, a first log-in)
//! carry no ambient authority and pass.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use meridian_app::edge::cookie;
use meridian_control::Control;
use meridian_core::form_token;

use meridian_core::form_token::SESSION_COOKIE;

/// What the check needs: the public origin, when configured, and the control plane (which checks
/// form tokens with the server's secret).
#[derive(Clone)]
pub struct SameOrigin {
    /// `scheme://host[:port]` of `--public-url`; without one, `http://` and the request's `Host`.
    pub public_origin: Option<String>,
    /// Checks form tokens.
    pub control: Control,
}

/// What the browser's headers say about a request's origin.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// From one of Meridian's pages (or typed into the address bar).
    Same,
    /// From another site.
    Cross,
    /// Neither header: the browser did not say.
    Unsaid,
}

/// Refuses a state-changing request that came from another site (see the module's documentation).
pub async fn refuse_cross_site(State(guard): State<SameOrigin>, request: Request, next: Next) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    match verdict(&request, guard.public_origin.as_deref()) {
        Verdict::Same => next.run(request).await,
        Verdict::Cross => refused(
            "cross_site_request",
            "This request came from another site and was refused.",
        ),
        Verdict::Unsaid => {
            let Some(session) = cookie(request.headers(), SESSION_COOKIE).map(str::to_owned) else {
                return next.run(request).await;
            };
            // The body is already received whole (`guard::receive_body`), so reading it is cheap.
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return refused(
                    "cross_site_request",
                    "This request came from another site and was refused.",
                );
            };
            let presented = parts
                .headers
                .get(form_token::HEADER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
                .or_else(|| form_field(&parts.headers, &bytes, form_token::FORM_FIELD));
            if presented.is_some_and(|token| guard.control.form_token_valid(&session, &token)) {
                next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                    .await
            } else {
                tracing::warn!(path = %parts.uri.path(), "request without origin headers or form token refused");
                refused(
                    "form_token_missing",
                    "This request did not come from a Meridian page: reload the page and try again.",
                )
            }
        }
    }
}

fn refused(code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// Whether a request came from one of Meridian's own pages by its headers alone, for a request
/// that has no form token to show: a WebSocket upgrade (the serial console, `crate::console`).
/// Stricter than [`refuse_cross_site`]: the `Origin` must be there, since browsers send it on
/// every WebSocket request.
pub fn from_own_page(headers: &http::HeaderMap, public_origin: Option<&str>) -> bool {
    headers.contains_key(header::ORIGIN) && verdict_of(headers, public_origin) == Verdict::Same
}

/// The refusal of a request from another site.
pub fn cross_site_refusal() -> Response {
    refused(
        "cross_site_request",
        "This request came from another site and was refused.",
    )
}

fn verdict(request: &Request, public_origin: Option<&str>) -> Verdict {
    verdict_of(request.headers(), public_origin)
}

fn verdict_of(headers: &http::HeaderMap, public_origin: Option<&str>) -> Verdict {
    let site = headers.get("sec-fetch-site").map(|site| site.as_bytes());
    if site.is_some_and(|site| site != b"same-origin" && site != b"none") {
        return Verdict::Cross;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return if site.is_some() {
            Verdict::Same
        } else {
            Verdict::Unsaid
        };
    };
    let expected = match public_origin {
        Some(origin) => Some(origin.to_owned()),
        None => headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(|host| format!("http://{host}")),
    };
    match (origin.to_str(), expected) {
        (Ok(origin), Some(expected)) if origin.eq_ignore_ascii_case(&expected) => Verdict::Same,
        _ => Verdict::Cross,
    }
}

/// A field of a form-encoded body.
fn form_field(headers: &http::HeaderMap, body: &[u8], name: &str) -> Option<String> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return None;
    }
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The origin (`scheme://host[:port]`, lower-case) of a public URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || !matches!(scheme, "http" | "https") {
        return None;
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::post("/fn/vdc_create");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn the_origin_must_be_the_public_one_scheme_included() {
        let public = Some("https://cloud.example");
        let same = request(&[("origin", "https://cloud.example"), ("host", "cloud.example")]);
        assert_eq!(verdict(&same, public), Verdict::Same);
        let plain = request(&[("origin", "http://cloud.example"), ("host", "cloud.example")]);
        assert_eq!(verdict(&plain, public), Verdict::Cross, "the scheme counts");
        let other = request(&[("origin", "https://evil.example"), ("host", "cloud.example")]);
        assert_eq!(verdict(&other, public), Verdict::Cross);
        // Without a configured public URL the server speaks plain HTTP at its Host.
        let local = request(&[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")]);
        assert_eq!(verdict(&local, None), Verdict::Same);
        let tls = request(&[("origin", "https://127.0.0.1:3000"), ("host", "127.0.0.1:3000")]);
        assert_eq!(verdict(&tls, None), Verdict::Cross);
        assert_eq!(
            verdict(&request(&[("sec-fetch-site", "same-site")]), None),
            Verdict::Cross
        );
        assert_eq!(
            verdict(&request(&[("sec-fetch-site", "same-origin")]), None),
            Verdict::Same
        );
        assert_eq!(verdict(&request(&[]), None), Verdict::Unsaid);
    }

    #[test]
    fn a_websocket_must_name_meridian_as_its_origin() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = http::HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, value.parse().unwrap());
            }
            map
        };
        let public = Some("https://cloud.example");
        assert!(from_own_page(
            &headers(&[("origin", "https://cloud.example")]),
            public
        ));
        assert!(from_own_page(
            &headers(&[
                ("origin", "https://cloud.example"),
                ("sec-fetch-site", "same-origin")
            ]),
            public
        ));
        assert!(!from_own_page(
            &headers(&[("origin", "https://evil.example")]),
            public
        ));
        assert!(
            !from_own_page(
                &headers(&[
                    ("origin", "https://cloud.example"),
                    ("sec-fetch-site", "cross-site")
                ]),
                public
            ),
            "the browser's word on the site counts too"
        );
        assert!(
            !from_own_page(&headers(&[("sec-fetch-site", "same-origin")]), public),
            "no Origin, no console"
        );
        assert!(!from_own_page(&headers(&[]), None));
    }

    #[test]
    fn public_urls_reduce_to_their_origin() {
        assert_eq!(
            origin_of("https://Cloud.Example/dashboard").as_deref(),
            Some("https://cloud.example")
        );
        assert_eq!(
            origin_of("https://cloud.example:443").as_deref(),
            Some("https://cloud.example")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(origin_of("ftp://x"), None);
    }

    #[test]
    fn the_session_cookie_and_a_form_field_are_found_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; meridian.sid=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert_eq!(
            form_field(&headers, b"name=web&form_token=t%2B1", "form_token").as_deref(),
            Some("t+1")
        );
    }
}
