//! Interactive serial consoles: a WebSocket relayed to and from a VM's QEMU serial socket
//! (`serial.sock`, see [`crate::qemu`]), one session per VM at a time.
//!
//! QEMU's socket chardev serves one client: a second connection would wait in the listen queue,
//! silent, until the first went away. So the agent keeps the VMs whose console is in use and
//! refuses a second session at once ([`Sessions::take`]) instead of leaving it hanging. Nothing
//! typed is logged: only opens and closes.

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use meridian_core::id::VmId;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;

/// The largest read from the serial socket sent as one message.
const READ_CHUNK: usize = 16 * 1024;

/// The VMs whose serial console has a session open.
#[derive(Clone, Debug, Default)]
pub struct Sessions(Arc<Mutex<HashSet<VmId>>>);

/// One open session's hold on its VM's console; released on drop.
#[derive(Debug)]
pub struct Session {
    sessions: Sessions,
    id: VmId,
}

impl Sessions {
    /// VM `id`'s console for one session, unless another holds it.
    pub fn take(&self, id: VmId) -> Option<Session> {
        let fresh = self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(id);
        fresh.then(|| Session {
            sessions: self.clone(),
            id,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.sessions
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Why a relay ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The WebSocket's client closed it or went away.
    Client,
    /// QEMU closed the socket (the VM stopped) or it failed.
    Serial,
}

/// Relays bytes both ways between `socket` and the serial console `serial` until either side
/// ends; then closes the WebSocket, saying why when it was the VM's side.
pub async fn relay(mut socket: WebSocket, serial: UnixStream, session: Session) {
    let id = session.id;
    let opened = Instant::now();
    tracing::info!(vm.id = %id, "serial console opened");
    let (mut from_guest, mut to_guest) = serial.into_split();
    let mut buffer = vec![0; READ_CHUNK];
    let end = loop {
        tokio::select! {
            read = from_guest.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break End::Serial,
                Ok(n) => {
                    let message = Message::Binary(Bytes::copy_from_slice(&buffer[..n]));
                    if socket.send(message).await.is_err() {
                        break End::Client;
                    }
                }
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    if to_guest.write_all(&bytes).await.is_err() {
                        break End::Serial;
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    if to_guest.write_all(text.as_bytes()).await.is_err() {
                        break End::Serial;
                    }
                }
                // Pings are answered by the WebSocket itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break End::Client,
            },
        }
    };
    if end == End::Serial {
        let close = CloseFrame {
            // 1011: the server met a condition that ends the session.
            code: 1011,
            reason: "the VM's serial console closed (the VM stopped)".into(),
        };
        let _ = socket.send(Message::Close(Some(close))).await;
    }
    tracing::info!(vm.id = %id, ended_by = ?end, duration_ms = opened.elapsed().as_millis() as u64, "serial console closed");
    drop(session);
}
