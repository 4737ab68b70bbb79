//! Helpers the agent's integration tests share.
#![expect(dead_code, reason = "each test file uses its own part of these")]

use std::path::Path;
use std::process::Command;

/// Runs `command`; its output, or the test fails showing what it said.
pub fn run(command: &mut Command) -> std::process::Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} runs: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// SIGKILLs every QEMU a state directory's VMs (`<state>/vms/<id>/qemu.pid`) still run: a test's
/// clean-up, even after a failed assertion.
pub fn kill_qemus_under(state: &Path) {
    let Ok(vms) = std::fs::read_dir(state.join("vms")) else {
        return;
    };
    for vm in vms.flatten() {
        let pidfile = vm.path().join("qemu.pid");
        if let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            && runs_with(pid, &pidfile)
            && let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Whether process `pid` runs with `pidfile` on its command line (our QEMU, not a reused pid).
pub fn runs_with(pid: u32, pidfile: &Path) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == pidfile.as_os_str().as_encoded_bytes())
    })
}
