//! The client's side of the REST API: profiles (where and with which key), requests, the API's
//! errors, following a job, and tables.

use crate::rest::{ApiErrorBody, Page};
use meridian_core::view::Job;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Why a client command failed; its exit status says which kind.
#[derive(Debug)]
pub enum ClientError {
    /// The API refused, with its stable code and, for `invalid_input`, each field's problem.
    Api {
        /// HTTP status.
        status: u16,
        /// The API's code, e.g. `invalid_input`.
        code: String,
        /// For people.
        message: String,
        /// Field name → problem.
        fields: BTreeMap<String, String>,
    },
    /// The server could not be reached or answered something that is not the API.
    Transport(String),
    /// The command itself is wrong (no profile, a name that matches nothing): nothing was sent.
    Usage(String),
}

impl ClientError {
    /// 1 for a refusal or a failed job, 2 for a wrong command, 3 when the server was not reached.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Api { .. } => 1,
            ClientError::Usage(_) => 2,
            ClientError::Transport(_) => 3,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Api {
                status,
                code,
                message,
                fields,
            } => {
                write!(f, "{message} ({code}, HTTP {status})")?;
                for (field, problem) in fields {
                    write!(f, "\n  {field}: {problem}")?;
                }
                Ok(())
            }
            ClientError::Transport(detail) | ClientError::Usage(detail) => f.write_str(detail),
        }
    }
}

/// Where a profile's API is and the key it uses.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Profile {
    /// The server's base URL, e.g. `https://cloud.example` (no `/api/v1`).
    pub url: String,
    /// An API key's secret (Settings → API keys).
    pub api_key: String,
}

/// The profile file: `$MERIDIAN_CONFIG`, else `meridian/profiles.json` under
/// `$XDG_CONFIG_HOME` or `~/.config`.
pub fn profiles_path() -> Result<PathBuf, ClientError> {
    if let Some(path) = std::env::var_os("MERIDIAN_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .ok_or_else(|| {
            ClientError::Usage("Neither MERIDIAN_CONFIG nor HOME is set: nowhere to keep profiles.".into())
        })?;
    Ok(base.join("meridian").join("profiles.json"))
}

/// Every saved profile, by name (none when the file does not exist yet).
pub fn profiles_read() -> Result<BTreeMap<String, Profile>, ClientError> {
    let path = profiles_path()?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Usage(format!("{} is not a profile file: {e}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(error) => Err(ClientError::Usage(format!(
            "{} cannot be read: {error}",
            path.display()
        ))),
    }
}

/// Saves profile `name`, readable by its owner only (it holds a secret).
pub fn profile_save(name: &str, profile: Profile) -> Result<PathBuf, ClientError> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = profiles_path()?;
    let mut profiles = profiles_read()?;
    profiles.insert(name.to_owned(), profile);
    let failed = |e: std::io::Error| ClientError::Usage(format!("{} cannot be written: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(failed)?;
    }
    let text = serde_json::to_vec_pretty(&profiles).map_err(|e| ClientError::Usage(e.to_string()))?;
    // Written beside and renamed over: a crash never leaves half a file.
    let staged = path.with_extension("json.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staged)
        .map_err(failed)?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    std::fs::rename(&staged, &path).map_err(failed)?;
    Ok(path)
}

/// A client of one Meridian API.
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    /// A client of `profile`'s server.
    pub fn new(profile: &Profile) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("meridian-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Transport(format!("HTTP client: {e}")))?;
        let base = profile.url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Usage(format!(
                "{base:?} is not an http:// or https:// URL."
            )));
        }
        Ok(Self {
            http,
            base,
            key: profile.api_key.clone(),
        })
    }

    /// Sends a request to `/api/v1{path}` and reads its JSON answer (`null` for 204).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, ClientError> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request
            .send()
            .await
            .map_err(|e| ClientError::Transport(format!("{} did not answer: {e}", self.base)))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(format!("The answer from {url} was cut off: {e}")))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ApiErrorBody>(&bytes) {
                Ok(body) => ClientError::Api {
                    status: status.as_u16(),
                    code: body.error.code,
                    message: body.error.message,
                    fields: body.error.fields,
                },
                Err(_) => ClientError::Transport(format!(
                    "{url} answered HTTP {status}, not a Meridian API error: is the URL right?"
                )),
            });
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes)
            .map_err(|e| ClientError::Transport(format!("{url} answered something unexpected: {e}")))
    }

    /// `GET /api/v1{path}`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Every item of a paged list, page after page.
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut offset = 0;
        loop {
            let page: Page<T> = self.get(&format!("{path}?limit=1000&offset={offset}")).await?;
            items.extend(page.items);
            match page.next_offset {
                Some(next) if next > offset => offset = next,
                _ => return Ok(items),
            }
        }
    }

    /// Follows `job` until it ends, telling standard error each step as it gets done; a job
    /// that fails (or is cancelled) is an error naming its step.
    pub async fn wait(&self, job: Job) -> Result<Job, ClientError> {
        let mut told: Vec<String> = Vec::new();
        let mut job = job;
        loop {
            for step in job.steps.iter().flatten() {
                let line = format!("{}: {}", step.label, step.status);
                if step.status != "waiting" && !told.contains(&line) {
                    eprintln!("  {line}");
                    told.push(line);
                }
            }
            if job.finished {
                return match job.state.as_str() {
                    "succeeded" => Ok(job),
                    state => Err(ClientError::Api {
                        status: 200,
                        code: format!("job_{state}"),
                        message: format!(
                            "Job {} {state}{}{}",
                            job.id,
                            job.failed_step
                                .as_ref()
                                .map(|s| format!(" at {s}"))
                                .unwrap_or_default(),
                            job.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
                        ),
                        fields: BTreeMap::new(),
                    }),
                };
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            job = self.get(&format!("/jobs/{}", job.id)).await?;
        }
    }
}

/// Rows as a table: each column as wide as its widest cell, two spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(
        rows.iter()
            .map(|row| line(row.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_lines_up_its_columns() {
        let rows = vec![
            vec!["web-1".to_owned(), "running".to_owned()],
            vec!["database-primary".to_owned(), "stopped".to_owned()],
        ];
        assert_eq!(
            table(&["NAME", "STATE"], &rows),
            "NAME              STATE\nweb-1             running\ndatabase-primary  stopped"
        );
    }

    #[test]
    fn an_api_refusal_reads_with_its_code_and_fields() {
        let error = ClientError::Api {
            status: 422,
            code: "invalid_input".into(),
            message: "Check the highlighted fields.".into(),
            fields: BTreeMap::from([("name".to_owned(), "Use lower-case letters.".to_owned())]),
        };
        assert_eq!(
            error.to_string(),
            "Check the highlighted fields. (invalid_input, HTTP 422)\n  name: Use lower-case letters."
        );
        assert_eq!(error.exit_code(), 1);
    }
}
