//! A minimal QMP client: newline-delimited JSON over QEMU's unix socket, every call under a timeout.
//!
//! Only what the agent needs (`system_powerdown`, `quit`, `query-status`); a few lines of JSON are
//! simpler here than a generated client for the whole QAPI schema.

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

/// What went wrong talking QMP.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// Connecting, reading or writing the socket failed.
    #[error("QMP socket I/O")]
    Io(#[from] std::io::Error),
    /// QEMU did not answer in time.
    #[error("no QMP answer within {0:?}")]
    Timeout(Duration),
    /// QEMU closed the socket before answering.
    #[error("QMP socket closed")]
    Closed,
    /// QEMU sent something that is not the JSON QMP speaks.
    #[error("QMP sent invalid JSON")]
    Json(#[from] serde_json::Error),
    /// QEMU refused the command.
    #[error("QMP error {class}: {desc}")]
    Refused {
        /// QMP's error class, e.g. `GenericError`.
        class: String,
        /// QEMU's description.
        desc: String,
    },
}

/// One QMP session past the capabilities handshake.
pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    timeout: Duration,
}

impl Qmp {
    /// Connects, reads the greeting and negotiates capabilities, all within `limit`.
    pub async fn connect(socket: &Path, limit: Duration) -> Result<Self, QmpError> {
        let stream = timeout(limit, UnixStream::connect(socket))
            .await
            .map_err(|_| QmpError::Timeout(limit))??;
        let (read, writer) = stream.into_split();
        let mut qmp = Self {
            reader: BufReader::new(read),
            writer,
            timeout: limit,
        };
        let greeting = qmp.read_message().await?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Closed);
        }
        qmp.execute("qmp_capabilities").await?;
        Ok(qmp)
    }

    /// Runs one command and returns its `return` value, skipping the events QEMU interleaves.
    pub async fn execute(&mut self, command: &str) -> Result<Value, QmpError> {
        let mut line = json!({ "execute": command }).to_string();
        line.push('\n');
        timeout(self.timeout, self.writer.write_all(line.as_bytes()))
            .await
            .map_err(|_| QmpError::Timeout(self.timeout))??;
        loop {
            let message = self.read_message().await?;
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = message.get("error") {
                let field = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
                return Err(QmpError::Refused {
                    class: field("class"),
                    desc: field("desc"),
                });
            }
            // An event ({"event": …}): not the answer, keep reading.
        }
    }

    async fn read_message(&mut self) -> Result<Value, QmpError> {
        let mut line = String::new();
        let read = timeout(self.timeout, self.reader.read_line(&mut line))
            .await
            .map_err(|_| QmpError::Timeout(self.timeout))??;
        if read == 0 {
            return Err(QmpError::Closed);
        }
        Ok(serde_json::from_str(&line)?)
    }
}
