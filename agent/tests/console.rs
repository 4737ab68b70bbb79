//! The VM console in the lab (issue #15): `scripts/lab.sh up` with one zone, a real VM, and its
//! serial console through the server's WebSocket (`/vms/{id}/console/ws`) as browsers would open
//! it: refused across sites and without a session, interactive for the owner (a command typed runs
//! in the guest), read-only for a viewer (what they type never reaches the guest), one session at
//! a time, closed when the session ends; the VM page names the guest image it booted.
//!
//! Needs root, QEMU and iproute2 (`scripts/setup.sh test`) and the server binary (`cargo build -p
//! meridian`), like `tests/lab.rs`, whose lab this one is named apart from.

mod common;
use common::run;

use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

const PASSWORD: &str = "correct horse battery staple";
const NAME: &str = "mlc";
const NET: &str = "10.251.0";
const PORT: u16 = 3950;
const JOB_LIMIT: Duration = Duration::from_secs(240);
/// How long a typed command may take to show its output (the shell starts after the ready line).
const TYPE_LIMIT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn base() -> String {
    format!("http://127.0.0.1:{PORT}")
}

/// A one-zone lab brought up by `scripts/lab.sh`; taken down on drop, even after a failed assertion.
struct Lab {
    dir: PathBuf,
}

impl Lab {
    fn up() -> Self {
        let agent = PathBuf::from(env!("CARGO_BIN_EXE_meridian-agent"));
        assert!(
            agent.with_file_name("meridian").exists(),
            "the server binary is missing: build it first (cargo build -p meridian)"
        );
        let lab = Lab {
            dir: PathBuf::from(format!("/tmp/{NAME}{}", std::process::id())),
        };
        // A lab left by an earlier run that was killed would refuse `up`.
        lab.script("down", &[]);
        lab.script(
            "up",
            &["--zones", "lon1", "--port", &PORT.to_string(), "--no-build"],
        );
        lab
    }

    fn script(&self, command: &str, args: &[&str]) -> std::process::Output {
        let agent = PathBuf::from(env!("CARGO_BIN_EXE_meridian-agent"));
        run(Command::new(repo().join("scripts/lab.sh"))
            .arg(command)
            .args(args)
            .args([
                "--dir",
                self.dir.to_str().expect("a UTF-8 path"),
                "--name",
                NAME,
                "--net",
                NET,
            ])
            .env("MERIDIAN_AGENT_BIN", &agent)
            .env("MERIDIAN_BIN", agent.with_file_name("meridian")))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("server log (last lines, newest first):\n{}", tail.join("\n"));
        }
        self.script("down", &[]);
    }
}

/// A signed-in browser: its cookies, for the dashboard's functions and the console's WebSocket.
struct Browser {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .expect("client");
        Browser { client, jar }
    }

    /// Calls a server function as a page of the dashboard would; its JSON answer.
    async fn call(&self, function: &str, form: &[(&str, &str)]) -> Value {
        let answer = self
            .client
            .post(format!("{}/fn/{function}", base()))
            .header("Origin", base())
            .form(form)
            .send()
            .await
            .expect("the server answers");
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        assert!(status.is_success(), "{function}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The session cookie, as a `Cookie` header value.
    fn cookie(&self) -> String {
        use reqwest::cookie::CookieStore as _;
        let url: reqwest::Url = base().parse().expect("URL");
        let cookie = self.jar.cookies(&url).expect("a session cookie");
        cookie.to_str().expect("ASCII").to_owned()
    }
}

/// The console's WebSocket request for VM `vm`, with a cookie and an `Origin` when given.
fn console_request(
    vm: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> tungstenite::handshake::client::Request {
    let mut request = format!("ws://127.0.0.1:{PORT}/vms/{vm}/console/ws")
        .into_client_request()
        .expect("request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("header"));
    }
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
    }
    request
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The HTTP status a console request is refused with.
async fn refused_with(request: tungstenite::handshake::client::Request) -> StatusCode {
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => panic!("the console opened"),
        Err(tungstenite::Error::Http(answer)) => answer.status(),
        Err(other) => panic!("the console request failed otherwise: {other}"),
    }
}

async fn open(request: tungstenite::handshake::client::Request) -> Socket {
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the console opens")
        .0
}

/// Reads the console until `expected` appears in its output, typing `typed` every few seconds (the
/// guest's shell starts just after its ready line); the output read. A close fails the test.
async fn type_until(socket: &mut Socket, typed: &str, expected: &str) -> String {
    let started = Instant::now();
    let mut output = Vec::new();
    let mut next_type = Instant::now();
    loop {
        if !typed.is_empty() && Instant::now() >= next_type {
            socket
                .send(Message::binary(typed.as_bytes().to_vec()))
                .await
                .expect("typed");
            next_type = Instant::now() + Duration::from_secs(3);
        }
        match tokio::time::timeout(Duration::from_millis(500), socket.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) => output.extend_from_slice(&bytes),
            Ok(Some(Ok(Message::Close(frame)))) => panic!("the console closed: {frame:?}"),
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(Some(Err(error))) => panic!("the console failed: {error}"),
            Ok(None) => panic!("the console ended"),
        }
        let text = String::from_utf8_lossy(&output).into_owned();
        if text.contains(expected) {
            return text;
        }
        assert!(
            started.elapsed() < TYPE_LIMIT,
            "{expected:?} did not appear within {TYPE_LIMIT:?}; the console said:\n{text}"
        );
    }
}

/// Waits for the console to close; its close frame.
async fn closed(socket: &mut Socket, within: Duration) -> Option<tungstenite::protocol::CloseFrame> {
    let started = Instant::now();
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame,
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return None,
            Err(_) => panic!("the console stayed open for {within:?}"),
        }
    }
}

/// Opens the console, waiting while another session (one just closed) still holds it.
async fn open_when_free(vm: &str, browser: &Browser) -> Socket {
    let started = Instant::now();
    loop {
        let mut socket = open(console_request(vm, Some(&browser.cookie()), Some(&base()))).await;
        // A console the agent refused closes with the reason (after the server asked again for
        // a few seconds).
        match tokio::time::timeout(Duration::from_secs(4), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "the console stayed busy: {frame:?}"
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            _ => return socket,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_live_for_owners_read_only_for_viewers_and_never_cross_site() {
    let lab = Lab::up();
    let owner = Browser::new();
    owner
        .call(
            "account_signup",
            &[
                ("tenant_name", "Acme"),
                ("email", "ops@acme.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let key = owner.call("api_key_create", &[("name", "console-test")]).await;
    let secret = key["secret"].as_str().expect("an API key secret").to_owned();
    let rest = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        rest.post(format!("{}/api/v1{path}", base()))
            .bearer_auth(&secret)
            .json(&body)
            .send()
    };
    let vdc: Value = post("/vdcs", json!({ "name": "console", "zone": "lon1" }))
        .await
        .expect("VDC")
        .json()
        .await
        .expect("VDC JSON");
    let accepted: Value = post(
        "/vms",
        json!({ "vdc_id": vdc["id"], "name": "shell", "template": "debian-12", "size": "xs" }),
    )
    .await
    .expect("VM")
    .json()
    .await
    .expect("VM JSON");
    let vm = accepted["vm"]["id"].as_str().expect("a VM id").to_owned();
    let job = accepted["job"]["id"].as_str().expect("a job id").to_owned();
    let started = Instant::now();
    loop {
        let state: Value = rest
            .get(format!("{}/api/v1/jobs/{job}", base()))
            .bearer_auth(&secret)
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("job JSON");
        match state["state"].as_str() {
            Some("succeeded") => break,
            Some("failed" | "cancelled") => panic!("the create failed: {state}"),
            _ => {}
        }
        assert!(
            started.elapsed() < JOB_LIMIT,
            "the create did not finish: {state}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The VM page names the image the guest booted and does not call the VM simulated.
    let page = owner
        .client
        .get(format!("{}/vms/{vm}", base()))
        .send()
        .await
        .expect("the VM page")
        .text()
        .await
        .expect("HTML");
    assert!(page.contains("Guest image"), "the page lists the guest image");
    assert!(
        page.contains("meridian-initramfs"),
        "the image the agent booted is named"
    );
    assert!(
        page.contains("Serial console terminal"),
        "a real VM gets the live terminal, not the simulated console"
    );
    assert!(
        page.contains("/pkg/xterm/xterm.js"),
        "the page loads the terminal"
    );

    // Refused: without a session; with the owner's cookie from another site, or saying nothing
    // of where it came from.
    let cookie = owner.cookie();
    assert_eq!(
        refused_with(console_request(&vm, None, Some(&base()))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refused_with(console_request(&vm, Some(&cookie), Some("http://evil.example"))).await,
        StatusCode::FORBIDDEN,
        "a cross-site page must not open a shell"
    );
    assert_eq!(
        refused_with(console_request(&vm, Some(&cookie), None)).await,
        StatusCode::FORBIDDEN
    );
    let mut cross_site = console_request(&vm, Some(&cookie), Some(&base()));
    cross_site
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().expect("header"));
    assert_eq!(refused_with(cross_site).await, StatusCode::FORBIDDEN);
    let nobody = "00000000-0000-4000-8000-000000000001";
    assert_eq!(
        refused_with(console_request(nobody, Some(&cookie), Some(&base()))).await,
        StatusCode::NOT_FOUND
    );

    // The owner types a command into the guest's shell; it runs.
    let mut console = open(console_request(&vm, Some(&cookie), Some(&base()))).await;
    type_until(&mut console, "echo hi-$((6*7))\n", "hi-42").await;
    // A second session while this one is open: closed at once, saying why.
    let mut second = open(console_request(&vm, Some(&cookie), Some(&base()))).await;
    let frame = closed(&mut second, Duration::from_secs(15))
        .await
        .expect("a close frame");
    assert!(
        frame.reason.contains("Someone else has this VM's console open"),
        "{frame:?}"
    );
    console.close(None).await.expect("closed");
    drop(console);

    // A viewer watches: what they type is dropped, and the terminal says so.
    let invite = owner
        .call(
            "user_invite",
            &[("email", "viewer@acme.example"), ("role", "viewer")],
        )
        .await;
    let token = invite
        .as_str()
        .and_then(|path| path.strip_prefix("/invite/"))
        .expect("an invitation path")
        .to_owned();
    let viewer = Browser::new();
    viewer
        .call("invite_accept", &[("token", &token), ("password", PASSWORD)])
        .await;
    let mut watching = open_when_free(&vm, &viewer).await;
    type_until(&mut watching, "echo viewer-$((6*7))\n", "read-only for you").await;
    watching.close(None).await.expect("closed");
    drop(watching);
    // The owner's next command runs; the viewer's never did.
    let mut console = open_when_free(&vm, &owner).await;
    let output = type_until(&mut console, "echo owner-$((7*7))\n", "owner-49").await;
    assert!(
        !output.contains("viewer-42"),
        "the viewer's command ran:\n{output}"
    );
    let log: Value = rest
        .get(format!("{}/api/v1/vms/{vm}/console", base()))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("console log")
        .json()
        .await
        .expect("console JSON");
    let lines = log["lines"].to_string();
    assert!(
        lines.contains("owner-49"),
        "the console log goes on while a session is open: {lines}"
    );
    assert!(!lines.contains("viewer-42"), "the viewer's command ran: {lines}");

    // Logging out closes the console within the server's recheck.
    owner.call("account_logout", &[]).await;
    let frame = closed(&mut console, Duration::from_secs(25))
        .await
        .expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
    assert!(frame.reason.contains("session ended"), "{frame:?}");
    drop(lab);
}
