//! The real router on a loopback port, driven over HTTP: health, accounts, sessions, origin checks.

use meridian::config::Config;
use meridian_control::Control;
use meridian_control::testing::TestDb;
use reqwest::StatusCode;
use std::time::Duration;

/// A running server on a fresh database, with a cookie-keeping client.
struct TestServer {
    base: String,
    client: reqwest::Client,
    control: Control,
    _db: TestDb,
}

impl TestServer {
    async fn start() -> Self {
        Self::start_with_max_session(Duration::from_secs(3600)).await
    }

    async fn start_with_max_session(session_max: Duration) -> Self {
        let db = TestDb::fresh().await;
        let driver = std::sync::Arc::new(meridian_control::driver::simulated::SimulatedDriver::new(
            meridian_control::driver::simulated::SimTiming::instant(),
            1,
        ));
        let control = Control::new(db.store.clone(), driver).await.unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: db.url.clone(),
            data_dir: std::env::temp_dir(),
            log: "warn".into(),
            site_root: "target/site".into(),
            secure_cookies: false,
            session_idle: Duration::from_secs(3600),
            session_max,
            sim_timing: meridian::config::SimTimingChoice::Fast,
            workers: 1,
            job_lease_ms: 5000,
            demo: false,
        };
        let app = meridian::router(&config, control.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            client: Self::client(),
            control,
            _db: db,
        }
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a form to a server function as the dashboard would (same origin).
    async fn call(&self, client: &reqwest::Client, name: &str, form: &[(&str, &str)]) -> reqwest::Response {
        client
            .post(self.url(&format!("/fn/{name}")))
            .header("Origin", &self.base)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn signup(&self, client: &reqwest::Client, tenant: &str, email: &str) -> reqwest::Response {
        self.call(
            client,
            "account_signup",
            &[("tenant_name", tenant), ("email", email), ("password", PASSWORD)],
        )
        .await
    }

    /// Who the server thinks `client` is: the e-mail, or None.
    async fn whoami(&self, client: &reqwest::Client) -> Option<String> {
        let response = self.call(client, "account_view", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let me: serde_json::Value = response.json().await.unwrap();
        me.get("email").and_then(|e| e.as_str()).map(str::to_owned)
    }
}

const PASSWORD: &str = "correct horse battery staple";

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("meridian.sid="))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn healthz_answers_with_security_headers_and_a_request_id() {
    let server = TestServer::start().await;
    let response = server.client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(!headers["x-request-id"].is_empty());
    let missing = server
        .client
        .get(server.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn signup_sets_a_hardened_session_cookie_and_signs_in() {
    let server = TestServer::start().await;
    let response = server.signup(&server.client, "Acme", "ops@acme.io").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response).expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain-HTTP loopback must not set Secure: {cookie}"
    );
    assert_eq!(
        server.whoami(&server.client).await.as_deref(),
        Some("ops@acme.io")
    );
}

#[tokio::test]
async fn invalid_signup_reports_fields_and_creates_nothing() {
    let server = TestServer::start().await;
    let response = server
        .call(
            &server.client,
            "account_signup",
            &[("tenant_name", "A"), ("email", "nope"), ("password", "short")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(session_cookie(&response).is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    let fields = body["Invalid"]["fields"].as_array().unwrap();
    let names: Vec<&str> = fields.iter().map(|f| f[0].as_str().unwrap()).collect();
    assert_eq!(names, ["tenant_name", "email", "password"]);
    // Nothing was created: the address is still free.
    assert_eq!(
        server
            .signup(&server.client, "Acme", "nope@acme.io")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_renews_the_session_id_and_logout_destroys_the_session() {
    let server = TestServer::start().await;
    let setup = TestServer::client();
    server.signup(&setup, "Acme", "ops@acme.io").await;

    let first = server
        .call(
            &server.client,
            "account_login",
            &[("email", "ops@acme.io"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_cookie = cookie_value(&session_cookie(&first).unwrap());
    // Logging in again while holding a session must issue a new id, and the old id must stop working.
    let second = server
        .call(
            &server.client,
            "account_login",
            &[("email", "ops@acme.io"), ("password", PASSWORD)],
        )
        .await;
    let second_cookie = cookie_value(&session_cookie(&second).unwrap());
    assert_ne!(first_cookie, second_cookie);
    let stale = TestServer::client()
        .post(server.url("/fn/account_view"))
        .header("Cookie", &first_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.text().await.unwrap(), "null");

    assert_eq!(
        server.call(&server.client, "account_logout", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(server.whoami(&server.client).await, None);
    // Replaying the cookie from before logout does not bring the session back.
    let replay = TestServer::client()
        .post(server.url("/fn/account_view"))
        .header("Cookie", &second_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.text().await.unwrap(), "null");
}

#[tokio::test]
async fn wrong_password_is_401_and_sets_no_cookie() {
    let server = TestServer::start().await;
    server.signup(&TestServer::client(), "Acme", "ops@acme.io").await;
    for (email, password) in [
        ("ops@acme.io", "wrong password here"),
        ("ghost@acme.io", PASSWORD),
    ] {
        let response = server
            .call(
                &server.client,
                "account_login",
                &[("email", email), ("password", password)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(session_cookie(&response).is_none());
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!("BadCredentials")
        );
    }
}

#[tokio::test]
async fn cross_site_mutations_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    server.signup(&server.client, "Acme", "ops@acme.io").await;
    let forged = [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ];
    for headers in [&forged[..1], &forged[1..], &forged[..]] {
        let mut request = server
            .client
            .post(server.url("/fn/account_password_change"))
            .form(&[
                ("current_password", PASSWORD),
                ("new_password", "attacker chosen secret"),
            ]);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "cross_site_request");
    }
    // Same-site-but-other-origin (a sibling subdomain) is refused too.
    let sibling = server
        .client
        .post(server.url("/fn/account_logout"))
        .header("Sec-Fetch-Site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(sibling.status(), StatusCode::FORBIDDEN);
    // The password is unchanged and the session still alive.
    assert_eq!(
        server.whoami(&server.client).await.as_deref(),
        Some("ops@acme.io")
    );
    let login = server
        .call(
            &TestServer::client(),
            "account_login",
            &[("email", "ops@acme.io"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
}

#[tokio::test]
async fn pages_redirect_anonymous_visitors_to_login() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url("/settings"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/login");
}

#[tokio::test]
async fn a_session_past_its_absolute_lifetime_is_ended() {
    // A zero lifetime: the session is already too old on the very next request.
    let server = TestServer::start_with_max_session(Duration::ZERO).await;
    let response = server.signup(&server.client, "Acme", "ops@acme.io").await;
    assert_eq!(response.status(), StatusCode::OK);
    // Let the clock move past the log-in millisecond.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(server.whoami(&server.client).await, None);
}

#[tokio::test]
async fn without_demo_mode_there_is_no_demo_to_enter() {
    let server = TestServer::start().await;
    let available = server.call(&server.client, "demo_available", &[]).await;
    assert_eq!(available.status(), StatusCode::OK);
    assert_eq!(available.text().await.unwrap(), "false");
    let login = server.call(&server.client, "demo_login", &[]).await;
    assert_eq!(login.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.whoami(&server.client).await, None);
    let page = server
        .client
        .get(server.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Try the demo"));
}

/// A stale session id (from before a renewal) is nobody.
async fn is_signed_out(server: &TestServer, cookie: &str) -> bool {
    let staff = TestServer::client()
        .post(server.url("/fn/staff_view"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    staff.text().await.unwrap() == "null"
}

#[tokio::test]
async fn staff_log_in_apart_and_the_session_id_is_renewed_at_inspection_start_and_end() {
    let server = TestServer::start().await;
    let tenant = TestServer::client();
    server.signup(&tenant, "Acme", "ops@acme.io").await;
    server
        .control
        .staff_create("sam@meridian.example", PASSWORD, "support")
        .await
        .unwrap();
    let tenant_id = server.control.store().tenant_search("acme", 1).await.unwrap()[0].id.clone();
    // Tenant users do not reach the staff console's functions.
    let refused = server.call(&tenant, "staff_tenants", &[("q", "")]).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    let login = server
        .call(&server.client, "staff_login", &[("email", "sam@meridian.example"), ("password", PASSWORD)])
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let signed_in = cookie_value(&session_cookie(&login).unwrap());
    let start = server
        .call(&server.client, "staff_inspect_start", &[("tenant_id", &tenant_id), ("reason", "ticket 12: a look")])
        .await;
    assert_eq!(start.status(), StatusCode::OK);
    let inspecting = cookie_value(&session_cookie(&start).unwrap());
    assert_ne!(signed_in, inspecting);
    assert!(is_signed_out(&server, &signed_in).await);
    assert_eq!(server.whoami(&server.client).await.as_deref(), Some("sam@meridian.example"));
    let changed = server
        .call(&server.client, "vdc_create", &[("name", "x"), ("zone", "lon1")])
        .await;
    assert_eq!(changed.status(), StatusCode::FORBIDDEN);

    let end = server.call(&server.client, "staff_inspect_end", &[]).await;
    assert_eq!(end.status(), StatusCode::OK);
    let after = cookie_value(&session_cookie(&end).unwrap());
    assert_ne!(after, inspecting);
    assert!(is_signed_out(&server, &inspecting).await);
    assert_eq!(server.whoami(&server.client).await, None);
    assert!(!is_signed_out(&server, &after).await);
}
