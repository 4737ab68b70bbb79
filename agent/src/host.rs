//! Facts about the host the agent runs on: its stable id, its name and what it can offer.

use std::io;
use std::path::Path;
use uuid::Uuid;

/// Headroom of memory kept for the host itself, not offered to VMs.
pub const MEMORY_HEADROOM_MIB: u64 = 1024;

/// The host's id from `<state>/host-id`, made (a new v4 UUID) and logged when absent.
pub fn host_id(state_dir: &Path) -> io::Result<Uuid> {
    let path = state_dir.join("host-id");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let id = Uuid::new_v4();
            std::fs::write(&path, format!("{id}\n"))?;
            tracing::info!(host.id = %id, path = %path.display(), "new host id");
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

/// The kernel's hostname.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned())
}

/// vCPUs to offer: the CPUs this process may run on.
pub fn default_vcpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// Memory to offer: `MemTotal` of `/proc/meminfo` less [`MEMORY_HEADROOM_MIB`].
pub fn default_memory_mib() -> io::Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let kib = mem_total_kib(&meminfo)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no MemTotal in /proc/meminfo"))?;
    Ok((kib / 1024).saturating_sub(MEMORY_HEADROOM_MIB))
}

fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Disk to offer: the space free (to unprivileged users too) on the state directory's filesystem.
pub fn default_disk_gib(state_dir: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(state_dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize) >> 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_read_from_meminfo() {
        let meminfo = "MemTotal:       16303428 kB\nMemFree:         1234 kB\n";
        assert_eq!(mem_total_kib(meminfo), Some(16_303_428));
        assert_eq!(mem_total_kib("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn a_host_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = host_id(dir.path()).expect("made");
        assert_eq!(host_id(dir.path()).expect("read"), id);
    }
}
