//! Registration: the agent tells the control plane about its host at start and every
//! [`HEARTBEAT_MS`]. The control plane may start after the agent, so failures are retried forever
//! and logged sparingly.

use meridian_core::agent_api::{
    API_VERSION, ApiError, ERROR_API_VERSION, HEARTBEAT_MS, Peer, REGISTER_PATH, Registration,
    RegistrationAnswer, VERSION_HEADER,
};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// How often a failure that keeps happening is logged again.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);
/// How long one registration may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The control plane was not reached or did not answer.
    #[error("the control plane did not answer")]
    Unreachable(#[source] reqwest::Error),
    /// It speaks another API version.
    #[error("the control plane speaks API {theirs}; this agent speaks API {API_VERSION}")]
    Version {
        /// Its version header (or `none`).
        theirs: String,
    },
    /// It refused the registration.
    #[error("the control plane refused the registration: {status} {message}")]
    Refused {
        /// Its status.
        status: StatusCode,
        /// Its message.
        message: String,
    },
}

/// Registers with the control plane at `control` (its base URL). No `Debug`: it holds the token.
#[derive(Clone)]
pub struct Registrar {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Registrar {
    /// A registrar for the control plane at `control` (e.g. `http://10.254.0.1:3000`), presenting
    /// the host's `token`.
    pub fn new(control: &str, token: &str) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        Ok(Self {
            client,
            url: format!("{}{REGISTER_PATH}", control.trim_end_matches('/')),
            token: token.to_owned(),
        })
    }

    /// Posts `registration` once; the control plane answers with the peers to probe.
    pub async fn register(&self, registration: &Registration) -> Result<RegistrationAnswer, Error> {
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header(VERSION_HEADER, API_VERSION.to_string())
            .json(registration)
            .send()
            .await
            .map_err(Error::Unreachable)?;
        let status = response.status();
        if status.is_success() {
            // An answer without a body (204) names no peers.
            let body = response.bytes().await.map_err(Error::Unreachable)?;
            return Ok(serde_json::from_slice(&body).unwrap_or_default());
        }
        let theirs = response
            .headers()
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let error: Option<ApiError> = response.json().await.ok();
        if status == StatusCode::CONFLICT && error.as_ref().is_some_and(|e| e.code == ERROR_API_VERSION) {
            return Err(Error::Version { theirs });
        }
        Err(Error::Refused {
            status,
            message: error.map(|e| e.message).unwrap_or_default(),
        })
    }

    /// Registers now and every [`HEARTBEAT_MS`], forever, publishing the peers each answer names
    /// on `peers`. Logs the first success (and the first after failures), a failure once and then
    /// once a minute while it lasts.
    pub async fn run(self, registration: Registration, peers: tokio::sync::watch::Sender<Vec<Peer>>) {
        let mut tick = tokio::time::interval(Duration::from_millis(HEARTBEAT_MS.unsigned_abs()));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut registered = false;
        let mut failure_logged: Option<Instant> = None;
        loop {
            tick.tick().await;
            match self.register(&registration).await {
                Ok(answer) => {
                    peers.send_if_modified(|known| {
                        let changed = *known != answer.peers;
                        *known = answer.peers;
                        changed
                    });
                    if !registered {
                        tracing::info!(control = %self.url, host.id = %registration.host_id, "registered with the control plane");
                    }
                    registered = true;
                    failure_logged = None;
                }
                Err(e) => {
                    registered = false;
                    if failure_logged.is_none_or(|at| at.elapsed() >= FAILURE_LOG_EVERY) {
                        failure_logged = Some(Instant::now());
                        let error = error_chain(&e);
                        if matches!(e, Error::Version { .. }) {
                            tracing::error!(control = %self.url, error, "registration refused: API versions differ");
                        } else {
                            tracing::warn!(control = %self.url, error, "registration failed; retrying every heartbeat");
                        }
                    }
                }
            }
        }
    }
}

/// An error with its sources, for the log.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
