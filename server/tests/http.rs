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
        Self::start_with(Duration::from_secs(3600), Duration::from_secs(3600), &[]).await
    }

    async fn start_with_max_session(session_max: Duration) -> Self {
        Self::start_with(Duration::from_secs(3600), session_max, &[]).await
    }

    /// A server with these session timeouts, believing `X-Forwarded-For` from `trusted_proxies`.
    async fn start_with(session_idle: Duration, session_max: Duration, trusted_proxies: &[&str]) -> Self {
        Self::start_configured(
            session_idle,
            session_max,
            trusted_proxies,
            (Duration::from_secs(10), Duration::from_secs(30)),
        )
        .await
    }

    /// A server as [`Self::start_with`], which gives clients `timeouts` (headers, body) to send a
    /// request.
    async fn start_configured(
        session_idle: Duration,
        session_max: Duration,
        trusted_proxies: &[&str],
        timeouts: (Duration, Duration),
    ) -> Self {
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
            public_origin: None,
            session_idle,
            session_max,
            sim_timing: meridian::config::SimTimingChoice::Fast,
            driver: meridian::config::DriverChoice::Simulated,
            reconcile_every: std::time::Duration::from_secs(15),
            orphan_grace: std::time::Duration::from_secs(60),
            meter_every: std::time::Duration::from_secs(60),
            workers: 1,
            job_lease_ms: 5000,
            demo: false,
            trusted_proxies: trusted_proxies.iter().map(|p| p.parse().unwrap()).collect(),
            header_timeout: timeouts.0,
            body_timeout: timeouts.1,
            cloudstack_require_expires: false,
            metrics_listen: None,
            log_format: meridian::config::LogFormat::Text,
        };
        let app = meridian::router(&config, control.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(meridian::serve(
            listener,
            app,
            config.header_timeout,
            std::future::pending(),
        ));
        Self {
            base,
            client: Self::client(),
            control,
            _db: db,
        }
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            // A request the server never answers fails the test, naming its URL, instead of
            // holding the whole test run until CI's own limit.
            .timeout(REQUEST_DEADLINE)
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

/// The longest any request in these tests may take, answer and body: a second is usual, this is
/// generous for a loaded machine.
const REQUEST_DEADLINE: Duration = Duration::from_secs(90);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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
        .header("Origin", &server.base)
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
        .header("Origin", &server.base)
        .header("Cookie", &second_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.text().await.unwrap(), "null");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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

/// A create refused for its input (parsed at the edge, before any action) is still in the tenant's
/// audit log, as every refused change is, whichever door it came through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_refused_for_its_input_is_audited_from_the_dashboard() {
    let server = TestServer::start().await;
    server.signup(&server.client, "Acme", "ops@acme.io").await;
    let vdc = server
        .json(
            &server.client,
            "vdc_create",
            &[("name", "main"), ("zone", "lon1")],
        )
        .await;
    let vdc = vdc["id"].as_str().unwrap().to_owned();
    let refused = server
        .call(
            &server.client,
            "vm_create",
            &[
                ("vdc_id", &vdc),
                ("name", "Web 1"),
                ("template", "debian-12"),
                ("size", "xs"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let rule = server
        .call(
            &server.client,
            "firewall_rule_create",
            &[
                ("zone", "lon1"),
                ("protocol", "tcp"),
                ("port_from", "99999"),
                ("source", "0.0.0.0/0"),
            ],
        )
        .await;
    assert_eq!(rule.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let audit = server.json(&server.client, "audit_list", &[]).await;
    let entries = audit.as_array().unwrap();
    for (action, target) in [
        ("vm.create", "Web 1"),
        ("firewall.rule_create", "lon1: tcp 99999- from 0.0.0.0/0"),
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == action
                && e["target"] == target
                && e["result"].as_str().is_some_and(|r| r != "ok")),
            "{action} refused is recorded: {entries:?}"
        );
    }
    assert!(
        server
            .json(&server.client, "vm_list", &[])
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// A browser that sends neither `Origin` nor `Sec-Fetch-Site` (older ones, or a form posted by a
/// page of another site in one) gets in only with the form token its own pages carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cookie_mutation_without_origin_headers_needs_the_pages_form_token() {
    let server = TestServer::start().await;
    server.signup(&server.client, "Acme", "ops@acme.io").await;
    let bare = |form: &[(&str, &str)]| server.client.post(server.url("/fn/vdc_create")).form(form).send();
    // No headers and no token: refused, and nothing is made.
    let refused = bare(&[("name", "forged"), ("zone", "lon1")]).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "form_token_missing");
    // The same as text/plain (which a form of another site can send) is refused as well.
    let plain = server
        .client
        .post(server.url("/fn/vdc_create"))
        .header("Content-Type", "text/plain")
        .body("name=forged&zone=lon1")
        .send()
        .await
        .unwrap();
    assert!(plain.status().is_client_error(), "{}", plain.status());
    // Another session's token is no proof for this one.
    let other = TestServer::client();
    server.signup(&other, "Other", "ops@other.io").await;
    let page_token = |client: reqwest::Client| {
        let url = server.url("/vdcs");
        async move {
            let html = client.get(url).send().await.unwrap().text().await.unwrap();
            let start = html
                .find("name=\"meridian-form-token\" content=\"")
                .expect("the page carries its token")
                + "name=\"meridian-form-token\" content=\"".len();
            html[start..start + html[start..].find('"').unwrap()].to_owned()
        }
    };
    let others = page_token(other.clone()).await;
    assert!(!others.is_empty());
    let stolen = bare(&[("name", "forged"), ("zone", "lon1"), ("form_token", &others)])
        .await
        .unwrap();
    assert_eq!(stolen.status(), StatusCode::FORBIDDEN);
    assert!(
        server
            .json(&server.client, "vdc_list", &[])
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
    // The token of its own page lets the form in, as a form posted before the script loads.
    let own = page_token(server.client.clone()).await;
    let created = bare(&[("name", "main"), ("zone", "lon1"), ("form_token", &own)])
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(
        server
            .json(&server.client, "vdc_list", &[])
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An Origin of this host but another scheme is another site.
    let https = server.base.replacen("http://", "https://", 1);
    let wrong_scheme = server
        .client
        .post(server.url("/fn/vdc_create"))
        .header("Origin", https)
        .form(&[("name", "other"), ("zone", "lon1")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_scheme.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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
    // The staff console's pages, to the staff log-in.
    for path in ["/staff", "/staff/jobs"] {
        let response = server
            .client
            .get(server.url(path))
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "{path}");
        assert_eq!(response.headers()["location"], "/staff/login", "{path}");
    }
}

/// A page answers only once it is wholly rendered: so a redirect or a 404 keeps its status, and a
/// render that got stuck has sent nothing and can be run again (see `meridian::hedge`).
#[tokio::test]
async fn every_page_renders_whole_before_it_answers() {
    for listing in leptos_axum::generate_route_list(meridian_app::App) {
        assert!(
            matches!(listing.mode(), leptos_router::SsrMode::Async),
            "{} streams ({:?})",
            listing.path(),
            listing.mode()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_past_its_absolute_lifetime_is_ended() {
    // A zero lifetime: the session is already too old on the very next request.
    let server = TestServer::start_with_max_session(Duration::ZERO).await;
    let response = server.signup(&server.client, "Acme", "ops@acme.io").await;
    assert_eq!(response.status(), StatusCode::OK);
    // Let the clock move past the log-in millisecond.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(server.whoami(&server.client).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_left_idle_past_its_timeout_is_ended_and_use_keeps_it_alive() {
    let server = TestServer::start_with(Duration::from_secs(2), Duration::from_secs(3600), &[]).await;
    server.signup(&server.client, "Acme", "ops@acme.io").await;
    // Used more often than the timeout, for longer than it: still signed in.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(
            server.whoami(&server.client).await.as_deref(),
            Some("ops@acme.io")
        );
    }
    // Left alone past it: signed out, on the server too.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(server.whoami(&server.client).await, None);
}

/// Logs in as `email` with `password` from `client`, claiming to come from `forwarded_for`.
async fn login_attempt(
    server: &TestServer,
    email: &str,
    password: &str,
    forwarded_for: &str,
) -> reqwest::Response {
    TestServer::client()
        .post(server.url("/fn/account_login"))
        .header("Origin", &server.base)
        .header("X-Forwarded-For", forwarded_for)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Spends a client address's whole log-in budget on wrong guesses at made-up accounts.
async fn use_up_address(server: &TestServer, forwarded_for: &str) {
    for i in 0..meridian_core::throttle::PER_ADDRESS.limit {
        let wrong = login_attempt(server, &format!("user{i}@acme.io"), PASSWORD, forwarded_for).await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guessing_one_accounts_password_is_stopped_with_429_and_retry_after() {
    let server = TestServer::start().await;
    server.signup(&TestServer::client(), "Acme", "ops@acme.io").await;
    server
        .signup(&TestServer::client(), "Bravo", "dev@bravo.io")
        .await;
    let limit = meridian_core::throttle::PER_PAIR.limit;
    // A client rotating made-up forwarded addresses is still one address: the header is not trusted.
    for i in 0..limit {
        let wrong = login_attempt(
            &server,
            "ops@acme.io",
            "not the password",
            &format!("198.51.100.{i}"),
        )
        .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = login_attempt(&server, "OPS@acme.io", PASSWORD, "198.51.100.200").await;
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!((1..=15 * 60).contains(&retry_after(&refused)));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body.to_string()
            .contains("Too many attempts. Try again in 15 minutes."),
        "{body}"
    );
    // Another account from the same address is not locked out by it.
    let other = login_attempt(&server, "dev@bravo.io", PASSWORD, "198.51.100.1").await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_address_guessing_many_accounts_is_stopped() {
    let server = TestServer::start().await;
    server.signup(&TestServer::client(), "Acme", "ops@acme.io").await;
    use_up_address(&server, "203.0.113.5").await;
    let refused = login_attempt(&server, "ops@acme.io", PASSWORD, "203.0.113.6").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused) >= 1);
    // Staff log-in from that address waits too.
    let staff = TestServer::client()
        .post(server.url("/fn/staff_login"))
        .header("Origin", &server.base)
        .form(&[("email", "ivy@meridian.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(staff.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let server = TestServer::start_with(
        Duration::from_secs(3600),
        Duration::from_secs(3600),
        &["127.0.0.1"],
    )
    .await;
    server.signup(&TestServer::client(), "Acme", "ops@acme.io").await;
    use_up_address(&server, "203.0.113.5").await;
    let blocked = login_attempt(&server, "ops@acme.io", PASSWORD, "203.0.113.5").await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    let neighbour = login_attempt(&server, "ops@acme.io", PASSWORD, "203.0.113.6").await;
    assert_eq!(
        neighbour.status(),
        StatusCode::OK,
        "another client behind the proxy is not blocked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guessers_cannot_lock_the_owner_out_of_a_browser_that_logged_in_before() {
    let server = TestServer::start_with(
        Duration::from_secs(3600),
        Duration::from_secs(3600),
        &["127.0.0.1"],
    )
    .await;
    server.signup(&TestServer::client(), "Acme", "ops@acme.io").await;
    // The owner's browser logs in once and is given a known-device cookie.
    let browser = TestServer::client();
    let first = server
        .call(
            &browser,
            "account_login",
            &[("email", "ops@acme.io"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let device = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("meridian.device="))
        .expect("a known-device cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/fn"] {
        assert!(device.contains(attribute), "{device}");
    }
    server.call(&browser, "account_logout", &[]).await;
    // Guessers on many addresses spend the account's whole budget, and the pair's at one of them.
    for i in 0..meridian_core::throttle::PER_ACCOUNT.limit {
        let wrong = login_attempt(
            &server,
            "ops@acme.io",
            "a wrong guess",
            &format!("203.0.113.{}", i % 5),
        )
        .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let stranger = login_attempt(&server, "ops@acme.io", PASSWORD, "198.51.100.7").await;
    assert_eq!(stranger.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&stranger) >= 1);
    // The owner's browser, even at an address the guessers used, logs in.
    let again = browser
        .post(server.url("/fn/account_login"))
        .header("Origin", &server.base)
        .header("X-Forwarded-For", "203.0.113.0")
        .form(&[("email", "ops@acme.io"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(server.whoami(&browser).await.as_deref(), Some("ops@acme.io"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_carry_a_script_policy_with_this_renders_nonce() {
    let server = TestServer::start().await;
    let page = server.client.get(server.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        page.headers().get("strict-transport-security").is_none(),
        "plain-HTTP loopback: no HSTS"
    );
    let html = page.text().await.unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {policy}"));
    assert!(
        policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    // Every inline script Leptos wrote carries the nonce; a second render gets another.
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{html}"
    );
    // The same policy is first in the head, written by the render that wrote the scripts.
    let head = html.split("</head>").next().unwrap_or_default();
    let meta = head
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .expect("the policy's meta");
    assert!(
        meta < head.find("<script").unwrap_or(usize::MAX),
        "before any script"
    );
    assert!(head[meta..].contains(&format!("'nonce-{nonce}'")), "{head}");
    let again = server.client.get(server.url("/login")).send().await.unwrap();
    assert!(
        !again.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(nonce)
    );
    // The not-found page is a page too.
    let missing = server
        .client
        .get(server.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("'nonce-")
    );
    // JSON, downloads and their errors have the strict default (no inline script at all).
    for path in ["/healthz", "/billing/usage.csv"] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["content-security-policy"],
            meridian::guard::DEFAULT_CSP,
            "{path}"
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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
        .header("Origin", &server.base)
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    staff.text().await.unwrap() == "null"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_log_in_apart_and_the_session_id_is_renewed_at_inspection_start_and_end() {
    let server = TestServer::start().await;
    let tenant = TestServer::client();
    server.signup(&tenant, "Acme", "ops@acme.io").await;
    server
        .control
        .staff_create("sam@meridian.example", PASSWORD, "support")
        .await
        .unwrap();
    let tenant_id = server.tenant_id_found("acme").await;
    // Tenant users do not reach the staff console's functions.
    let refused = server.call(&tenant, "staff_tenants", &[("q", "")]).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    let login = server
        .call(
            &server.client,
            "staff_login",
            &[("email", "sam@meridian.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let signed_in = cookie_value(&session_cookie(&login).unwrap());
    let start = server
        .call(
            &server.client,
            "staff_inspect_start",
            &[("tenant_id", &tenant_id), ("reason", "ticket 12: a look")],
        )
        .await;
    assert_eq!(start.status(), StatusCode::OK);
    let inspecting = cookie_value(&session_cookie(&start).unwrap());
    assert_ne!(signed_in, inspecting);
    assert!(is_signed_out(&server, &signed_in).await);
    assert_eq!(
        server.whoami(&server.client).await.as_deref(),
        Some("sam@meridian.example")
    );
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

/// Who may call an endpoint, for the authorization-coverage test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Anyone: sign-up, log-in, log-out, who am I, the demo's availability, invitations.
    Public,
    /// Reads the actor's own tenant (or the inspected one).
    Read,
    /// Changes the actor's tenant: owners and members only (some owners only).
    Change,
    /// The sales demo's reset: only the demo tenant's users, never staff.
    DemoOnly,
    /// Changes the caller's own account: any tenant user, never staff.
    Own,
    /// The staff console.
    StaffRead,
    /// The staff console's changes: admins only.
    StaffAdmin,
    /// An API authenticated by an API key's signature, never by a session.
    Signed,
}

use Access::{Change, DemoOnly, Own, Public, Read, Signed, StaffAdmin, StaffRead};

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATtkVZY1NbgPpq7r1+NcsULekVB9xZJnG7ATrZWo5z5 x@y";

/// Every server function, with who may call it and arguments naming tenant A's resources
/// (`{vm}` and the like). A new server function fails the test until it has an entry here.
const SERVER_FNS: &[(&str, Access, &[(&str, &str)])] = &[
    ("account_signup", Public, &[]),
    ("account_login", Public, &[]),
    ("account_logout", Public, &[]),
    ("account_view", Public, &[]),
    ("demo_available", Public, &[]),
    ("demo_login", Public, &[]),
    ("invite_accept", Public, &[]),
    ("staff_login", Public, &[]),
    ("staff_view", Public, &[]),
    ("staff_logout", Public, &[]),
    ("demo_reset", DemoOnly, &[]),
    (
        "account_password_change",
        Own,
        &[
            ("current_password", "not it at all"),
            ("new_password", "another long secret"),
        ],
    ),
    ("bandwidth_view", Read, &[]),
    (
        "bandwidth_cap_set",
        Change,
        &[("scope", "vm"), ("vm_id", "{vm}"), ("mbps", "100")],
    ),
    (
        "bandwidth_cap_remove",
        Change,
        &[("scope", "vm"), ("target", "{vm}")],
    ),
    ("bandwidth_alert_set", Change, &[("threshold", "50")]),
    ("billing_view", Read, &[]),
    ("map_view", Read, &[]),
    (
        "latency_chart",
        Read,
        &[("target", "pair:lon1-fra1"), ("window", "hour")],
    ),
    ("overview_view", Read, &[]),
    ("user_list", Read, &[]),
    (
        "user_invite",
        Change,
        &[("email", "new@alpha.example"), ("role", "member")],
    ),
    ("user_role_set", Change, &[("id", "{viewer}"), ("role", "owner")]),
    ("user_remove", Change, &[("id", "{viewer}")]),
    ("quota_view", Read, &[]),
    ("residency_view", Read, &[]),
    ("residency_set", Change, &[("policy", "de")]),
    ("audit_list", Read, &[]),
    ("residency_evidence", Read, &[]),
    ("ssh_key_list", Read, &[]),
    (
        "ssh_key_create",
        Change,
        &[("name", "second"), ("public_key", KEY)],
    ),
    ("ssh_key_delete", Change, &[("id", "{key}")]),
    ("stack_list", Read, &[]),
    (
        "stack_create",
        Change,
        &[("template", "web-3"), ("name", "another")],
    ),
    ("stack_view", Read, &[("id", "{stack}")]),
    ("stack_delete", Change, &[("id", "{stack}")]),
    ("staff_tenants", StaffRead, &[("q", "")]),
    ("staff_tenant", StaffRead, &[("id", "{tenant}")]),
    (
        "staff_inspect_start",
        StaffRead,
        &[("tenant_id", "{tenant}"), ("reason", "ticket 1: coverage")],
    ),
    ("staff_inspect_end", StaffRead, &[]),
    (
        "tenant_suspend",
        StaffAdmin,
        &[
            ("tenant_id", "{tenant}"),
            ("suspend_reason", "coverage run, ticket 2"),
        ],
    ),
    ("tenant_unsuspend", StaffAdmin, &[("tenant_id", "{tenant}")]),
    (
        "staff_quota_set",
        StaffAdmin,
        &[
            ("tenant_id", "{tenant}"),
            ("max_vms", "90"),
            ("max_vcpus", "90"),
            ("max_memory_mib", "90000"),
            ("max_public_ips", "9"),
        ],
    ),
    ("capacity_view", StaffRead, &[]),
    ("staff_jobs", StaffRead, &[("state", "all")]),
    ("staff_job_cancel", StaffAdmin, &[("id", "{job}")]),
    ("staff_job_retry", StaffAdmin, &[("id", "{job}")]),
    // Refused before the host is looked up: any id will do.
    (
        "staff_host_drain",
        StaffAdmin,
        &[("id", "{job}"), ("draining", "true")],
    ),
    (
        "staff_backbone_link_set",
        StaffAdmin,
        &[("edge", "lon1-nyc1"), ("cut", "true")],
    ),
    ("template_list", Read, &[]),
    (
        "template_create",
        Change,
        &[
            ("name", "another"),
            ("base", "{base}"),
            ("user_data", "#cloud-config\n"),
        ],
    ),
    ("template_delete", Change, &[("id", "{template}")]),
    ("vdc_list", Read, &[]),
    ("vdc_create", Change, &[("name", "another"), ("zone", "lon1")]),
    ("vdc_view", Read, &[("id", "{vdc}")]),
    ("vm_list", Read, &[]),
    (
        "vm_create",
        Change,
        &[
            ("vdc_id", "{vdc}"),
            ("name", "another"),
            ("template", "debian-12"),
            ("size", "xs"),
        ],
    ),
    ("vm_view", Read, &[("id", "{vm}")]),
    ("vm_metrics", Read, &[("id", "{vm}"), ("window", "hour")]),
    ("vm_operate", Change, &[("id", "{vm}"), ("action", "stop")]),
    ("vm_bulk", Change, &[("action", "stop"), ("ids[0]", "{vm}")]),
    ("vm_resize", Change, &[("id", "{vm}"), ("size", "m")]),
    (
        "vm_destroy",
        Change,
        &[("id", "{vm}"), ("confirm_name", "alpha-secret-vm")],
    ),
    ("scaling_group_list", Read, &[]),
    (
        "scaling_group_create",
        Change,
        &[
            ("name", "another"),
            ("template", "debian-12"),
            ("size", "xs"),
            ("zones[0]", "lon1"),
            ("min", "0"),
            ("max", "1"),
            ("metric", "cpu"),
            ("target", "60"),
        ],
    ),
    ("scaling_group_view", Read, &[("id", "{group}")]),
    (
        "scaling_group_update",
        Change,
        &[
            ("id", "{group}"),
            ("min", "0"),
            ("max", "2"),
            ("desired", "0"),
            ("target", "50"),
        ],
    ),
    ("scaling_group_delete", Change, &[("id", "{group}")]),
    ("network_view", Read, &[]),
    ("firewall_rule_list", Read, &[]),
    (
        "firewall_rule_create",
        Change,
        &[
            ("zone", "ber1"),
            ("protocol", "tcp"),
            ("port_from", "8080"),
            ("port_to", "8080"),
            ("source", "10.0.0.0/8"),
        ],
    ),
    ("firewall_rule_delete", Change, &[("id", "{rule}")]),
    ("api_key_list", Own, &[]),
    ("api_key_create", Own, &[("name", "another")]),
    ("api_key_revoke", Own, &[("id", "{apikey}")]),
];

/// Every CloudStack API command, with who may run it and its parameters (`{vm}` names tenant
/// A's). A command Meridian answers without an entry here fails the coverage test.
const CLOUDSTACK: &[(&str, Access, &[(&str, &str)])] = &[
    ("listZones", Read, &[]),
    ("listTemplates", Read, &[("templatefilter", "all")]),
    ("listServiceOfferings", Read, &[]),
    ("listNetworks", Read, &[]),
    (
        "createNetwork",
        Change,
        &[("name", "another"), ("zoneid", "lon1")],
    ),
    (
        "deployVirtualMachine",
        Change,
        &[
            ("zoneid", "ber1"),
            ("serviceofferingid", "xs"),
            ("templateid", "debian-12"),
            ("name", "another"),
            ("networkids", "{vdc}"),
        ],
    ),
    ("listVirtualMachines", Read, &[]),
    ("startVirtualMachine", Change, &[("id", "{vm}")]),
    ("stopVirtualMachine", Change, &[("id", "{vm}")]),
    ("rebootVirtualMachine", Change, &[("id", "{vm}")]),
    ("destroyVirtualMachine", Change, &[("id", "{vm}")]),
    ("queryAsyncJobResult", Read, &[("jobid", "{job}")]),
    ("listAsyncJobs", Read, &[]),
    ("listPublicIpAddresses", Read, &[]),
    ("associateIpAddress", Change, &[("virtualmachineid", "{vm}")]),
    ("disassociateIpAddress", Change, &[("id", "{vm}")]),
    (
        "createFirewallRule",
        Change,
        &[("ipaddressid", "{vm}"), ("protocol", "tcp"), ("startport", "22")],
    ),
    ("listFirewallRules", Read, &[]),
    ("listPortForwardingRules", Read, &[]),
    ("listIpForwardingRules", Read, &[]),
    (
        "registerSSHKeyPair",
        Change,
        &[("name", "another"), ("publickey", KEY)],
    ),
    ("listSSHKeyPairs", Read, &[]),
    ("deleteSSHKeyPair", Change, &[("name", "{keyname}")]),
    ("listCapabilities", Read, &[]),
    ("listApis", Read, &[]),
];

/// Every REST route as `routes()` lists it, with who may call it, the path to call (`{vm}` names
/// tenant A's) and the JSON body. A route without an entry fails the coverage test.
const REST: &[(&str, &str, Access, &str, &str)] = &[
    ("GET", "/api/v1/openapi.json", Public, "/api/v1/openapi.json", ""),
    ("GET", "/api/v1/zones", Read, "/api/v1/zones", ""),
    ("GET", "/api/v1/zones/{id}", Read, "/api/v1/zones/lon1", ""),
    ("GET", "/api/v1/sizes", Read, "/api/v1/sizes", ""),
    ("GET", "/api/v1/templates", Read, "/api/v1/templates", ""),
    (
        "POST",
        "/api/v1/templates",
        Change,
        "/api/v1/templates",
        r##"{"name":"another","base":"ubuntu-24-04","user_data":"#cloud-config\n"}"##,
    ),
    (
        "DELETE",
        "/api/v1/templates/{id}",
        Change,
        "/api/v1/templates/{template}",
        "",
    ),
    ("GET", "/api/v1/ssh-keys", Read, "/api/v1/ssh-keys", ""),
    (
        "POST",
        "/api/v1/ssh-keys",
        Change,
        "/api/v1/ssh-keys",
        r#"{"name":"another","public_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATtkVZY1NbgPpq7r1+NcsULekVB9xZJnG7ATrZWo5z5 x@y"}"#,
    ),
    (
        "DELETE",
        "/api/v1/ssh-keys/{id}",
        Change,
        "/api/v1/ssh-keys/{key}",
        "",
    ),
    ("GET", "/api/v1/vdcs", Read, "/api/v1/vdcs", ""),
    (
        "POST",
        "/api/v1/vdcs",
        Change,
        "/api/v1/vdcs",
        r#"{"name":"another","zone":"lon1"}"#,
    ),
    ("GET", "/api/v1/vdcs/{id}", Read, "/api/v1/vdcs/{vdc}", ""),
    ("GET", "/api/v1/vms", Read, "/api/v1/vms", ""),
    (
        "POST",
        "/api/v1/vms",
        Change,
        "/api/v1/vms",
        r#"{"vdc_id":"{vdc}","name":"another","template":"debian-12","size":"xs"}"#,
    ),
    (
        "POST",
        "/api/v1/vms/bulk",
        Change,
        "/api/v1/vms/bulk",
        r#"{"action":"stop","ids":["{vm}"]}"#,
    ),
    ("GET", "/api/v1/vms/{id}", Read, "/api/v1/vms/{vm}", ""),
    (
        "GET",
        "/api/v1/vms/{id}/console",
        Read,
        "/api/v1/vms/{vm}/console",
        "",
    ),
    (
        "GET",
        "/api/v1/vms/{id}/metrics",
        Read,
        "/api/v1/vms/{vm}/metrics?window=day",
        "",
    ),
    ("DELETE", "/api/v1/vms/{id}", Change, "/api/v1/vms/{vm}", ""),
    (
        "POST",
        "/api/v1/vms/{id}/start",
        Change,
        "/api/v1/vms/{vm}/start",
        "",
    ),
    (
        "POST",
        "/api/v1/vms/{id}/stop",
        Change,
        "/api/v1/vms/{vm}/stop",
        "",
    ),
    (
        "POST",
        "/api/v1/vms/{id}/reboot",
        Change,
        "/api/v1/vms/{vm}/reboot",
        "",
    ),
    (
        "POST",
        "/api/v1/vms/{id}/resize",
        Change,
        "/api/v1/vms/{vm}/resize",
        r#"{"size":"m"}"#,
    ),
    (
        "PUT",
        "/api/v1/vms/{id}/breakout",
        Change,
        "/api/v1/vms/{vm}/breakout",
        "",
    ),
    (
        "DELETE",
        "/api/v1/vms/{id}/breakout",
        Change,
        "/api/v1/vms/{vm}/breakout",
        "",
    ),
    (
        "GET",
        "/api/v1/stack-templates",
        Read,
        "/api/v1/stack-templates",
        "",
    ),
    ("GET", "/api/v1/stacks", Read, "/api/v1/stacks", ""),
    (
        "POST",
        "/api/v1/stacks",
        Change,
        "/api/v1/stacks",
        r#"{"template":"web-3","name":"another"}"#,
    ),
    ("GET", "/api/v1/stacks/{id}", Read, "/api/v1/stacks/{stack}", ""),
    (
        "DELETE",
        "/api/v1/stacks/{id}",
        Change,
        "/api/v1/stacks/{stack}",
        "",
    ),
    (
        "GET",
        "/api/v1/scaling-groups",
        Read,
        "/api/v1/scaling-groups",
        "",
    ),
    (
        "POST",
        "/api/v1/scaling-groups",
        Change,
        "/api/v1/scaling-groups",
        r#"{"name":"another","template":"debian-12","size":"xs","zones":["lon1"],"min":0,"max":1,"metric":"cpu","target":60}"#,
    ),
    (
        "GET",
        "/api/v1/scaling-groups/{id}",
        Read,
        "/api/v1/scaling-groups/{group}",
        "",
    ),
    (
        "PUT",
        "/api/v1/scaling-groups/{id}",
        Change,
        "/api/v1/scaling-groups/{group}",
        r#"{"min":0,"max":2,"desired":0,"target":50}"#,
    ),
    (
        "DELETE",
        "/api/v1/scaling-groups/{id}",
        Change,
        "/api/v1/scaling-groups/{group}",
        "",
    ),
    ("GET", "/api/v1/jobs", Read, "/api/v1/jobs", ""),
    ("GET", "/api/v1/jobs/{id}", Read, "/api/v1/jobs/{job}", ""),
    ("GET", "/api/v1/networks", Read, "/api/v1/networks", ""),
    (
        "GET",
        "/api/v1/firewall-rules",
        Read,
        "/api/v1/firewall-rules",
        "",
    ),
    (
        "POST",
        "/api/v1/firewall-rules",
        Change,
        "/api/v1/firewall-rules",
        r#"{"zone":"ber1","protocol":"tcp","port_from":8080,"source":"10.0.0.0/8"}"#,
    ),
    (
        "DELETE",
        "/api/v1/firewall-rules/{id}",
        Change,
        "/api/v1/firewall-rules/{rule}",
        "",
    ),
    ("GET", "/api/v1/bandwidth", Read, "/api/v1/bandwidth", ""),
    (
        "PUT",
        "/api/v1/bandwidth/caps",
        Change,
        "/api/v1/bandwidth/caps",
        r#"{"scope":"vm","vm_id":"{vm}","mbps":10}"#,
    ),
    (
        "DELETE",
        "/api/v1/bandwidth/caps/{scope}/{target}",
        Change,
        "/api/v1/bandwidth/caps/vm/{vm}",
        "",
    ),
    ("GET", "/api/v1/usage", Read, "/api/v1/usage", ""),
    ("GET", "/api/v1/invoices", Read, "/api/v1/invoices", ""),
    (
        "GET",
        "/api/v1/invoices/{month}",
        Read,
        "/api/v1/invoices/{month}",
        "",
    ),
];

/// Every plain HTTP route (pages aside), with who may call it.
const HTTP_ROUTES: &[(&str, Access)] = &[
    ("/healthz", Public),
    ("/readyz", Public),
    ("/events/vms/{id}", Read),
    ("/vms/{id}/console/ws", Read),
    ("/billing/invoice.csv", Read),
    ("/billing/usage.csv", Read),
    ("/residency/evidence.csv", Read),
    // Signed with an API key, not a session: its own coverage test below.
    ("/client/api", Signed),
    // Any other path under /api/: a JSON 404 for anyone.
    ("/api/{*path}", Public),
    // Host agents, with their host's token: `host_agent_routes_refuse_anyone_else` below.
    ("/agent/v1/register", Signed),
    ("/agent/v1/probes", Signed),
    ("/agent/v1/backbone", Signed),
];

/// Text only tenant A's data contains: finding it in anyone else's answer is a leak.
const SECRET: &str = "alpha-secret";

/// Tenant A with one of everything, and everyone who must not change it.
struct Cast {
    ids: Vec<(&'static str, String)>,
    /// API keys and secrets of tenant A's owner and viewer, and of tenant B's owner.
    owner_key: (String, String),
    viewer_key: (String, String),
    other_key: (String, String),
    owner: reqwest::Client,
    viewer: reqwest::Client,
    other: reqwest::Client,
    inspector: reqwest::Client,
    support: reqwest::Client,
    anonymous: reqwest::Client,
}

fn json_id(list: &serde_json::Value, marker: &str) -> String {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item.to_string().contains(marker)))
        .and_then(|item| item["id"].as_str())
        .unwrap_or_else(|| panic!("no item with {marker} in {list}"))
        .to_owned()
}

impl TestServer {
    async fn json(&self, client: &reqwest::Client, name: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let response = self.call(client, name, form).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        response.json().await.unwrap()
    }

    /// The id of the newest tenant the staff search finds for `query`.
    async fn tenant_id_found(&self, query: &str) -> String {
        self.control
            .store()
            .tenant_search(query, "newest", 0, 1)
            .await
            .unwrap()[0]
            .id
            .clone()
    }

    async fn staff_client(&self, email: &str, role: &str) -> reqwest::Client {
        self.control.staff_create(email, PASSWORD, role).await.unwrap();
        let client = TestServer::client();
        let login = self
            .call(
                &client,
                "staff_login",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(login.status(), StatusCode::OK);
        client
    }

    async fn cast(&self) -> Cast {
        let owner = TestServer::client();
        self.signup(&owner, "Alpha Confidential", "owner@alpha.example")
            .await;
        let vdc = self
            .json(
                &owner,
                "vdc_create",
                &[("name", "alpha-secret-vdc"), ("zone", "ber1")],
            )
            .await;
        let vdc = vdc["id"].as_str().unwrap().to_owned();
        let created = self
            .call(
                &owner,
                "vm_create",
                &[
                    ("vdc_id", &vdc),
                    ("name", "alpha-secret-vm"),
                    ("template", "debian-12"),
                    ("size", "xs"),
                ],
            )
            .await;
        assert_eq!(created.status(), StatusCode::OK);
        let base = meridian_core::resource::BUILTIN_TEMPLATES[0].id.to_string();
        for (name, form) in [
            (
                "ssh_key_create",
                vec![("name", "alpha-secret-key"), ("public_key", KEY)],
            ),
            (
                "template_create",
                vec![
                    ("name", "alpha-secret-tpl"),
                    ("base", base.as_str()),
                    ("user_data", "#cloud-config\n"),
                ],
            ),
            (
                "firewall_rule_create",
                vec![
                    ("zone", "ber1"),
                    ("protocol", "tcp"),
                    ("port_from", "443"),
                    ("port_to", "443"),
                    ("source", "0.0.0.0/0"),
                ],
            ),
            (
                "stack_create",
                vec![("template", "web-3"), ("name", "alpha-secret-stack")],
            ),
            (
                "scaling_group_create",
                vec![
                    ("name", "alpha-secret-group"),
                    ("template", "debian-12"),
                    ("size", "xs"),
                    ("zones[0]", "lon1"),
                    ("min", "0"),
                    ("max", "1"),
                    ("metric", "cpu"),
                    ("target", "60"),
                ],
            ),
        ] {
            assert_eq!(
                self.call(&owner, name, &form).await.status(),
                StatusCode::OK,
                "{name}"
            );
        }
        let account = self
            .control
            .account_login(
                &meridian_control::OpContext::anonymous("t"),
                "owner@alpha.example",
                PASSWORD,
            )
            .await
            .unwrap();
        let token = self
            .control
            .user_invite(
                &meridian_control::testing::as_user(&account),
                "viewer@alpha.example",
                "viewer",
            )
            .await
            .unwrap();
        let viewer = TestServer::client();
        let joined = self
            .call(
                &viewer,
                "invite_accept",
                &[("token", &token), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(joined.status(), StatusCode::OK);
        let other = TestServer::client();
        self.signup(&other, "Beta", "owner@beta.example").await;
        let tenant = account.tenant_id.to_string();
        let inspector = self.staff_client("ivy@meridian.example", "support").await;
        let started = self
            .call(
                &inspector,
                "staff_inspect_start",
                &[("tenant_id", &tenant), ("reason", "ticket 1: coverage")],
            )
            .await;
        assert_eq!(started.status(), StatusCode::OK);
        let support = self.staff_client("sam@meridian.example", "support").await;
        let owner_key = self.api_key(&owner, "alpha-secret-api").await;
        let viewer_key = self.api_key(&viewer, "viewer-api").await;
        let other_key = self.api_key(&other, "beta-api").await;
        let job = self.control.store().job_list_live().await.unwrap()[0]
            .id
            .to_string();
        let vm = json_id(&self.json(&owner, "vm_list", &[]).await, "alpha-secret-vm");
        let ids = vec![
            ("vm", vm),
            ("vdc", vdc),
            (
                "key",
                json_id(&self.json(&owner, "ssh_key_list", &[]).await, "alpha-secret-key"),
            ),
            (
                "template",
                json_id(&self.json(&owner, "template_list", &[]).await, "alpha-secret-tpl"),
            ),
            (
                "rule",
                json_id(&self.json(&owner, "firewall_rule_list", &[]).await, "443"),
            ),
            (
                "stack",
                json_id(&self.json(&owner, "stack_list", &[]).await, "alpha-secret-stack"),
            ),
            (
                "group",
                json_id(
                    &self.json(&owner, "scaling_group_list", &[]).await,
                    "alpha-secret-group",
                ),
            ),
            (
                "viewer",
                json_id(&self.json(&owner, "user_list", &[]).await, "viewer@alpha.example"),
            ),
            (
                "apikey",
                json_id(&self.json(&owner, "api_key_list", &[]).await, "alpha-secret-api"),
            ),
            ("keyname", "alpha-secret-key".to_owned()),
            ("tenant", tenant),
            ("job", job),
            ("base", base),
            (
                "month",
                meridian_core::calendar::month_label(meridian_control::store::now_ms()),
            ),
        ];
        Cast {
            ids,
            owner_key,
            viewer_key,
            other_key,
            owner,
            viewer,
            other,
            inspector,
            support,
            anonymous: TestServer::client(),
        }
    }

    /// Everything tenant A has, as its owner reads it, and whether it is suspended.
    async fn snapshot(&self, cast: &Cast) -> Vec<String> {
        let mut state = Vec::new();
        for name in [
            "vm_list",
            "vdc_list",
            "user_list",
            "firewall_rule_list",
            "ssh_key_list",
            "template_list",
            "stack_list",
            "scaling_group_list",
            "quota_view",
            "residency_view",
            "api_key_list",
        ] {
            let mut answer = self.json(&cast.owner, name, &[]).await;
            // Using a key is not changing anything: when it was last used is left out.
            if let Some(keys) = answer.as_array_mut() {
                keys.iter_mut()
                    .filter_map(|key| key.get_mut("last_used_at"))
                    .for_each(|used| *used = serde_json::Value::Null);
            }
            state.push(format!("{name}: {answer}"));
        }
        let tenant = cast.id("tenant").parse().unwrap();
        let row = self.control.store().tenant_get(tenant).await.unwrap().unwrap();
        state.push(format!("suspended: {:?}", row.suspended_at));
        state.push(format!(
            "jobs: {:?}",
            self.control.store().job_list_live().await.unwrap().len()
        ));
        state
    }
}

impl TestServer {
    /// Makes an API key as `client`'s user: (key, secret).
    async fn api_key(&self, client: &reqwest::Client, name: &str) -> (String, String) {
        let made = self.json(client, "api_key_create", &[("name", name)]).await;
        let field = |f: &str| {
            made[f]
                .as_str()
                .unwrap_or_else(|| panic!("{f} in {made}"))
                .to_owned()
        };
        (field("api_key"), field("secret"))
    }

    /// Signs up a tenant (its owner `email`) and makes its owner an API key: the key's secret.
    async fn tenant_secret(&self, tenant: &str, email: &str) -> String {
        let owner = Self::client();
        self.signup(&owner, tenant, email).await;
        self.api_key(&owner, "key").await.1
    }

    /// Runs a CloudStack command, signed with `key` (key, secret) if given, as a GET the way
    /// CloudStack clients send most commands: (HTTP status, the answer inside its envelope).
    async fn cloudstack(
        &self,
        key: Option<(&str, &str)>,
        command: &str,
        params: &[(String, String)],
    ) -> (StatusCode, serde_json::Value) {
        let mut all: Vec<(String, String)> = vec![
            ("command".into(), command.into()),
            ("response".into(), "json".into()),
        ];
        all.extend(params.iter().cloned());
        if let Some((api_key, secret)) = key {
            all.push(("apiKey".into(), api_key.into()));
            let signature = meridian_core::api_key::cloudstack_sign(&all, secret);
            all.push(("signature".into(), signature));
        }
        let response = reqwest::Client::new()
            .get(self.url("/client/api"))
            .query(&all)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{command}: CloudStack clients need JSON"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        let inner = body
            .as_object()
            .and_then(|o| o.values().next().cloned())
            .unwrap_or_else(|| panic!("{command}: no envelope in {body}"));
        (status, inner)
    }
}

impl Cast {
    fn id(&self, name: &str) -> &str {
        &self.ids.iter().find(|(n, _)| *n == name).unwrap().1
    }

    /// `form` with tenant A's ids replaced by ids nobody has.
    fn fill_missing(&self, form: &[(&str, &str)]) -> (Vec<(String, String)>, bool) {
        let missing = uuid::Uuid::new_v4().to_string();
        let (mut filled, any) = self.fill(form);
        for ((_, value), (_, spec)) in filled.iter_mut().zip(form) {
            if spec.starts_with('{') && *spec != "{base}" {
                value.clone_from(&missing);
            }
        }
        (filled, any)
    }

    /// `form` with `{name}` placeholders replaced by tenant A's ids; true if any was.
    fn fill(&self, form: &[(&str, &str)]) -> (Vec<(String, String)>, bool) {
        let mut names_a_resource = false;
        let filled = form
            .iter()
            .map(|(k, v)| {
                let value = match v.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                    Some(name) => {
                        // Built-in templates are everyone's.
                        names_a_resource |= name != "base";
                        self.id(name).to_owned()
                    }
                    None => (*v).to_owned(),
                };
                ((*k).to_owned(), value)
            })
            .collect();
        (filled, names_a_resource)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_endpoint_refuses_whoever_may_not_use_it_and_nothing_changes() {
    let server = TestServer::start().await;
    let cast = server.cast().await;

    // The lists above are complete: every registered server function and route has an entry,
    // every entry exists, and no server function can be reached with GET.
    let registered: Vec<(&str, http::Method)> = leptos::server_fn::axum::server_fn_paths().collect();
    for (path, method) in &registered {
        let name = path.strip_prefix("/fn/").unwrap_or(path);
        assert!(
            SERVER_FNS.iter().any(|(n, ..)| *n == name),
            "server function {path} has no coverage entry"
        );
        assert_eq!(*method, http::Method::POST, "{path} must not be a GET");
    }
    for (name, ..) in SERVER_FNS {
        assert!(
            registered.iter().any(|(p, _)| *p == format!("/fn/{name}")),
            "{name} is not a server function"
        );
    }
    let routes: Vec<&str> = meridian::http_routes()
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert_eq!(
        routes,
        HTTP_ROUTES.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        "every HTTP route has an entry"
    );

    let before = server.snapshot(&cast).await;
    let expect = |who: &str, name: &str, status: StatusCode, wanted: &[StatusCode]| {
        assert!(
            wanted.contains(&status),
            "{name} as {who}: {status}, expected one of {wanted:?}"
        );
    };
    for (name, access, form_spec) in SERVER_FNS {
        let (form, names_a_resource) = cast.fill(form_spec);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // A forged cross-site request carrying the owner's cookie is refused before anything runs.
        let forged = server.url(&format!("/fn/{name}"));
        for (header, value) in [
            ("Origin", "http://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ] {
            let response = cast
                .owner
                .post(&forged)
                .header(header, value)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{name} cross-site ({header})"
            );
            assert!(response.text().await.unwrap().contains("cross_site_request"));
        }
        let status = |r: reqwest::Response| r.status();
        match access {
            Public => {}
            Read => {
                expect(
                    "anonymous",
                    name,
                    status(server.call(&cast.anonymous, name, &form).await),
                    &[StatusCode::UNAUTHORIZED],
                );
                expect(
                    "staff not inspecting",
                    name,
                    status(server.call(&cast.support, name, &form).await),
                    &[StatusCode::NOT_FOUND],
                );
                expect(
                    "inspector",
                    name,
                    status(server.call(&cast.inspector, name, &form).await),
                    &[StatusCode::OK],
                );
                let other = server.call(&cast.other, name, &form).await;
                if names_a_resource {
                    expect("another tenant", name, other.status(), &[StatusCode::NOT_FOUND]);
                } else {
                    expect("another tenant", name, other.status(), &[StatusCode::OK]);
                    let body = other.text().await.unwrap();
                    assert!(
                        !body.contains(SECRET),
                        "{name} shows tenant A's data to tenant B: {body}"
                    );
                }
            }
            Change | DemoOnly => {
                expect(
                    "anonymous",
                    name,
                    status(server.call(&cast.anonymous, name, &form).await),
                    &[StatusCode::UNAUTHORIZED],
                );
                let viewer = if *access == DemoOnly {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                };
                expect(
                    "viewer",
                    name,
                    status(server.call(&cast.viewer, name, &form).await),
                    &[viewer],
                );
                expect(
                    "inspector",
                    name,
                    status(server.call(&cast.inspector, name, &form).await),
                    &[StatusCode::FORBIDDEN],
                );
                expect(
                    "staff not inspecting",
                    name,
                    status(server.call(&cast.support, name, &form).await),
                    &[StatusCode::NOT_FOUND],
                );
                if names_a_resource {
                    // Tenant A's resource is, to tenant B, exactly like one that does not exist.
                    let other = server.call(&cast.other, name, &form).await;
                    let (status, body) = (other.status(), other.text().await.unwrap());
                    expect(
                        "another tenant",
                        name,
                        status,
                        &[StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY],
                    );
                    let (missing, _) = cast.fill_missing(form_spec);
                    let missing: Vec<(&str, &str)> =
                        missing.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    let nobody = server.call(&cast.other, name, &missing).await;
                    assert_eq!(
                        (nobody.status(), nobody.text().await.unwrap()),
                        (status, body),
                        "{name}: B can tell A's id exists"
                    );
                }
            }
            Own => {
                expect(
                    "anonymous",
                    name,
                    status(server.call(&cast.anonymous, name, &form).await),
                    &[StatusCode::UNAUTHORIZED],
                );
                if names_a_resource {
                    expect(
                        "another tenant",
                        name,
                        status(server.call(&cast.other, name, &form).await),
                        &[StatusCode::NOT_FOUND],
                    );
                }
                expect(
                    "inspector",
                    name,
                    status(server.call(&cast.inspector, name, &form).await),
                    &[StatusCode::FORBIDDEN],
                );
                expect(
                    "staff not inspecting",
                    name,
                    status(server.call(&cast.support, name, &form).await),
                    &[StatusCode::NOT_FOUND],
                );
            }
            Signed => unreachable!("only HTTP routes are signed"),
            StaffRead | StaffAdmin => {
                expect(
                    "anonymous",
                    name,
                    status(server.call(&cast.anonymous, name, &form).await),
                    &[StatusCode::UNAUTHORIZED],
                );
                expect(
                    "tenant owner",
                    name,
                    status(server.call(&cast.owner, name, &form).await),
                    &[StatusCode::NOT_FOUND],
                );
                expect(
                    "tenant viewer",
                    name,
                    status(server.call(&cast.viewer, name, &form).await),
                    &[StatusCode::NOT_FOUND],
                );
                if *access == StaffAdmin {
                    expect(
                        "support",
                        name,
                        status(server.call(&cast.support, name, &form).await),
                        &[StatusCode::FORBIDDEN],
                    );
                }
            }
        }
    }
    for (path, access) in HTTP_ROUTES {
        let path = path.replace("{id}", cast.id("vm"));
        if *access == Read {
            assert_eq!(
                cast.anonymous
                    .get(server.url(&path))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                StatusCode::UNAUTHORIZED,
                "{path}"
            );
            assert_eq!(
                cast.support.get(server.url(&path)).send().await.unwrap().status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
            let other = cast.other.get(server.url(&path)).send().await.unwrap();
            if path.contains(cast.id("vm")) {
                assert_eq!(other.status(), StatusCode::NOT_FOUND, "{path}");
            } else {
                assert!(
                    !other.text().await.unwrap().contains(SECRET),
                    "{path} leaks tenant A's data"
                );
            }
        }
    }
    // Every page, rendered for someone else, shows nothing of tenant A.
    for listing in leptos_axum::generate_route_list(meridian_app::App) {
        let mut path = listing.path().to_owned();
        for (prefix, id) in [
            ("/vms/", "vm"),
            ("/vdcs/", "vdc"),
            ("/stacks/", "stack"),
            ("/staff/tenants/", "tenant"),
        ] {
            if path.starts_with(prefix) {
                path = format!("{prefix}{}", cast.id(id));
            }
        }
        // Staff see every tenant in their console, but no tenant's dashboard unless inspecting.
        let staff_page = path.starts_with("/staff");
        for client in [&cast.anonymous, &cast.other, &cast.support]
            .into_iter()
            .take(if staff_page { 2 } else { 3 })
        {
            let body = client
                .get(server.url(&path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(!body.contains(SECRET), "page {path} leaks tenant A's data");
        }
    }
    assert_eq!(
        server.snapshot(&cast).await,
        before,
        "a refused call changed tenant A"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_cloudstack_command_refuses_whoever_may_not_run_it_and_nothing_changes() {
    let server = TestServer::start().await;
    let cast = server.cast().await;
    let answered: Vec<&str> = meridian::cloudstack::COMMANDS.iter().map(|c| c.name).collect();
    let covered: Vec<&str> = CLOUDSTACK.iter().map(|(name, ..)| *name).collect();
    assert_eq!(
        answered, covered,
        "every CloudStack command has a coverage entry, in order"
    );

    let before = server.snapshot(&cast).await;
    let key = |k: &(String, String)| Some((k.0.clone(), k.1.clone()));
    let (owner, viewer, other) = (key(&cast.owner_key), key(&cast.viewer_key), key(&cast.other_key));
    fn as_ref(key: &Option<(String, String)>) -> Option<(&str, &str)> {
        key.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
    }
    let wrong_secret = Some((cast.owner_key.0.as_str(), "not the secret"));
    for (command, access, spec) in CLOUDSTACK {
        let (params, names_a_resource) = cast.fill(spec);
        for (who, key) in [("unsigned", None), ("wrong secret", wrong_secret)] {
            let (status, answer) = server.cloudstack(key, command, &params).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{command} {who}: {answer}");
            assert_eq!(answer["errorcode"], 401, "{command} {who}");
        }
        match access {
            Read => {
                for (who, key) in [("owner", &owner), ("viewer", &viewer)] {
                    let (status, answer) = server.cloudstack(as_ref(key), command, &params).await;
                    assert_eq!(status, StatusCode::OK, "{command} as {who}: {answer}");
                }
                let (status, answer) = server.cloudstack(as_ref(&other), command, &params).await;
                if names_a_resource {
                    assert_eq!(status.as_u16(), 431, "{command} as another tenant: {answer}");
                } else {
                    assert_eq!(status, StatusCode::OK, "{command} as another tenant: {answer}");
                    assert!(
                        !answer.to_string().contains(SECRET),
                        "{command} shows tenant A's data to B: {answer}"
                    );
                }
            }
            Change => {
                let (status, answer) = server.cloudstack(as_ref(&viewer), command, &params).await;
                assert_eq!(status.as_u16(), 531, "{command} as a viewer: {answer}");
                assert!(
                    answer["errortext"].as_str().unwrap().contains("Viewers"),
                    "{command}: {answer}"
                );
                if names_a_resource {
                    // Tenant A's resource is, to tenant B, exactly like one that does not exist.
                    let seen = server.cloudstack(as_ref(&other), command, &params).await;
                    assert_eq!(seen.0.as_u16(), 431, "{command} as another tenant: {}", seen.1);
                    let (missing, _) = cast.fill_missing(spec);
                    let nobody = server.cloudstack(as_ref(&other), command, &missing).await;
                    assert_eq!(nobody, seen, "{command}: B can tell A's id exists");
                }
            }
            _ => unreachable!("CloudStack commands are reads or changes"),
        }
    }
    // A request signed for a time that has passed is refused, whatever its signature.
    let expired = [
        ("signatureVersion".to_owned(), "3".to_owned()),
        ("expires".to_owned(), "2020-01-01T00:00:00+0000".to_owned()),
    ];
    let (status, _) = server.cloudstack(as_ref(&owner), "listZones", &expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = server.cloudstack(as_ref(&owner), "listFrobnicators", &[]).await;
    assert_eq!((status.as_u16(), answer["errorcode"].as_u64()), (432, Some(432)));
    assert_eq!(
        server.snapshot(&cast).await,
        before,
        "a refused CloudStack command changed tenant A"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_api_key_acts_as_its_user_is_audited_and_stops_when_revoked() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Keys Co", "ops@keys.example").await;
    let made = server
        .json(&owner, "api_key_create", &[("name", "deploy-bot")])
        .await;
    let (api_key, secret) = (
        made["api_key"].as_str().unwrap(),
        made["secret"].as_str().unwrap(),
    );
    assert!(api_key.starts_with("mk_") && secret.len() >= 40, "{made}");
    // The secret is shown once: no list, page or store row holds it.
    let listed = server.json(&owner, "api_key_list", &[]).await;
    assert!(!listed.to_string().contains(secret), "{listed}");
    assert_eq!(listed[0]["last_used_at"], serde_json::Value::Null);
    let settings = owner
        .get(server.url("/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(settings.contains(api_key) && !settings.contains(secret));
    let duplicate = server
        .call(&owner, "api_key_create", &[("name", "deploy-bot")])
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    let bad_name = server
        .call(&owner, "api_key_create", &[("name", "Deploy Bot!")])
        .await;
    assert_eq!(bad_name.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let (status, answer) = server
        .cloudstack(
            Some((api_key, secret)),
            "createNetwork",
            &[
                ("name".into(), "api-net".into()),
                ("zoneid".into(), "sin1".into()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["network"]["zonename"], "Singapore");
    let vdcs = server.json(&owner, "vdc_list", &[]).await;
    assert!(
        vdcs.to_string().contains("api-net"),
        "the dashboard sees what the API made: {vdcs}"
    );
    let audit = server.json(&owner, "audit_list", &[]).await.to_string();
    assert!(
        audit.contains("ops@keys.example (API key deploy-bot)") && audit.contains("vdc.create"),
        "{audit}"
    );
    let listed = server.json(&owner, "api_key_list", &[]).await;
    assert!(listed[0]["last_used_at"].as_i64().is_some(), "{listed}");

    // Bad input is refused with the parameter named, and changes nothing.
    let (status, answer) = server
        .cloudstack(
            Some((api_key, secret)),
            "deployVirtualMachine",
            &[
                ("zoneid".into(), "sin1".into()),
                ("serviceofferingid".into(), "huge".into()),
                ("templateid".into(), "debian-12".into()),
                ("name".into(), "web-1".into()),
            ],
        )
        .await;
    assert_eq!(status.as_u16(), 431, "{answer}");
    assert!(
        answer["errortext"]
            .as_str()
            .unwrap()
            .starts_with("serviceofferingid: "),
        "{answer}"
    );
    assert_eq!(server.json(&owner, "vm_list", &[]).await, serde_json::json!([]));

    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(
        server
            .call(&owner, "api_key_revoke", &[("id", id)])
            .await
            .status(),
        StatusCode::OK
    );
    let (status, _) = server.cloudstack(Some((api_key, secret)), "listZones", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked key still works");
}

/// Runs one of the real-client scripts with the throw-away environment's Python.
async fn run_client(program: &str, args: &[&str], env: &[(&str, String)]) {
    let output = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cs_client_and_libcloud_from_pypi_drive_meridian() {
    // scripts/api-clients.sh makes (once) a virtual environment with the pinned clients.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let venv = tokio::process::Command::new(format!("{root}/scripts/api-clients.sh"))
        .output()
        .await
        .expect("run scripts/api-clients.sh");
    assert!(venv.status.success(), "{}", String::from_utf8_lossy(&venv.stderr));
    let python = String::from_utf8(venv.stdout).unwrap().trim().to_owned();
    let bin = std::path::Path::new(&python)
        .parent()
        .unwrap()
        .display()
        .to_string();

    let server = TestServer::start().await;
    // The clients wait for their VMs: job workers run, as in the real server.
    let (_stop_workers, _workers) = meridian::spawn_workers(&server.control, 2);
    let owner = TestServer::client();
    server.signup(&owner, "Clients Co", "ops@clients.example").await;
    let (api_key, secret) = server.api_key(&owner, "clients").await;
    // No VDC anywhere: libcloud's create_node (London) and cs (Madrid) deploy into zones the
    // tenant never used, and their networks are made.
    let address = server.base.trim_start_matches("http://").to_owned();
    let (host, port) = address.split_once(':').unwrap();
    let env = [
        ("MERIDIAN_API", server.url("/client/api")),
        ("MERIDIAN_HOST", host.to_owned()),
        ("MERIDIAN_PORT", port.to_owned()),
        ("MERIDIAN_KEY", api_key.clone()),
        ("MERIDIAN_SECRET", secret.clone()),
        ("CLOUDSTACK_ENDPOINT", server.url("/client/api")),
        ("CLOUDSTACK_KEY", api_key),
        ("CLOUDSTACK_SECRET", secret),
        (
            "PATH",
            format!("{bin}:{}", std::env::var("PATH").unwrap_or_default()),
        ),
    ];
    let scripts = format!("{root}/server/tests/api_clients");
    run_client(&python, &[&format!("{scripts}/cs_client.py")], &env).await;
    run_client(&python, &[&format!("{scripts}/libcloud_client.py")], &env).await;
    // The README's worked example, exactly as printed there.
    run_client("bash", &[&format!("{root}/docs/examples/cs-quickstart.sh")], &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_makes_a_scaling_group_explains_refusals_and_moves_it_to_a_new_size() {
    let server = TestServer::start().await;
    let (_stop_workers, _workers) = meridian::spawn_workers(&server.control, 2);
    let secret = server.tenant_secret("Scale Co", "ops@scale.example").await;
    let (status, refused) = server
        .rest(
            Some(&secret),
            "POST",
            "/api/v1/scaling-groups",
            r#"{"name":"web","template":"debian-12","size":"xs","zones":["lon1","mars"],"min":3,"max":2,"metric":"cpu","target":160}"#,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_input");
    for field in ["zones", "max", "target"] {
        assert!(
            refused["error"]["fields"][field].is_string(),
            "{field}: {refused}"
        );
    }
    let (status, group) = server
        .rest(
            Some(&secret),
            "POST",
            "/api/v1/scaling-groups",
            r#"{"name":"web","template":"debian-12","size":"xs","zones":["lon1","fra1"],"min":1,"max":4,"metric":"cpu","target":60,"cooldown_secs":60,"grace_secs":60}"#,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let path = format!("/api/v1/scaling-groups/{}", group["id"].as_str().unwrap());
    let (status, changed) = server
        .rest(
            Some(&secret),
            "PUT",
            &path,
            r#"{"min":1,"max":4,"desired":3,"target":60,"simulated_cpu":20}"#,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["simulated_cpu"], 20);
    let (_, detail) = server.rest(Some(&secret), "GET", &path, "", &[]).await;
    assert_eq!(detail["members"].as_array().unwrap().len(), 3, "{detail}");
    let zones: std::collections::BTreeSet<&str> = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["vm"]["zone"].as_str().unwrap())
        .collect();
    assert_eq!(zones.len(), 2, "spread over both zones: {detail}");
    assert!(
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"] == "Set to 3 members by hand."),
        "{detail}"
    );
    let (status, _) = server.rest(Some(&secret), "DELETE", &path, "", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Its members are destroyed (one still being made once it is up), then it goes: the
    // scaling round (every 15 s in a server) finishes what the request started.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, detail) = server.rest(Some(&secret), "GET", &path, "", &[]).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert_eq!(detail["group"]["deleting"], true, "{detail}");
        assert!(std::time::Instant::now() < deadline, "never deleted: {detail}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        server
            .control
            .scaling_tick(meridian_control::now_ms())
            .await
            .unwrap();
    }
}

/// Runs the `meridian` binary as a tenant's client with profile file `config` (and no
/// `MERIDIAN_URL`/`MERIDIAN_API_KEY` from the test's environment), `input` on its standard
/// input: (exit status, standard output, standard error).
async fn cli(config: &std::path::Path, args: &[&str], input: &str) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(args)
        .env("MERIDIAN_CONFIG", config)
        .env_remove("MERIDIAN_URL")
        .env_remove("MERIDIAN_API_KEY")
        .env_remove("MERIDIAN_PROFILE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run meridian");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).await.expect("write stdin");
    drop(stdin);
    let output = tokio::time::timeout(REQUEST_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("meridian {args:?} did not finish"))
        .expect("meridian's output");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cli_logs_in_and_drives_vms_refusals_carrying_the_apis_code() {
    let server = TestServer::start().await;
    let (_stop_workers, _workers) = meridian::spawn_workers(&server.control, 2);
    let secret = server.tenant_secret("Cli Co", "ops@cli.example").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("meridian").join("profiles.json");
    let ok = |(code, out, err): (i32, String, String), what: &str| -> String {
        assert_eq!(code, 0, "{what} failed:\n{out}\n{err}");
        out
    };

    // A key that does not work is refused with the API's code, and nothing is saved.
    let (code, _, err) = cli(&config, &["login", "--url", &server.base], "not-a-key\n").await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unauthenticated"), "{err}");
    assert!(!config.exists(), "a refused key is not saved");
    let out = ok(
        cli(&config, &["login", "--url", &server.base], &format!("{secret}\n")).await,
        "login",
    );
    assert!(out.contains("Logged in"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the profile holds a secret: its owner's only"
    );

    let out = ok(cli(&config, &["vm", "list"], "").await, "vm list");
    assert!(
        out.contains("No VMs yet"),
        "the empty list says what to do: {out}"
    );
    let zones: serde_json::Value =
        serde_json::from_str(&ok(cli(&config, &["zones", "-o", "json"], "").await, "zones")).unwrap();
    assert_eq!(zones.as_array().unwrap().len(), 16);

    // Made in a zone the tenant never used, followed to the end.
    let create = [
        "vm",
        "create",
        "--name",
        "web-1",
        "--template",
        "debian-12",
        "--size",
        "xs",
        "--zone",
        "fra1",
        "--wait",
    ];
    let (code, out, err) = cli(&config, &create, "").await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("running"), "the VM as it ended up: {out}");
    assert!(
        err.contains("Boot: done"),
        "the job's steps as they got done: {err}"
    );
    let listed: serde_json::Value = serde_json::from_str(&ok(
        cli(&config, &["vm", "list", "--output", "json"], "").await,
        "vm list",
    ))
    .unwrap();
    assert_eq!(listed[0]["name"], "web-1");
    assert_eq!(listed[0]["state"], "running");
    let vm_id = listed[0]["id"].as_str().unwrap().to_owned();
    assert!(ok(cli(&config, &["vdc", "list"], "").await, "vdc list").contains("default-fra1"));

    // A refusal prints the field's problem and the API's code, exits 1 and makes nothing.
    let mut bad = create;
    bad[3] = "Not A Name";
    let (code, _, err) = cli(&config, &bad[..10], "").await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid_input") && err.contains("name:"), "{err}");
    let listed: serde_json::Value = serde_json::from_str(&ok(
        cli(&config, &["vm", "list", "-o", "json"], "").await,
        "vm list",
    ))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "nothing was made: {listed}");

    // Changes by name, each followed to its end.
    ok(
        cli(&config, &["vm", "stop", "web-1", "--wait"], "").await,
        "vm stop",
    );
    let shown: serde_json::Value = serde_json::from_str(&ok(
        cli(&config, &["vm", "show", "web-1", "-o", "json"], "").await,
        "show",
    ))
    .unwrap();
    assert_eq!(shown["state"], "stopped");
    ok(
        cli(&config, &["vm", "resize", "web-1", "--size", "s", "--wait"], "").await,
        "vm resize",
    );
    ok(
        cli(&config, &["vm", "start", &vm_id, "--wait"], "").await,
        "vm start",
    );
    let out = ok(
        cli(&config, &["breakout", "open", "web-1", "--wait"], "").await,
        "breakout open",
    );
    assert!(out.starts_with("Done."), "{out}");
    let shown: serde_json::Value = serde_json::from_str(&ok(
        cli(&config, &["vm", "show", "web-1", "-o", "json"], "").await,
        "show",
    ))
    .unwrap();
    assert_eq!(shown["state"], "running");
    assert_eq!(shown["vcpus"], 2, "resized from xs (1 vCPU) to s");
    assert!(shown["public_ip"].is_string(), "{shown}");
    let out = ok(
        cli(
            &config,
            &[
                "firewall",
                "add",
                "--zone",
                "fra1",
                "--protocol",
                "tcp",
                "--port",
                "443",
            ],
            "",
        )
        .await,
        "firewall add",
    );
    assert!(out.contains("TCP 443"), "{out}");
    assert!(ok(cli(&config, &["firewall", "list"], "").await, "firewall list").contains("TCP 443"));
    assert!(ok(cli(&config, &["usage"], "").await, "usage").contains("Total so far"));
    ok(
        cli(&config, &["vm", "metrics", "web-1", "--window", "day"], "").await,
        "vm metrics",
    );

    // Destroying needs --yes; without it nothing is sent.
    let (code, _, err) = cli(&config, &["vm", "destroy", "web-1"], "").await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
    let (code, _, err) = cli(&config, &["vm", "show", "no-such-vm"], "").await;
    assert_eq!(code, 2, "{err}");
    let out = ok(
        cli(&config, &["vm", "destroy", "web-1", "--yes", "--wait"], "").await,
        "destroy",
    );
    assert!(out.contains("destroyed"), "{out}");
    assert!(ok(cli(&config, &["vm", "list"], "").await, "vm list").contains("No VMs yet"));

    // Another tenant's key sees none of it: the VM is not found, exactly as a missing one.
    let other_secret = server.tenant_secret("Other Co", "ops@other-cli.example").await;
    let other_config = dir.path().join("other.json");
    ok(
        cli(
            &other_config,
            &["login", "--url", &server.base],
            &format!("{other_secret}\n"),
        )
        .await,
        "login",
    );
    let (code, _, err) = cli(&other_config, &["vm", "show", &vm_id], "").await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not_found"), "{err}");
}

impl Cast {
    /// `text` (a REST path or body) with `{name}` placeholders replaced by tenant A's ids, or by
    /// an id nobody has when `missing`; true if it names one of tenant A's resources.
    fn fill_text(&self, text: &str, missing: bool) -> (String, bool) {
        let nobody = uuid::Uuid::new_v4().to_string();
        let mut filled = text.to_owned();
        let mut names_a_resource = false;
        for (name, id) in &self.ids {
            let placeholder = format!("{{{name}}}");
            if filled.contains(&placeholder) {
                // Built-in templates and months are everyone's.
                let shared = matches!(*name, "base" | "month");
                names_a_resource |= !shared;
                let value = if missing && !shared { &nobody } else { id };
                filled = filled.replace(&placeholder, value);
            }
        }
        (filled, names_a_resource)
    }
}

impl TestServer {
    /// Calls the REST API with `secret` as the bearer token (if any): (status, JSON answer).
    async fn rest(
        &self,
        secret: Option<&str>,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = reqwest::Client::new().request(method, self.url(path));
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        if !body.is_empty() {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"))
        };
        (status, json)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rest_route_refuses_whoever_may_not_call_it_and_nothing_changes() {
    let server = TestServer::start().await;
    let cast = server.cast().await;
    let routes: Vec<(String, &str)> = meridian::rest::routes()
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), path))
        .collect();
    let covered: Vec<(String, &str)> = REST
        .iter()
        .map(|(method, path, ..)| ((*method).to_owned(), *path))
        .collect();
    assert_eq!(routes, covered, "every REST route has a coverage entry, in order");

    let before = server.snapshot(&cast).await;
    let (owner, viewer, other) = (
        cast.owner_key.1.as_str(),
        cast.viewer_key.1.as_str(),
        cast.other_key.1.as_str(),
    );
    for (method, route, access, target, body_spec) in REST {
        let (path, names_a_resource) = cast.fill_text(target, false);
        let (body, body_names) = cast.fill_text(body_spec, false);
        let names_a_resource = names_a_resource || body_names;
        let name = format!("{method} {route}");
        if *access == Public {
            let (status, _) = server.rest(None, method, &path, &body, &[]).await;
            assert_eq!(status, StatusCode::OK, "{name}");
            continue;
        }
        for (who, secret) in [("no token", None), ("a wrong token", Some("not-a-secret"))] {
            let (status, answer) = server.rest(secret, method, &path, &body, &[]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} with {who}: {answer}");
            assert_eq!(answer["error"]["code"], "unauthenticated", "{name}");
        }
        match access {
            Read => {
                for (who, secret) in [("owner", owner), ("viewer", viewer)] {
                    let (status, answer) = server.rest(Some(secret), method, &path, &body, &[]).await;
                    assert_eq!(status, StatusCode::OK, "{name} as {who}: {answer}");
                }
                let (status, answer) = server.rest(Some(other), method, &path, &body, &[]).await;
                if names_a_resource {
                    assert_eq!(
                        status,
                        StatusCode::NOT_FOUND,
                        "{name} as another tenant: {answer}"
                    );
                    assert_eq!(answer["error"]["code"], "not_found");
                } else {
                    assert_eq!(status, StatusCode::OK, "{name} as another tenant: {answer}");
                    assert!(
                        !answer.to_string().contains(SECRET),
                        "{name} shows tenant A's data to B: {answer}"
                    );
                }
            }
            Change => {
                // A forged cross-site request carrying a valid token is refused before anything runs.
                let (status, answer) = server
                    .rest(
                        Some(owner),
                        method,
                        &path,
                        &body,
                        &[("Origin", "http://evil.example")],
                    )
                    .await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{name} cross-site: {answer}");
                let (status, answer) = server.rest(Some(viewer), method, &path, &body, &[]).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{name} as a viewer: {answer}");
                assert_eq!(answer["error"]["code"], "forbidden", "{name}");
                if names_a_resource {
                    // Tenant A's resource is, to tenant B, exactly like one that does not exist.
                    let seen = server.rest(Some(other), method, &path, &body, &[]).await;
                    assert!(
                        [StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY].contains(&seen.0),
                        "{name} as another tenant: {seen:?}"
                    );
                    let (missing_path, _) = cast.fill_text(target, true);
                    let (missing_body, _) = cast.fill_text(body_spec, true);
                    let nobody = server
                        .rest(Some(other), method, &missing_path, &missing_body, &[])
                        .await;
                    assert_eq!(nobody, seen, "{name}: B can tell A's id exists");
                }
            }
            _ => unreachable!("REST routes are public, reads or changes"),
        }
    }
    assert_eq!(
        server.snapshot(&cast).await,
        before,
        "a refused REST call changed tenant A"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openapi_document_describes_every_rest_route_and_nothing_else() {
    let server = TestServer::start().await;
    let (status, doc) = server.rest(None, "GET", "/api/v1/openapi.json", "", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_ascii_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut routes: Vec<(String, String)> = meridian::rest::routes()
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), path.to_owned()))
        .collect();
    routes.sort();
    assert_eq!(documented, routes, "the OpenAPI document and the router disagree");
    // Every operation names its success answer; all but the document itself need the token.
    for (method, path) in &routes {
        let operation = &doc["paths"][path][method.to_ascii_lowercase()];
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{method} {path}: no success answer"
        );
        let public = operation["security"] == serde_json::json!([{}]);
        assert_eq!(
            public,
            path == "/api/v1/openapi.json",
            "{method} {path}: security"
        );
    }
    assert_eq!(doc["security"], serde_json::json!([{ "api_key": [] }]));
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rest_api_creates_once_per_idempotency_key_pages_lists_and_explains_errors() {
    let server = TestServer::start().await;
    let (_stop_workers, _workers) = meridian::spawn_workers(&server.control, 2);
    let owner = TestServer::client();
    server.signup(&owner, "Rest Co", "ops@rest.example").await;
    let (_, secret) = server.api_key(&owner, "rest").await;
    let api = |method: &'static str, path: String, body: String, headers: Vec<(&'static str, String)>| {
        let server = &server;
        let secret = secret.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            server.rest(Some(&secret), method, &path, &body, &headers).await
        }
    };

    // Bad input: a clear error with the field named, and nothing made.
    let (status, answer) = api(
        "POST",
        "/api/v1/vdcs".into(),
        r#"{"name":"eu","zone":"atlantis"}"#.into(),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_input");
    assert!(answer["error"]["fields"]["zone"].as_str().is_some(), "{answer}");
    let (status, answer) = api(
        "POST",
        "/api/v1/vdcs".into(),
        r#"{"name":"eu","zone":"fra1","colour":"red"}"#.into(),
        vec![],
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{answer}"
    );
    assert!(
        answer["error"]["message"].as_str().unwrap().contains("colour"),
        "{answer}"
    );
    let (status, answer) = api("GET", "/api/v1/frobnicators".into(), String::new(), vec![]).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_such_route"))
    );
    let (_, vdcs) = api("GET", "/api/v1/vdcs".into(), String::new(), vec![]).await;
    assert_eq!(vdcs["total"], 0, "{vdcs}");

    let (status, vdc) = api(
        "POST",
        "/api/v1/vdcs".into(),
        r#"{"name":"eu","zone":"fra1"}"#.into(),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{vdc}");
    let vdc_id = vdc["id"].as_str().unwrap().to_owned();

    // The same create sent twice with one key makes one VM; the retry gets the first answer.
    let body = format!(r#"{{"vdc_id":"{vdc_id}","name":"web-1","template":"coreos-docker","size":"xs"}}"#);
    let key = vec![("Idempotency-Key", "create-web-1".to_owned())];
    let (status, first) = api("POST", "/api/v1/vms".into(), body.clone(), key.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["job"]["kind"], "vm_create");
    assert_eq!(first["vm"]["name"], "web-1");
    let (status, again) = api("POST", "/api/v1/vms".into(), body.clone(), key.clone()).await;
    assert_eq!(
        (status, &again),
        (StatusCode::ACCEPTED, &first),
        "the retry is the first answer"
    );
    let other_body = body.replace("web-1", "web-2");
    let (status, reused) = api("POST", "/api/v1/vms".into(), other_body.clone(), key.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reused}");
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");
    // A create that fails lets its key go: the corrected request runs under the same key.
    let wrong = body.replace("\"xs\"", "\"huge\"");
    let key2 = vec![("Idempotency-Key", "create-web-2".to_owned())];
    let (status, failed) = api(
        "POST",
        "/api/v1/vms".into(),
        wrong.replace("web-1", "web-2"),
        key2.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{failed}");
    assert!(failed["error"]["fields"]["size"].is_string(), "{failed}");
    let (status, second) = api("POST", "/api/v1/vms".into(), other_body, key2).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    let (_, vms) = api("GET", "/api/v1/vms".into(), String::new(), vec![]).await;
    assert_eq!(vms["total"], 2, "one VM per key: {vms}");

    // Poll the job until it is over, as a script would.
    let job_path = format!("/api/v1/jobs/{}", first["job"]["id"].as_str().unwrap());
    let mut job = serde_json::Value::Null;
    for _ in 0..200 {
        job = api("GET", job_path.clone(), String::new(), vec![]).await.1;
        if job["finished"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "done"),
        "{job}"
    );

    // Breakout opened on the running VM gives it a public address.
    let vm_id = first["vm"]["id"].as_str().unwrap().to_owned();
    let (status, opened) = api(
        "PUT",
        format!("/api/v1/vms/{vm_id}/breakout"),
        String::new(),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{opened}");
    assert_eq!(opened["job"]["kind"], "vm_breakout_open");
    let mut vm = serde_json::Value::Null;
    for _ in 0..200 {
        vm = api("GET", format!("/api/v1/vms/{vm_id}"), String::new(), vec![])
            .await
            .1;
        if vm["public_ip"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(vm["public_ip"].is_string() && vm["breakout"] == true, "{vm}");

    // Lists come in pages.
    let (_, page) = api("GET", "/api/v1/vms?limit=1".into(), String::new(), vec![]).await;
    assert_eq!(
        (
            page["items"].as_array().unwrap().len(),
            page["total"].as_u64(),
            page["next_offset"].as_u64()
        ),
        (1, Some(2), Some(1)),
        "{page}"
    );
    let (_, last) = api(
        "GET",
        "/api/v1/vms?limit=1&offset=1".into(),
        String::new(),
        vec![],
    )
    .await;
    assert_eq!(last["next_offset"], serde_json::Value::Null, "{last}");
    assert_ne!(last["items"][0]["id"], page["items"][0]["id"]);
    let (status, answer) = api("GET", "/api/v1/vms?limit=0".into(), String::new(), vec![]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer["error"]["fields"]["limit"].is_string(), "{answer}");

    // The zone answers with its coordinates and latency, nearest first.
    let (_, zone) = api("GET", "/api/v1/zones/lon1".into(), String::new(), vec![]).await;
    assert_eq!(zone["zone"]["city"], "London");
    let latency = zone["latency"].as_array().unwrap();
    assert_eq!(latency.len(), 15);
    let rtts: Vec<f64> = latency.iter().map(|l| l["rtt_ms"].as_f64().unwrap()).collect();
    assert!(rtts.windows(2).all(|w| w[0] <= w[1]), "{rtts:?}");
    assert!(
        latency
            .iter()
            .all(|l| l["rtt_ms"].as_f64() >= l["fibre_limit_ms"].as_f64())
    );
    // The dashboard's audit log names the key.
    let audit = server.json(&owner, "audit_list", &[]).await.to_string();
    assert!(
        audit.contains("ops@rest.example (API key rest)") && audit.contains("vm.open_breakout"),
        "{audit}"
    );

    // The README's worked example, exactly as printed there.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    run_client(
        "bash",
        &[&format!("{root}/docs/examples/rest-quickstart.sh")],
        &[
            ("MERIDIAN_URL", server.base.clone()),
            ("MERIDIAN_SECRET", secret.clone()),
        ],
    )
    .await;
    // It made its VDC (its VM it destroyed, and may already be gone from the list).
    let (_, vdcs) = server.rest(Some(&secret), "GET", "/api/v1/vdcs", "", &[]).await;
    assert!(vdcs.to_string().contains("rest-quickstart"), "{vdcs}");

    // A key made under another master secret (the operator replaced api-master.key) stops working.
    let driver = std::sync::Arc::new(meridian_control::driver::simulated::SimulatedDriver::new(
        meridian_control::driver::simulated::SimTiming::instant(),
        1,
    ));
    let rotated = Control::new(server.control.store().clone(), driver)
        .await
        .unwrap()
        .with_api_master_secret(&[7u8; 32]);
    assert!(matches!(
        rotated.api_caller_bearer(&secret).await,
        Err(meridian_control::Error::Unauthenticated)
    ));
    // A suspended tenant's key is told so.
    let account = server
        .control
        .account_login(
            &meridian_control::OpContext::anonymous("t"),
            "ops@rest.example",
            PASSWORD,
        )
        .await
        .unwrap();
    server
        .control
        .store()
        .tenant_suspension_set(&account.tenant_id.to_string(), Some((1, "unpaid")))
        .await
        .unwrap();
    let (status, answer) = server.rest(Some(&secret), "GET", "/api/v1/vms", "", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "tenant_suspended");
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_in_a_crash_is_answered_on_retry_and_never_made_twice() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Crashy Co", "ops@crashy.example").await;
    let (_, secret) = server.api_key(&owner, "retry").await;
    let post = |path: &'static str, body: String, key: &'static str| {
        let (server, secret) = (&server, secret.clone());
        async move {
            server
                .rest(Some(&secret), "POST", path, &body, &[("Idempotency-Key", key)])
                .await
        }
    };
    // What a server killed after the create committed, before it kept the answer, leaves behind:
    // the key claimed with no answer (and, after five minutes, a claim that looks abandoned).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server._db.url).await.unwrap();
    let lose_answers = |age_ms: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "UPDATE idempotency_keys SET status = NULL, body = NULL, created_at = created_at - $1",
            )
            .bind(age_ms)
            .execute(&pool)
            .await
            .unwrap();
        }
    };

    let vdc_body = r#"{"name":"eu","zone":"fra1"}"#.to_owned();
    let (status, vdc) = post("/api/v1/vdcs", vdc_body.clone(), "vdc-eu").await;
    assert_eq!(status, StatusCode::CREATED, "{vdc}");
    lose_answers(0).await;
    let (status, again) = post("/api/v1/vdcs", vdc_body, "vdc-eu").await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::CREATED, &vdc["id"]),
        "{again}"
    );

    let vdc_id = vdc["id"].as_str().unwrap();
    let vm_body = format!(r#"{{"vdc_id":"{vdc_id}","name":"web-1","template":"coreos-docker","size":"xs"}}"#);
    let (status, first) = post("/api/v1/vms", vm_body.clone(), "vm-web-1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    for age_ms in [0, 10 * 60 * 1000] {
        lose_answers(age_ms).await;
        let (status, retry) = post("/api/v1/vms", vm_body.clone(), "vm-web-1").await;
        assert_eq!(status, StatusCode::ACCEPTED, "a retry {age_ms} ms on: {retry}");
        assert_eq!(retry["vm"]["id"], first["vm"]["id"], "the same VM, not a second");
        assert_eq!(retry["job"]["id"], first["job"]["id"], "the job it made");
    }
    // Two retries racing each other with a fresh key make one VM between them.
    let twin = vm_body.replace("web-1", "web-2");
    let (a, b) = tokio::join!(
        post("/api/v1/vms", twin.clone(), "vm-web-2"),
        post("/api/v1/vms", twin, "vm-web-2")
    );
    assert_eq!(
        (a.0, b.0),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED),
        "{a:?} {b:?}"
    );
    assert_eq!(a.1["vm"]["id"], b.1["vm"]["id"]);
    let (_, vms) = server.rest(Some(&secret), "GET", "/api/v1/vms", "", &[]).await;
    assert_eq!(vms["total"], 2, "one VM per key: {vms}");
    pool.close().await;
}

#[tokio::test]
async fn a_vm_is_created_over_rest_in_a_zone_with_no_vdc_and_its_vdc_is_made() {
    let server = TestServer::start().await;
    let (_stop_workers, _workers) = meridian::spawn_workers(&server.control, 2);
    let owner = TestServer::client();
    server.signup(&owner, "Zone Co", "ops@zone.example").await;
    let (_, secret) = server.api_key(&owner, "zones").await;
    let call = |method: &'static str, path: &'static str, body: &'static str| {
        let server = &server;
        let secret = secret.clone();
        async move { server.rest(Some(&secret), method, path, body, &[]).await }
    };
    let (status, answer) = call(
        "POST",
        "/api/v1/vms",
        r#"{"name":"x","template":"debian-12","size":"xs"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error"]["fields"]["vdc_id"].as_str().is_some(), "{answer}");
    let (status, answer) = call(
        "POST",
        "/api/v1/vms",
        r#"{"zone":"atlantis","name":"x","template":"debian-12","size":"xs"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error"]["fields"]["zone"].as_str().is_some(), "{answer}");

    let (status, accepted) = call(
        "POST",
        "/api/v1/vms",
        r#"{"zone":"sin1","name":"edge-1","template":"debian-12","size":"xs"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["vm"]["zone"], "sin1", "{accepted}");
    let (_, vdcs) = call("GET", "/api/v1/vdcs", "").await;
    assert_eq!(vdcs["total"], 1, "{vdcs}");
    assert_eq!(
        (
            vdcs["items"][0]["name"].as_str(),
            vdcs["items"][0]["zone"].as_str()
        ),
        (Some("default-sin1"), Some("sin1"))
    );
    assert_eq!(accepted["vm"]["vdc_id"], vdcs["items"][0]["id"], "{accepted}");
    // The next one in the zone goes into the same VDC.
    let (status, second) = call(
        "POST",
        "/api/v1/vms",
        r#"{"zone":"sin1","name":"edge-2","template":"debian-12","size":"xs"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    assert_eq!(second["vm"]["vdc_id"], vdcs["items"][0]["id"]);
    let (_, vdcs) = call("GET", "/api/v1/vdcs", "").await;
    assert_eq!(vdcs["total"], 1, "{vdcs}");
}

#[tokio::test]
async fn rate_caps_are_set_listed_refused_with_their_field_and_removed_over_rest() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Cap Co", "ops@cap.example").await;
    let (_, secret) = server.api_key(&owner, "caps").await;
    let call = |method: &'static str, path: &'static str, body: &'static str| {
        let server = &server;
        let secret = secret.clone();
        async move { server.rest(Some(&secret), method, path, body, &[]).await }
    };
    let (status, answer) = call(
        "PUT",
        "/api/v1/bandwidth/caps",
        r#"{"scope":"pair","zone_a":"lon1","zone_b":"lon1","mbps":10}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error"]["fields"]["zone_b"].as_str().is_some(), "{answer}");
    let (status, answer) = call(
        "PUT",
        "/api/v1/bandwidth/caps",
        r#"{"scope":"pair","zone_a":"lon1","zone_b":"ams1","mbps":0}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error"]["fields"]["mbps"].as_str().is_some(), "{answer}");
    let (_, bandwidth) = call("GET", "/api/v1/bandwidth", "").await;
    assert_eq!(
        bandwidth["caps"],
        serde_json::json!([]),
        "nothing was set: {bandwidth}"
    );
    assert_eq!(
        bandwidth["measured"], false,
        "the simulated zones' traffic is not measured"
    );

    let (status, cap) = call(
        "PUT",
        "/api/v1/bandwidth/caps",
        r#"{"scope":"pair","zone_a":"lon1","zone_b":"ams1","mbps":25}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cap}");
    assert_eq!(
        (cap["target"].as_str(), cap["mbps"].as_i64()),
        (Some("ams1-lon1"), Some(25))
    );
    let (_, bandwidth) = call("GET", "/api/v1/bandwidth", "").await;
    assert_eq!(bandwidth["caps"][0]["target"], "ams1-lon1", "{bandwidth}");
    let (status, _) = call("DELETE", "/api/v1/bandwidth/caps/pair/ams1-lon1", "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = call("DELETE", "/api/v1/bandwidth/caps/pair/ams1-lon1", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
}

#[tokio::test]
async fn a_second_operation_on_a_busy_vm_is_refused_naming_the_running_job_in_rest_and_cloudstack() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Busy Co", "ops@busy.example").await;
    let (api_key, secret) = server.api_key(&owner, "busy").await;
    let rest = |method: &'static str, path: String, body: &'static str| {
        let (server, secret) = (&server, secret.clone());
        async move { server.rest(Some(&secret), method, &path, body, &[]).await }
    };
    let (_, vdc) = rest("POST", "/api/v1/vdcs".into(), r#"{"name":"eu","zone":"fra1"}"#).await;
    let body = format!(
        r#"{{"vdc_id":"{}","name":"web-1","template":"coreos-docker","size":"xs"}}"#,
        vdc["id"].as_str().unwrap()
    );
    let (_, created) = server
        .rest(Some(&secret), "POST", "/api/v1/vms", &body, &[])
        .await;
    let vm = created["vm"]["id"].as_str().unwrap().to_owned();
    let create_job = created["job"]["id"].as_str().unwrap().to_owned();
    // Workers build the VM, then stop, so that the next job stays queued. The create's job is
    // done a moment after the VM shows running (its last step): wait for the job itself.
    let (stop_workers, workers) = meridian::spawn_workers(&server.control, 1);
    for _ in 0..400 {
        if rest("GET", format!("/api/v1/jobs/{create_job}"), "").await.1["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop_workers.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let (status, stopping) = rest("POST", format!("/api/v1/vms/{vm}/stop"), "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{stopping}");
    let running_job = stopping["job"]["id"].as_str().unwrap();

    let (status, refused) = rest("POST", format!("/api/v1/vms/{vm}/reboot"), "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "operation_in_progress");
    assert_eq!(refused["error"]["job_id"], running_job, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains(running_job)
    );

    let (_, answer) = server
        .cloudstack(
            Some((&api_key, &secret)),
            "rebootVirtualMachine",
            &[("id".to_owned(), vm.clone())],
        )
        .await;
    assert_eq!(answer["errorcode"], 536, "CloudStack's RESOURCE_IN_USE: {answer}");
    assert!(
        answer["errortext"].as_str().unwrap().contains(running_job),
        "{answer}"
    );
}

// ---------------------------------------------------------------------------------------------
// Security and robustness, second round (#18)
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn text_with_a_direction_override_is_refused_with_the_field_named() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Bidi Co", "ops@bidi.example").await;
    let (_, secret) = server.api_key(&owner, "bidi").await;
    // A key's comment is its label in the dashboard: U+202E would show "ada@laptop" reversed.
    let body = serde_json::json!({
        "name": "laptop",
        "public_key": KEY.replace("x@y", "ada\u{202E}potpal@"),
    });
    let (status, answer) = server
        .rest(Some(&secret), "POST", "/api/v1/ssh-keys", &body.to_string(), &[])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_input");
    assert!(answer["error"]["fields"]["public_key"].is_string(), "{answer}");
    let (_, keys) = server
        .rest(Some(&secret), "GET", "/api/v1/ssh-keys", "", &[])
        .await;
    assert!(!keys.to_string().contains("laptop"), "{keys}");
    // A tenant name with a zero-width space is refused at sign-up, naming the field.
    let response = server
        .call(
            &TestServer::client(),
            "account_signup",
            &[
                ("tenant_name", "Acme\u{200B} Ltd"),
                ("email", "z@acme.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["Invalid"]["fields"][0][0], "tenant_name", "{body}");
}

/// Sends `head` (and whatever body bytes it ends with) on a fresh connection to `server` and
/// leaves the connection open.
async fn raw_connection(server: &TestServer, head: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends on `stream` until it closes it (at most 20 s: a bound for a broken
/// server, not a timing assertion).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open: {}",
        String::from_utf8_lossy(&answer)
    );
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_senders_hold_no_slot_and_are_cut_off_at_their_deadline() {
    let hour = Duration::from_secs(3600);
    let server = TestServer::start_configured(
        hour,
        hour,
        &[],
        (Duration::from_millis(500), Duration::from_millis(1500)),
    )
    .await;
    // More connections than there are load-shedding slots, each announcing a large body to a
    // route that reads the body first (a server function) and sending two bytes of it.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // (At most 300: client and server ends together stay under the usual 1024 open files.)
    let count = (meridian::guard::IN_FLIGHT_PER_CORE * cores + 16).min(300);
    let mut slow = Vec::with_capacity(count);
    for _ in 0..count {
        slow.push(
            raw_connection(
                &server,
                "POST /fn/account_login HTTP/1.1\r\nHost: meridian\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nem",
            )
            .await,
        );
    }
    // One that never finishes its headers.
    let mut stalled = raw_connection(&server, "GET /healthz HTTP/1.1\r\nHost: mer").await;
    // Everyone else is still served, and the server says it is ready for more.
    let ready = server.client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let normal = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(normal.status(), StatusCode::OK);
    // The slow senders are answered 408 once their time is up, and their connections closed.
    for stream in &mut slow {
        let answer = read_until_closed(stream).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"request_timeout\""), "{answer}");
        assert!(answer.contains("x-content-type-options: nosniff"), "{answer}");
    }
    // The stalled head is closed too.
    let answer = read_until_closed(&mut stalled).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn liveness_and_readiness_are_apart() {
    let server = TestServer::start().await;
    for path in ["/healthz", "/readyz"] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let ready: serde_json::Value = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
}

/// A server function's malformed call: (status, JSON answer).
async fn malformed_call(
    server: &TestServer,
    content_type: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(server.url("/fn/account_login"))
        .header("Content-Type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_server_function_calls_are_client_errors_in_the_api_shape() {
    let server = TestServer::start().await;
    let form = "application/x-www-form-urlencoded";
    // A missing argument.
    let (status, answer) = malformed_call(&server, form, "email=a%40b.example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "bad_request", "{answer}");
    assert!(answer["error"]["message"].is_string(), "{answer}");
    // A duplicated key.
    let (status, answer) = malformed_call(
        &server,
        form,
        "email=a%40b.example&email=c%40d.example&password=x",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "bad_request", "{answer}");
    // A JSON body.
    let (status, answer) = malformed_call(
        &server,
        "application/json",
        r#"{"email":"a@b.example","password":"x"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");
    assert_eq!(answer["error"]["code"], "unsupported_media_type", "{answer}");
    // A 20 MB body: refused on its announced length, before it is read.
    let mut big = raw_connection(
        &server,
        "POST /fn/account_login HTTP/1.1\r\nHost: meridian\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20000000\r\n\r\nemail=",
    )
    .await;
    let answer = read_until_closed_or_answered(&mut big).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"body_too_large\""), "{answer}");
    // The same over the limit without a length announced (chunked) is refused once the limit
    // is passed.
    let chunk = "a".repeat(64 * 1024);
    let mut head = String::from(
        "POST /fn/account_login HTTP/1.1\r\nHost: meridian\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for _ in 0..5 {
        head.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    let mut chunked = raw_connection(&server, &head).await;
    let answer = read_until_closed_or_answered(&mut chunked).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // A well-formed call still works as before.
    let (status, _) = malformed_call(&server, form, "email=a%40b.example&password=x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// What the server answers on `stream`: up to the end of the first response's JSON body.
async fn read_until_closed_or_answered(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buffer))
            .await
            .expect("no answer in 20 s");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
        if answer.ends_with(b"}}") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenant_and_staff_data_is_never_stored_by_a_cache() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Cache Co", "ops@cache.example").await;
    let (_, secret) = server.api_key(&owner, "cache").await;
    let no_store = |response: &reqwest::Response, what: &str| {
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_owned())
                .as_deref(),
            Some("private, no-store"),
            "{what}"
        );
    };
    for path in [
        "/",
        "/vdcs",
        "/settings",
        "/billing/usage.csv",
        "/residency/evidence.csv",
    ] {
        let response = owner.get(server.url(path)).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        no_store(&response, path);
    }
    let answer = server.call(&owner, "account_view", &[]).await;
    no_store(&answer, "a server function");
    let rest = reqwest::Client::new()
        .get(server.url("/api/v1/vdcs"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::OK);
    no_store(&rest, "REST");
    let cloudstack = reqwest::Client::new()
        .get(server.url("/client/api?command=listZones&response=json"))
        .send()
        .await
        .unwrap();
    no_store(&cloudstack, "CloudStack");
    let staff = server.staff_client("ana@meridian.example", "support").await;
    let console = staff.get(server.url("/staff")).send().await.unwrap();
    assert!(console.status().is_success(), "{}", console.status());
    no_store(&console, "the staff console");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_name_full_of_markup_stays_text_in_the_staff_console() {
    let server = TestServer::start().await;
    let name = "</title><meta http-equiv=refresh content=0;url=//evil.example>";
    let tenant = TestServer::client();
    assert_eq!(
        server.signup(&tenant, name, "ops@evil.example").await.status(),
        StatusCode::OK
    );
    let tenant_id = server.tenant_id_found("evil").await;
    let staff = server.staff_client("ana@meridian.example", "support").await;
    let page = staff
        .get(server.url(&format!("/staff/tenants/{tenant_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    // The page's own policy is its one <meta http-equiv>; the name's is text.
    assert!(!html.contains("<meta http-equiv=refresh"), "{html}");
    assert_eq!(html.matches("<meta http-equiv").count(), 1, "{html}");
    assert!(
        html.contains("<title>Tenant &lt;/title&gt;&lt;meta http-equiv=refresh"),
        "{html}"
    );
    // The tenant's own pages carry it in their titles as text too.
    let overview = tenant
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!overview.contains("<meta http-equiv=refresh"), "{overview}");
    assert_eq!(overview.matches("<meta http-equiv").count(), 1, "{overview}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_cloudstack_request_runs_once_and_expires_soon() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Replay Co", "ops@replay.example").await;
    let (api_key, secret) = server.api_key(&owner, "replay").await;
    let signed_url = |params: &[(&str, &str)]| {
        let mut all: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([
                ("apiKey".to_owned(), api_key.clone()),
                ("response".to_owned(), "json".to_owned()),
            ])
            .collect();
        let signature = meridian_core::api_key::cloudstack_sign(&all, &secret);
        all.push(("signature".into(), signature));
        let query: String = form_urlencoded_pairs(&all);
        server.url(&format!("/client/api?{query}"))
    };
    let get = |url: String| async move {
        let response = reqwest::get(url).await.unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        (status, body)
    };
    // The same signed createNetwork twice (a captured URL, replayed): one VDC.
    let create = signed_url(&[("command", "createNetwork"), ("name", "once"), ("zoneid", "fra1")]);
    let (status, first) = get(create.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, replay) = get(create).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{replay}");
    assert!(replay.to_string().contains("already been run"), "{replay}");
    let vdcs = server.json(&owner, "vdc_list", &[]).await;
    assert_eq!(vdcs.as_array().map(Vec::len), Some(1), "{vdcs}");
    // A refused command changed nothing: the same signed request sent again (as a client does after
    // "in progress" or "try again") is run again, and refused for its own reason, not as a replay.
    let refused = signed_url(&[
        ("command", "stopVirtualMachine"),
        ("id", "00000000-0000-0000-0000-000000000000"),
    ]);
    let (status, first) = get(refused.clone()).await;
    assert_ne!(status, StatusCode::OK, "{first}");
    let (again, second) = get(refused).await;
    assert_eq!((again, &second), (status, &first), "the same refusal again");
    assert!(!second.to_string().contains("already been run"), "{second}");
    // A listing signed once may be sent again.
    let list = signed_url(&[("command", "listNetworks")]);
    assert_eq!(get(list.clone()).await.0, StatusCode::OK);
    assert_eq!(get(list).await.0, StatusCode::OK);
    // expires more than 15 minutes ahead is refused.
    let later = meridian_core::calendar::format_iso(meridian_control::store::now_ms() + 3_600_000);
    let far = signed_url(&[
        ("command", "listNetworks"),
        ("expires", &later),
        ("signatureVersion", "3"),
    ]);
    assert_eq!(get(far).await.0, StatusCode::UNAUTHORIZED);
}

/// `pairs` as a URL query string.
fn form_urlencoded_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let encode = |s: &str| {
                s.bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                            char::from(b).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect::<String>()
            };
            format!("{}={}", encode(k), encode(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_oversized_address_or_header_block_is_refused_with_the_security_headers() {
    let server = TestServer::start().await;
    let long = server
        .client
        .get(server.url(&format!("/healthz?{}", "a".repeat(10 * 1024))))
        .send()
        .await
        .unwrap();
    assert_eq!(long.status(), StatusCode::URI_TOO_LONG);
    assert_eq!(long.headers()["x-content-type-options"], "nosniff");
    let body: serde_json::Value = long.json().await.unwrap();
    assert_eq!(body["error"]["code"], "uri_too_long");
    let mut request = server.client.get(server.url("/healthz"));
    for n in 0..150 {
        request = request.header(format!("x-filler-{n}"), "x");
    }
    let many = request.send().await.unwrap();
    assert_eq!(many.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(many.headers()["x-content-type-options"], "nosniff");
    assert_eq!(many.headers()["x-frame-options"], "DENY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_change_revokes_api_keys_when_the_box_is_ticked() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Keys Co", "ops@keys.example").await;
    let (_, secret) = server.api_key(&owner, "script").await;
    // The form offers it, ticked.
    let settings = owner
        .get(server.url("/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let checkbox = settings
        .split("<input")
        .find(|input| input.contains(r#"name="revoke_api_keys""#))
        .expect("a revoke_api_keys checkbox on the settings page");
    assert!(checkbox.contains("checked"), "{checkbox}");
    let works = |secret: String| {
        let server = &server;
        async move { server.rest(Some(&secret), "GET", "/api/v1/vdcs", "", &[]).await.0 }
    };
    // Unticked (the field absent): the key keeps working.
    let kept = server
        .call(
            &owner,
            "account_password_change",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a second long secret"),
            ],
        )
        .await;
    assert_eq!(kept.status(), StatusCode::OK);
    assert_eq!(works(secret.clone()).await, StatusCode::OK);
    // Ticked, as the form is by default: the key stops at once.
    let revoked = server
        .call(
            &owner,
            "account_password_change",
            &[
                ("current_password", "a second long secret"),
                ("new_password", "a third long secret!"),
                ("revoke_api_keys", "on"),
            ],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(works(secret).await, StatusCode::UNAUTHORIZED);
}

/// Prometheus' text format, read as a scraper would: each sample's name with its labels, and its
/// value. Comment lines (`# HELP`, `# TYPE`) are kept apart, by metric name.
fn prometheus_parse(
    text: &str,
) -> (
    std::collections::BTreeMap<String, f64>,
    std::collections::BTreeMap<String, String>,
) {
    let mut samples = std::collections::BTreeMap::new();
    let mut types = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        samples.insert(
            series.to_owned(),
            value.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        );
    }
    (samples, types)
}

#[tokio::test]
async fn prometheus_metrics_count_requests_and_jobs_with_bounded_labels() {
    let handle = meridian::metrics::install();
    let server = TestServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, meridian::metrics::router(handle))
            .await
            .unwrap()
    });
    let scrape = || async {
        let response = reqwest::get(&metrics_url).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        prometheus_parse(&response.text().await.unwrap())
    };
    let value = |samples: &std::collections::BTreeMap<String, f64>, series: &str| {
        samples.get(series).copied().unwrap_or(0.0)
    };
    let (before, _) = scrape().await;

    for _ in 0..3 {
        assert_eq!(
            server
                .client
                .get(server.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let owner = TestServer::client();
    server.signup(&owner, "Metered Co", "ops@metered.example").await;
    let (_, secret) = server.api_key(&owner, "metrics").await;
    let (_, vdc) = server
        .rest(
            Some(&secret),
            "POST",
            "/api/v1/vdcs",
            r#"{"name":"eu","zone":"fra1"}"#,
            &[],
        )
        .await;
    let body = format!(
        r#"{{"vdc_id":"{}","name":"web-1","template":"coreos-docker","size":"xs"}}"#,
        vdc["id"].as_str().unwrap()
    );
    let (status, _) = server
        .rest(Some(&secret), "POST", "/api/v1/vms", &body, &[])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    server.control.job_drain("metrics-test").await.unwrap();
    meridian::metrics::sample(&server.control).await.unwrap();
    let (after, types) = scrape().await;

    let healthz = r#"meridian_http_requests_total{route="/healthz",method="GET",status="200"}"#;
    assert!(
        value(&after, healthz) - value(&before, healthz) >= 3.0,
        "{healthz}"
    );
    let creates = r#"meridian_http_request_duration_seconds_count{route="/api/v1/vms",method="POST"}"#;
    assert!(
        value(&after, creates) - value(&before, creates) >= 1.0,
        "{creates}"
    );
    let built = r#"meridian_jobs_finished_total{kind="vm_create",outcome="succeeded"}"#;
    assert!(value(&after, built) - value(&before, built) >= 1.0, "{built}");
    assert!(
        value(&after, "meridian_sessions") >= 1.0,
        "the owner's session is live"
    );
    assert!(after.contains_key(r#"meridian_jobs{state="queued"}"#));
    // Conventions: counters end in _total, durations are seconds, and no label is an id.
    assert_eq!(types["meridian_http_requests_total"], "counter");
    assert_eq!(types["meridian_http_request_duration_seconds"], "histogram");
    assert_eq!(types["meridian_sessions"], "gauge");
    let uuid_like = |s: &str| s.len() >= 36 && s.chars().filter(|c| *c == '-').count() >= 4;
    for series in after.keys() {
        assert!(!series.split('"').any(uuid_like), "an id as a label: {series}");
    }
}

/// A tenant whose owner has a VM and has invited a member: (owner, member, the VM's id, the
/// member's user id).
async fn tenant_with_a_vm(server: &TestServer) -> (reqwest::Client, reqwest::Client, String, String) {
    let owner = TestServer::client();
    server.signup(&owner, "Acme", "ops@acme.io").await;
    let vdc = server
        .json(&owner, "vdc_create", &[("name", "web"), ("zone", "ber1")])
        .await;
    let vdc = vdc["id"].as_str().expect("the VDC's id").to_owned();
    let created = server
        .call(
            &owner,
            "vm_create",
            &[
                ("vdc_id", &vdc),
                ("name", "web-1"),
                ("template", "debian-12"),
                ("size", "xs"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let vm = json_id(&server.json(&owner, "vm_list", &[]).await, "web-1");
    let invited = server
        .json(
            &owner,
            "user_invite",
            &[("email", "dev@acme.io"), ("role", "member")],
        )
        .await;
    let token = invited
        .as_str()
        .and_then(|link| link.strip_prefix("/invite/"))
        .unwrap_or_else(|| panic!("no invitation link in {invited}"))
        .to_owned();
    let member = TestServer::client();
    let joined = server
        .call(
            &member,
            "invite_accept",
            &[("token", &token), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(joined.status(), StatusCode::OK);
    let member_id = json_id(&server.json(&owner, "user_list", &[]).await, "dev@acme.io");
    (owner, member, vm, member_id)
}

/// Opens `vm`'s live stream as `client`.
async fn live_stream(server: &TestServer, client: &reqwest::Client, vm: &str) -> reqwest::Response {
    client
        .get(server.url(&format!("/events/vms/{vm}")))
        .send()
        .await
        .expect("an answer")
}

/// Reads an open stream's next message (its `data:` line), within `bound`.
async fn next_message(stream: &mut reqwest::Response, bound: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + bound;
    let mut text = String::new();
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if let Some(data) = text.lines().find_map(|line| line.strip_prefix("data:")) {
                    return Some(data.trim().to_owned());
                }
            }
            _ => return None,
        }
    }
}

/// Whether an open stream ends within `bound` (whatever it sends until then).
async fn ends_within(stream: &mut reqwest::Response, bound: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None) | Err(_)) => return true,
            Err(_) => return false,
        }
    }
}

/// How long a stream may go on after its session or right ended: a few of its re-checks.
const STREAM_END_BOUND: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_stream_ends_soon_after_its_session_ends_or_its_user_is_removed() {
    let server = TestServer::start().await;
    let (owner, member, vm, member_id) = tenant_with_a_vm(&server).await;

    let mut owners = live_stream(&server, &owner, &vm).await;
    assert_eq!(owners.status(), StatusCode::OK);
    assert!(
        next_message(&mut owners, Duration::from_secs(10)).await.is_some(),
        "the VM as it is"
    );
    let mut members = live_stream(&server, &member, &vm).await;
    assert_eq!(members.status(), StatusCode::OK);
    assert!(
        next_message(&mut members, Duration::from_secs(10))
            .await
            .is_some()
    );

    // The owner logs out: their stream ends.
    assert_eq!(
        server.call(&owner, "account_logout", &[]).await.status(),
        StatusCode::OK
    );
    assert!(
        ends_within(&mut owners, STREAM_END_BOUND).await,
        "the stream outlived its session"
    );

    // The member is removed from the tenant (by the owner, signed in again): theirs ends too.
    let owner_again = TestServer::client();
    let login = server
        .call(
            &owner_again,
            "account_login",
            &[("email", "ops@acme.io"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let removed = server
        .call(&owner_again, "user_remove", &[("id", &member_id)])
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert!(
        ends_within(&mut members, STREAM_END_BOUND).await,
        "the stream outlived the user's right"
    );
    // And no new one opens.
    assert_eq!(
        live_stream(&server, &member, &vm).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_user_holds_at_most_eight_live_streams() {
    let server = TestServer::start().await;
    let (owner, member, vm, _) = tenant_with_a_vm(&server).await;
    let mut open = Vec::new();
    for _ in 0..meridian::events::STREAMS_PER_ACTOR {
        let stream = live_stream(&server, &owner, &vm).await;
        assert_eq!(stream.status(), StatusCode::OK);
        open.push(stream);
    }
    let refused = live_stream(&server, &owner, &vm).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused) >= 1);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams", "{body}");
    // Someone else in the tenant is not held by it.
    let members = live_stream(&server, &member, &vm).await;
    assert_eq!(members.status(), StatusCode::OK);
    drop(open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_stream_hears_progress_made_by_another_server_on_the_database() {
    let server = TestServer::start().await;
    let (owner, _, vm, _) = tenant_with_a_vm(&server).await;
    let mut stream = live_stream(&server, &owner, &vm).await;
    let first = next_message(&mut stream, Duration::from_secs(10))
        .await
        .expect("the VM as it is");
    assert!(!first.starts_with("running"), "{first}");
    // The job runs elsewhere: on PostgreSQL in another control plane (another server), whose
    // progress arrives by notification; on SQLite, where one server owns the file, in this one.
    let worker = match server.control.store().backend() {
        meridian_control::store::Backend::Postgres => {
            let store = meridian_control::Store::connect(&server._db.url).await.unwrap();
            let driver = std::sync::Arc::new(meridian_control::driver::simulated::SimulatedDriver::new(
                meridian_control::driver::simulated::SimTiming::instant(),
                2,
            ));
            Control::new(store, driver).await.unwrap()
        }
        meridian_control::store::Backend::Sqlite => server.control.clone(),
    };
    let (stop, _workers) = meridian::spawn_workers(&worker, 1);
    let mut seen = vec![first];
    while !seen.last().is_some_and(|m| m.starts_with("running")) {
        match next_message(&mut stream, Duration::from_secs(30)).await {
            Some(message) => seen.push(message),
            None => panic!("the stream heard no more after {seen:?}"),
        }
    }
    let _ = stop.send(true);
}

/// One control-plane error of each kind; (what it is, the status every front door answers it
/// with, the code the CloudStack API answers it with, which is also that answer's HTTP status).
fn control_errors() -> Vec<(&'static str, meridian_control::Error, u16, u16)> {
    use meridian_control::Error;
    let mut fields = meridian_core::FieldErrors::default();
    fields.push("name", "Use 1 to 63 letters, digits or dashes.");
    vec![
        ("not found", Error::NotFound, 404, 431),
        ("invalid", Error::Invalid(fields), 422, 431),
        ("unauthenticated", Error::Unauthenticated, 401, 401),
        ("bad credentials", Error::BadCredentials, 401, 401),
        (
            "forbidden",
            Error::Forbidden("Viewers cannot change anything.".into()),
            403,
            531,
        ),
        (
            "quota (forbidden)",
            Error::Forbidden("Could not reserve quota: 8 vCPUs are in use of 8.".into()),
            403,
            531,
        ),
        ("suspended", Error::Suspended, 403, 531),
        ("throttled", Error::Throttled { retry_after_s: 30 }, 429, 429),
        (
            "conflict",
            Error::Conflict {
                field: Some("name"),
                message: "That name is taken.".into(),
            },
            409,
            431,
        ),
        (
            "busy",
            Error::Busy {
                job_id: uuid::Uuid::new_v4(),
            },
            409,
            536,
        ),
        (
            "transient",
            Error::Transient {
                detail: "deadlock".into(),
            },
            503,
            530,
        ),
        ("internal", Error::internal("disk on fire"), 500, 530),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_front_door_answers_each_control_error_with_the_same_status() {
    // Server function, REST, CSV, live stream, page: the edge's status; CloudStack: its code.
    let server = TestServer::start().await;
    let (owner, _, vm, _) = tenant_with_a_vm(&server).await;
    let (api_key, secret) = server.api_key(&owner, "edge").await;
    let key = Some((api_key.as_str(), secret.as_str()));
    for (i, (kind, error, status, cs_code)) in control_errors().into_iter().enumerate() {
        // The same error again, for the next front door (it is not `Clone`).
        let again = || control_errors().swap_remove(i).1;
        // The tables the front doors read agree with this one.
        assert_eq!(meridian_app::edge::status(&error).as_u16(), status, "{kind}");
        assert_eq!(meridian::cloudstack::error_code(&error), cs_code, "{kind}");
        let code = error.code();
        let status = StatusCode::from_u16(status).unwrap();
        let hooks = server.control.hooks();

        // Each front door (a page renders through server functions), failing with the error
        // where it asks who is acting.
        hooks.fail_next_acting(again());
        let answer = server.call(&owner, "vm_list", &[]).await;
        assert_eq!(answer.status(), status, "{kind}: server function");

        hooks.fail_next_acting(again());
        let (answered, body) = server.rest(Some(&secret), "GET", "/api/v1/vms", "", &[]).await;
        assert_eq!(answered, status, "{kind}: REST");
        assert_eq!(body["error"]["code"], code, "{kind}: REST keeps its stable code");

        hooks.fail_next_acting(again());
        let answer = owner.get(server.url("/billing/usage.csv")).send().await.unwrap();
        assert_eq!(answer.status(), status, "{kind}: CSV");

        hooks.fail_next_acting(again());
        let answer = live_stream(&server, &owner, &vm).await;
        assert_eq!(answer.status(), status, "{kind}: live stream");

        hooks.fail_next_acting(again());
        let answer = owner.get(server.url("/vms")).send().await.unwrap();
        assert_eq!(answer.status(), status, "{kind}: page");

        hooks.fail_next_acting(again());
        let (answered, body) = server.cloudstack(key, "listVirtualMachines", &[]).await;
        assert_eq!(answered.as_u16(), cs_code, "{kind}: CloudStack");
        assert_eq!(body["errorcode"], cs_code, "{kind}: CloudStack");
    }
    assert!(
        server.control.hooks().acting_failure().is_none(),
        "every failure set was met"
    );

    // And the same for errors the control plane gives of its own accord: a VM nobody has.
    let nobody = uuid::Uuid::new_v4().to_string();
    let answer = server.call(&owner, "vm_view", &[("id", &nobody)]).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND, "server function");
    let (answered, _) = server
        .rest(Some(&secret), "GET", &format!("/api/v1/vms/{nobody}"), "", &[])
        .await;
    assert_eq!(answered, StatusCode::NOT_FOUND, "REST");
    let answer = owner
        .get(server.url("/billing/usage.csv?month=not-a-month"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND, "CSV");
    assert_eq!(
        live_stream(&server, &owner, &nobody).await.status(),
        StatusCode::NOT_FOUND,
        "live stream"
    );
    let (answered, _) = server
        .cloudstack(key, "startVirtualMachine", &[("id".into(), nobody.clone())])
        .await;
    assert_eq!(answered.as_u16(), 431, "CloudStack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_agent_routes_refuse_anyone_else() {
    let server = TestServer::start().await;
    server.signup(&server.client, "Acme", "ops@acme.io").await;
    let stranger = TestServer::client();
    for path in ["/agent/v1/register", "/agent/v1/probes"] {
        // A browser's session cookie without proof of origin is refused as any cross-site POST…
        let answer = server
            .client
            .post(server.url(path))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{path}");
        // …without the API version, 409…
        let answer = stranger.post(server.url(path)).body("{}").send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::CONFLICT, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["code"], "api_version", "{path}");
        // …and with it, a server that runs no host agents says nothing more than 404.
        let registration = serde_json::json!({ "api_version": 1, "host_id": uuid::Uuid::new_v4(), "name": "x",
            "zone": "lon1", "vcpus": 1, "memory_mib": 1, "disk_gib": 1, "accelerator": "tcg",
            "accelerator_reason": "", "endpoint": "http://127.0.0.1:1", "image": "", "samples": [] });
        let answer = stranger
            .post(server.url(path))
            .header("meridian-agent-api", "1")
            .bearer_auth("forged")
            .json(&registration)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // The backbone controller's route (a GET): no version, 409; a server with no agents, 404.
    let path = "/agent/v1/backbone";
    let answer = stranger.get(server.url(path)).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::CONFLICT, "{path}");
    let answer = stranger
        .get(server.url(path))
        .header("meridian-agent-api", "1")
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
}

/// A form posted by the browser itself (no WASM yet) and refused goes back to its page with the
/// error in the address, sealed by the server; an error the server did not seal (a crafted link)
/// never reaches the page, which is asked for again without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_plain_form_returns_to_its_page_and_a_crafted_error_never_shows() {
    let server = TestServer::start().await;
    let form = [
        ("tenant_name", "Plain"),
        ("email", "plain@example.com"),
        ("password", "short"),
    ];
    let refused = server
        .client
        .post(server.url("/fn/account_signup"))
        .header("Origin", &server.base)
        .header("Accept", "text/html,application/xhtml+xml")
        .header("Referer", server.url("/signup"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    let location = refused.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&server.url("/signup?")), "{location}");
    assert!(
        location.contains("__err=") && location.contains("&__sig="),
        "{location}"
    );
    let page = server
        .client
        .get(&location)
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Use at least 12 characters."));

    // The WASM app's own call keeps the refusal's status and body.
    let script = server.call(&server.client, "account_signup", &form).await;
    assert_eq!(script.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Words of a link's own, with the real seal or none: the page comes back without them.
    let (_, query) = location.split_once('?').unwrap();
    let err = query.split('&').find_map(|p| p.strip_prefix("__err=")).unwrap();
    // {"Forbidden":"Your account is locked: call +1 555 0100"}
    let crafted_err = "eyJGb3JiaWRkZW4iOiJZb3VyIGFjY291bnQgaXMgbG9ja2VkOiBjYWxsICsxIDU1NSAwMTAwIn0";
    let swapped = location.replace(err, crafted_err);
    let unsealed: String = location.split("&__sig=").next().unwrap().to_owned();
    for crafted in [swapped, unsealed] {
        let answer = server
            .client
            .get(&crafted)
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{crafted}");
        assert_eq!(answer.headers()["location"], "/signup");
    }
}

#[tokio::test]
async fn a_bulk_action_over_rest_starts_a_job_per_vm_and_names_each_one_skipped() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Bulk Co", "ops@bulk.example").await;
    let (_, secret) = server.api_key(&owner, "bulk").await;
    let rest = |method: &'static str, path: String, body: String| {
        let (server, secret) = (&server, secret.clone());
        async move { server.rest(Some(&secret), method, &path, &body, &[]).await }
    };
    let mut vms = Vec::new();
    let mut jobs = Vec::new();
    for name in ["web-1", "web-2"] {
        let body = format!(r#"{{"zone":"fra1","name":"{name}","template":"debian-12","size":"xs"}}"#);
        let (status, created) = rest("POST", "/api/v1/vms".into(), body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{created}");
        vms.push(created["vm"]["id"].as_str().unwrap().to_owned());
        jobs.push(created["job"]["id"].as_str().unwrap().to_owned());
    }
    // Workers build both, then stop, so that the next job on web-1 stays queued and holds it.
    let (stop_workers, workers) = meridian::spawn_workers(&server.control, 1);
    for job in &jobs {
        for _ in 0..400 {
            let (_, answer) = rest("GET", format!("/api/v1/jobs/{job}"), String::new()).await;
            if answer["state"] == "succeeded" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    stop_workers.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let (status, stopping) = rest("POST", format!("/api/v1/vms/{}/stop", vms[0]), String::new()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{stopping}");

    let bulk = |action: &str, ids: &[String], confirm: &str| {
        serde_json::json!({"action": action, "ids": ids, "confirm": confirm}).to_string()
    };
    let (status, answer) = rest("POST", "/api/v1/vms/bulk".into(), bulk("reboot", &vms, "")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["started"].as_u64(), answer["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{answer}"
    );
    let held = &answer["outcomes"][0];
    assert_eq!(held["name"], "web-1");
    assert_eq!(held["job_id"], serde_json::Value::Null);
    assert_eq!(held["error_code"], "operation_in_progress", "{answer}");
    assert!(
        held["error"]
            .as_str()
            .unwrap()
            .contains(stopping["job"]["id"].as_str().unwrap())
    );
    assert_eq!(answer["outcomes"][1]["name"], "web-2");
    let job = answer["outcomes"][1]["job_id"].as_str().expect("web-2 reboots");
    let (_, job) = rest("GET", format!("/api/v1/jobs/{job}"), String::new()).await;
    assert_eq!(
        (job["kind"].as_str(), job["vm_id"].as_str()),
        (Some("vm_reboot"), Some(vms[1].as_str()))
    );

    // Refused whole: an unconfirmed destroy, a wrong action, an id that is not one of ours.
    let (status, answer) = rest("POST", "/api/v1/vms/bulk".into(), bulk("destroy", &vms, "1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["error"]["fields"]["confirm"],
        "Type 2 to confirm destroying 2 VMs."
    );
    let (status, answer) = rest("POST", "/api/v1/vms/bulk".into(), bulk("explode", &vms, "")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error"]["fields"]["action"].is_string(), "{answer}");
    let strangers = [vms[1].clone(), uuid::Uuid::new_v4().to_string()];
    let (status, answer) = rest("POST", "/api/v1/vms/bulk".into(), bulk("stop", &strangers, "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (_, list) = rest("GET", "/api/v1/jobs".into(), String::new()).await;
    assert_eq!(list["total"], 4, "two creates, the stop and the reboot: {list}");
}

#[tokio::test]
async fn a_latency_budget_over_rest_refuses_a_zone_too_far_with_the_reason() {
    let server = TestServer::start().await;
    let owner = TestServer::client();
    server.signup(&owner, "Near Co", "ops@near.example").await;
    let (_, secret) = server.api_key(&owner, "near").await;
    let create = |body: &'static str| {
        let (server, secret) = (&server, secret.clone());
        async move { server.rest(Some(&secret), "POST", "/api/v1/vms", body, &[]).await }
    };
    let (status, answer) = create(
        r#"{"zone":"hkg1","name":"far-1","template":"debian-12","size":"xs","latency":{"max_ms":10,"from_zone":"fra1"}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["error"]["fields"]["latency_ms"]
            .as_str()
            .unwrap()
            .starts_with("Light in fibre needs"),
        "{answer}"
    );
    let (status, answer) = create(
        r#"{"zone":"ams1","name":"near-1","template":"debian-12","size":"xs","latency":{"max_ms":10,"from_zone":"fra1","from_vm":"x"}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["error"]["fields"]["latency_of"].is_string(), "{answer}");
    let (status, answer) = create(
        r#"{"zone":"ams1","name":"near-1","template":"debian-12","size":"xs","latency":{"max_ms":10,"from_zone":"fra1"}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (_, vms) = server.rest(Some(&secret), "GET", "/api/v1/vms", "", &[]).await;
    assert_eq!(vms["total"], 1, "only the VM that fits: {vms}");
}

#[tokio::test]
async fn a_stack_is_made_read_and_deleted_over_rest_with_its_connection_string() {
    let server = TestServer::start().await;
    let (_stop_workers, _workers) = meridian::spawn_workers(&server.control, 2);
    let owner = TestServer::client();
    server.signup(&owner, "Replica Co", "ops@replica.example").await;
    let (_, secret) = server.api_key(&owner, "stacks").await;
    let rest = |method: &'static str, path: String, body: &'static str| {
        let (server, secret) = (&server, secret.clone());
        async move { server.rest(Some(&secret), method, &path, body, &[]).await }
    };
    let (status, templates) = rest("GET", "/api/v1/stack-templates".into(), "").await;
    assert_eq!(status, StatusCode::OK, "{templates}");
    assert!(
        templates["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["slug"] == "mongodb-9")
    );

    let (status, refused) = rest(
        "POST",
        "/api/v1/stacks".into(),
        r#"{"template":"mongodb-9","name":"Bad Name"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, made) = rest(
        "POST",
        "/api/v1/stacks".into(),
        r#"{"template":"mongodb-9","name":"rs0"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{made}");
    assert_eq!(made["members"].as_array().unwrap().len(), 9, "{made}");
    let id = made["stack"]["id"].as_str().unwrap().to_owned();
    // Deploying, it cannot be deleted yet.
    let (status, _) = rest("DELETE", format!("/api/v1/stacks/{id}"), "").await;
    assert_eq!(status, StatusCode::CONFLICT);

    let mut ready = serde_json::Value::Null;
    for _ in 0..800 {
        let (_, stack) = rest("GET", format!("/api/v1/stacks/{id}"), "").await;
        if stack["stack"]["state"] == "ready" {
            ready = stack;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(ready["stack"]["state"], "ready", "the stack came up");
    let url = ready["connection"].as_str().expect("a connection string");
    assert!(
        url.starts_with("mongodb://") && url.ends_with("/?replicaSet=rs0"),
        "{url}"
    );
    for member in ready["members"].as_array().unwrap() {
        let ip = member["vm"]["private_ip"].as_str().unwrap();
        assert!(url.contains(&format!("{ip}:27017")), "{url} lacks {ip}");
        assert_eq!(member["containers"][0]["state"], "running", "{member}");
    }
    let (_, list) = rest("GET", "/api/v1/stacks".into(), "").await;
    assert_eq!(list["total"], 1, "{list}");

    let (status, deleting) = rest("DELETE", format!("/api/v1/stacks/{id}"), "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{deleting}");
    assert_eq!(deleting["stack"]["state"], "deleting");
}
