//! QEMU processes and their files: is a pid ours (by its pidfile), waiting for it to end, one-shot
//! QMP commands, and the small file helpers (writes, removals, console log rotation).

use super::{CONSOLE_LOG_MAX_BYTES, Error, POLL, QMP_TIMEOUT, Qmp, VmPaths, io_at};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// Whether `pid` is a QEMU started with this pidfile (`/proc/<pid>/cmdline`; a zombie has none).
pub(super) async fn is_our_qemu(pid: u32, pidfile: &Path) -> bool {
    let Ok(cmdline) = tokio::fs::read(format!("/proc/{pid}/cmdline")).await else {
        return false;
    };
    let is_qemu = cmdline
        .split(|b| *b == 0)
        .next()
        .and_then(|argv0| std::str::from_utf8(argv0).ok())
        .is_some_and(|argv0| {
            argv0
                .rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with("qemu-system"))
        });
    let pidfile = pidfile.as_os_str().as_encoded_bytes();
    is_qemu && cmdline.split(|b| *b == 0).any(|arg| arg == pidfile)
}

/// Polls until `pid` is no longer our QEMU, for at most `wait`.
pub(super) async fn wait_gone(pid: u32, pidfile: &Path, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if !is_our_qemu(pid, pidfile).await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One QMP command on a fresh connection.
pub(super) async fn qmp_once(socket: &Path, command: &'static str) -> Result<(), Error> {
    let mut qmp = Qmp::connect(socket, QMP_TIMEOUT)
        .await
        .map_err(|e| Error::Qmp(command, e))?;
    qmp.execute(command).await.map_err(|e| Error::Qmp(command, e))?;
    Ok(())
}

pub(super) async fn write(path: &Path, contents: &[u8]) -> Result<(), Error> {
    tokio::fs::write(path, contents).await.map_err(io_at(path))
}

pub(super) async fn remove_if_present(path: &Path) -> Result<(), Error> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_at(path)(e)),
        _ => Ok(()),
    }
}

/// Keeps the console log bounded: past [`CONSOLE_LOG_MAX_BYTES`] it is copied to `console.log.1`
/// (replacing the previous one) and emptied. QEMU appends to it (`logappend=on`, so `O_APPEND`), so
/// emptying it under a running QEMU is safe: its next write lands at the new end. Bytes written
/// between the copy and the truncation are lost.
pub(super) async fn rotate_console(paths: &VmPaths) -> Result<bool, Error> {
    match tokio::fs::metadata(&paths.console).await {
        Ok(meta) if meta.len() > CONSOLE_LOG_MAX_BYTES => {
            tokio::fs::copy(&paths.console, &paths.console_old)
                .await
                .map_err(io_at(&paths.console_old))?;
            let log = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&paths.console)
                .await
                .map_err(io_at(&paths.console))?;
            log.set_len(0).await.map_err(io_at(&paths.console))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}
