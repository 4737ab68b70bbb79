//! The simulated driver: sixteen zones of hosts that exist only in memory, with realistic step
//! durations, failure injection, and boot console output.
//!
//! It keeps the state a real backend would (which disks exist, what is powered on, what is plugged
//! in) so that idempotency is real, and so tests can check that the control plane's records and the
//! "hardware" agree.

mod hardware;

pub use hardware::{SimFlags, SimHardware};

use super::{Driver, DriverError, HostSpec, Traffic, TrafficCaps, VmSpec};
use crate::store::Store;
use async_trait::async_trait;
use meridian_core::job::Step;
use meridian_core::resource::VmState;
use meridian_core::zone::ZONES;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

/// vCPUs of one simulated host (a two-socket, 32-core server).
pub const HOST_VCPUS: u32 = 64;
/// Memory of one simulated host.
pub const HOST_MEMORY_MIB: u64 = 512 * 1024;
/// Local NVMe of one simulated host.
pub const HOST_DISK_GIB: u64 = 8 * 1024;

/// How long each simulated operation takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimTiming {
    /// Clone the template image into a new disk (copy-on-write from a cached image).
    pub disk_create: Duration,
    /// Power on until cloud-init reports the guest is up.
    pub boot: Duration,
    /// Program the VM's port into the tenant's VRF on the backbone.
    pub network: Duration,
    /// Route a public address through the zone's breakout.
    pub breakout: Duration,
    /// ACPI shutdown of the guest.
    pub power_off: Duration,
    /// Guest restart.
    pub reboot: Duration,
    /// Delete the disk.
    pub disk_delete: Duration,
}

impl SimTiming {
    /// Realistic durations for KVM hosts with local NVMe and a warm template cache: about half a
    /// minute from nothing to a booted VM on its private network.
    pub fn realistic() -> Self {
        Self {
            disk_create: Duration::from_secs(6),
            boot: Duration::from_secs(18),
            network: Duration::from_millis(1500),
            breakout: Duration::from_secs(2),
            power_off: Duration::from_secs(4),
            reboot: Duration::from_secs(15),
            disk_delete: Duration::from_secs(1),
        }
    }

    /// Near-instant, for tests and benchmarks: the same code paths, no waiting.
    pub fn fast() -> Self {
        Self::uniform(Duration::from_millis(1))
    }

    /// The same duration for every operation (crash tests pace the steps with it).
    pub fn uniform(each: Duration) -> Self {
        Self {
            disk_create: each,
            boot: each,
            network: each,
            breakout: each,
            power_off: each,
            reboot: each,
            disk_delete: each,
        }
    }

    /// No waiting at all (unit tests, throughput benchmarks).
    pub fn instant() -> Self {
        let zero = Duration::ZERO;
        Self {
            disk_create: zero,
            boot: zero,
            network: zero,
            breakout: zero,
            power_off: zero,
            reboot: zero,
            disk_delete: zero,
        }
    }
}

/// Failures to inject: a given step (a number of times), or any step with a probability.
#[derive(Clone, Debug, Default)]
pub struct SimFaults {
    /// Fail this step…
    pub fail_step: Option<Step>,
    /// …this many times (then succeed); `None` means every time.
    pub fail_times: Option<u32>,
    /// Fail any step with this probability (0.0–1.0).
    pub probability: f64,
    /// Fail every undo of this step, for good (the other fields concern steps run forward).
    pub fail_undo_of: Option<Step>,
}

/// What the simulated hardware holds for one VM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimVmState {
    /// A disk exists.
    pub disk: bool,
    /// The guest is powered on.
    pub powered: bool,
    /// Plugged into the private network.
    pub network: bool,
    /// A public address routes to it.
    pub breakout: bool,
}

/// The simulated zones.
pub struct SimulatedDriver {
    timing: SimTiming,
    faults: Mutex<SimFaults>,
    rng: Mutex<StdRng>,
    vms: Mutex<HashMap<Uuid, SimVmState>>,
    /// Where the hardware state is kept across restarts, if anywhere.
    hardware: Option<SimHardware>,
    /// How many hardware operations were carried out (tests check nothing ran twice).
    operations: std::sync::atomic::AtomicU64,
    /// Opening breakout fails inside the operation, after the step has taken its address.
    breakout_attach_fails: std::sync::atomic::AtomicBool,
}

impl SimulatedDriver {
    /// A simulation held in memory only, with the given timing and a seed for its random faults.
    pub fn new(timing: SimTiming, seed: u64) -> Self {
        Self {
            timing,
            faults: Mutex::new(SimFaults::default()),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            vms: Mutex::new(HashMap::new()),
            hardware: None,
            operations: std::sync::atomic::AtomicU64::new(0),
            breakout_attach_fails: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A simulation whose hardware lives in the database, so it survives a crash of the control
    /// plane the way real hosts would, and every server process sharing the database sees the same
    /// hosts. The server uses this one.
    pub fn persistent(store: Store, timing: SimTiming, seed: u64) -> Self {
        let mut driver = Self::new(timing, seed);
        driver.hardware = Some(SimHardware::new(store));
        driver
    }

    /// The hardware state of a VM, from the database when the simulation is persistent.
    async fn current(&self, vm: Uuid) -> Result<SimVmState, DriverError> {
        match &self.hardware {
            None => Ok(self.vm_state(vm)),
            Some(hardware) => {
                let (disk, powered, network, breakout) =
                    hardware.get(&vm.to_string()).await.map_err(unreachable_host)?;
                Ok(SimVmState {
                    disk,
                    powered,
                    network,
                    breakout,
                })
            }
        }
    }

    /// Replaces the fault plan.
    pub fn set_faults(&self, faults: SimFaults) {
        *lock(&self.faults) = faults;
    }

    /// Makes every breakout attach fail inside the operation (a failure half-way through a step,
    /// which `SimFaults` cannot reach: it strikes before a step begins).
    pub fn set_breakout_attach_fails(&self, fails: bool) {
        self.breakout_attach_fails
            .store(fails, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many hardware operations (disk, power, network, breakout) this simulation carried out.
    pub fn operations(&self) -> u64 {
        self.operations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What the simulated hardware holds for a VM (all false if it never existed), as this
    /// process last saw it.
    pub fn vm_state(&self, vm: Uuid) -> SimVmState {
        lock(&self.vms).get(&vm).copied().unwrap_or_default()
    }

    /// Whether `vm` is powered. A settled state recorded by the control plane (running, stopped,
    /// failed, destroyed) is the truth, shared by every server over the database and kept across
    /// restarts; while a VM is on its way (being made or destroyed), this simulator's own record
    /// says how far it got.
    fn powered(&self, vm: &VmSpec) -> bool {
        match vm.state {
            VmState::Running => true,
            VmState::Stopped | VmState::Failed | VmState::Destroyed => false,
            VmState::Pending | VmState::Provisioning | VmState::Destroying => self.vm_state(vm.id).powered,
        }
    }

    /// Every VM the hardware holds anything for.
    pub fn vm_states(&self) -> HashMap<Uuid, SimVmState> {
        lock(&self.vms)
            .iter()
            .filter(|(_, s)| **s != SimVmState::default())
            .map(|(k, v)| (*k, *v))
            .collect()
    }

    async fn act(
        &self,
        vm: &VmSpec,
        took: Duration,
        change: impl FnOnce(&mut SimVmState),
    ) -> Result<(), DriverError> {
        if !took.is_zero() {
            tokio::time::sleep(took).await;
        }
        self.operations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut state = self.current(vm.id).await?;
        change(&mut state);
        lock(&self.vms).insert(vm.id, state);
        if let Some(hardware) = &self.hardware {
            let flags = (state.disk, state.powered, state.network, state.breakout);
            hardware
                .set(&vm.id.to_string(), flags)
                .await
                .map_err(unreachable_host)?;
        }
        Ok(())
    }
}

fn unreachable_host(error: sqlx::Error) -> DriverError {
    tracing::error!(error.detail = %error, "simulated hardware state unavailable");
    DriverError::unreachable("The simulated host did not answer; try again.")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; carrying on is safe.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The share of its vCPUs simulated VM `vm` uses at `utc_ms` (0.01–0.97): a busy-ness of its own
/// (10–40 %), a daily swing of ±15 % peaking at a time of its own, and ±8 % from minute to minute.
/// A function of the VM and the time only, so every server and every restart draws the same.
pub fn cpu_share(vm: Uuid, utc_ms: i64) -> f64 {
    let bits = vm.as_u128();
    #[expect(clippy::cast_precision_loss, reason = "a fraction from 16 bits")]
    let fraction = |shift: u32| ((bits >> shift) & 0xffff) as f64 / 65_535.0;
    let minute = utc_ms.div_euclid(60_000);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "seed bits"
    )]
    let noise: f64 =
        StdRng::seed_from_u64((bits as u64) ^ (minute as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).random();
    #[expect(clippy::cast_precision_loss, reason = "a fraction of a day")]
    let day = utc_ms.rem_euclid(86_400_000) as f64 / 86_400_000.0;
    let swing = 0.15 * (std::f64::consts::TAU * (day + fraction(16))).sin();
    let base = 0.10 + 0.30 * fraction(0);
    (base + swing + 0.08 * (2.0 * noise - 1.0)).clamp(0.01, 0.97)
}

/// The simulated hosts: per zone, enough 512 GiB hosts to make up the zone's installed RAM.
pub fn simulated_hosts() -> Vec<HostSpec> {
    let mut hosts = Vec::new();
    for (zone_index, zone) in ZONES.iter().enumerate() {
        let count = u64::from(zone.ram_tib) * 1024 * 1024 / HOST_MEMORY_MIB;
        for n in 1..=count {
            hosts.push(HostSpec {
                id: Uuid::from_u128(((zone_index as u128 + 1) << 32) | u128::from(n)),
                name: format!("{}-h{n:02}", zone.id),
                zone: zone.id,
                vcpus: HOST_VCPUS,
                memory_mib: HOST_MEMORY_MIB,
                disk_gib: HOST_DISK_GIB,
            });
        }
    }
    hosts
}

#[async_trait]
impl Driver for SimulatedDriver {
    fn name(&self) -> &'static str {
        "Simulated zones"
    }

    fn is_simulated(&self) -> bool {
        true
    }

    async fn hosts(&self) -> Vec<HostSpec> {
        simulated_hosts()
    }

    /// The simulated hardware lives in the database beside the VMs, written in the same
    /// transactions' aftermath by the same steps: there is no host to drift from it.
    async fn present(&self, _host: Uuid) -> Result<Vec<super::Presence>, DriverError> {
        Ok(Vec::new())
    }

    /// Nothing is ever present (see [`SimulatedDriver::present`]), so nothing is discarded.
    async fn discard(&self, _host: Uuid, _id: Uuid) -> Result<(), DriverError> {
        Ok(())
    }

    /// 198.18.0.0/15 is reserved for benchmarking (RFC 2544), so simulated public addresses can
    /// never be mistaken for, or collide with, real ones: zone n gets 198.18.n.1–254.
    fn public_addresses(&self, zone: meridian_core::zone::ZoneId) -> Vec<std::net::Ipv4Addr> {
        let n = u8::try_from(zone.index()).unwrap_or(u8::MAX);
        (1..=254)
            .map(|host| std::net::Ipv4Addr::new(198, 18, n, host))
            .collect()
    }

    async fn before_step(&self, step: Step, undo: bool, _vm: &VmSpec) -> Result<(), DriverError> {
        let mut faults = lock(&self.faults);
        if undo {
            return match faults.fail_undo_of {
                Some(failing) if failing == step => Err(DriverError::refused(format!(
                    "Simulated failure injected undoing step {step}."
                ))),
                _ => Ok(()),
            };
        }
        if faults.fail_step == Some(step) {
            match faults.fail_times {
                Some(0) => {}
                Some(n) => {
                    faults.fail_times = Some(n - 1);
                    return Err(DriverError::refused(format!(
                        "Simulated failure injected at step {step}."
                    )));
                }
                None => {
                    return Err(DriverError::refused(format!(
                        "Simulated failure injected at step {step}."
                    )));
                }
            }
        }
        if faults.probability > 0.0 && lock(&self.rng).random_bool(faults.probability.clamp(0.0, 1.0)) {
            return Err(DriverError::refused(format!(
                "Simulated random failure at step {step}."
            )));
        }
        Ok(())
    }

    async fn disk_create(&self, vm: &VmSpec) -> Result<(), DriverError> {
        if vm.host.is_none() {
            return Err(DriverError::refused(
                "Cannot create a disk for a VM that has no host.",
            ));
        }
        self.act(vm, self.timing.disk_create, |s| s.disk = true).await
    }

    async fn disk_resize(&self, vm: &VmSpec, _disk_gib: u64) -> Result<(), DriverError> {
        if !self.current(vm.id).await?.disk {
            return Err(DriverError::refused("Cannot grow a disk that does not exist."));
        }
        self.act(vm, self.timing.disk_create, |_| {}).await
    }

    async fn disk_delete(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.act(vm, self.timing.disk_delete, |s| s.disk = false).await
    }

    async fn vm_boot(&self, vm: &VmSpec) -> Result<(), DriverError> {
        if !self.current(vm.id).await?.disk {
            return Err(DriverError::refused("Cannot boot: the VM has no disk."));
        }
        self.act(vm, self.timing.boot, |s| s.powered = true).await
    }

    async fn vm_power_off(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.act(vm, self.timing.power_off, |s| s.powered = false).await
    }

    async fn vm_reboot(&self, vm: &VmSpec) -> Result<(), DriverError> {
        if !self.current(vm.id).await?.powered {
            return Err(DriverError::refused("Cannot reboot a VM that is powered off."));
        }
        self.act(vm, self.timing.reboot, |_| {}).await
    }

    async fn network_attach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        if vm.private_ip.is_none() {
            return Err(DriverError::refused(
                "Cannot attach to the network without a private address.",
            ));
        }
        self.act(vm, self.timing.network, |s| s.network = true).await
    }

    async fn network_detach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.act(vm, self.timing.network, |s| s.network = false).await
    }

    async fn breakout_attach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        if self
            .breakout_attach_fails
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(DriverError::refused("Simulated failure inside breakout attach."));
        }
        if vm.public_ip.is_none() {
            return Err(DriverError::refused(
                "Cannot open breakout without a public address.",
            ));
        }
        self.act(vm, self.timing.breakout, |s| s.breakout = true).await
    }

    async fn breakout_detach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.act(vm, self.timing.breakout, |s| s.breakout = false).await
    }

    /// The modelled RTT plus jitter, rarely lost (the core's probe model): never below physics.
    fn probe(&self, edge: &meridian_core::backbone::Edge) -> meridian_core::backbone::ProbeSample {
        meridian_core::backbone::probe_sample(edge, &mut *lock(&self.rng))
    }

    fn edge_load(&self, edge: &meridian_core::backbone::Edge, utc_ms: i64) -> f64 {
        meridian_core::backbone::simulated_edge_load(edge, utc_ms, &mut *lock(&self.rng))
    }

    /// About 100 KB/s per vCPU on average, ±50 % at random; 70 % of it spread over the peer zones
    /// (all of it when there is no breakout), 30 % to the internet when the VM has a public address.
    fn traffic(
        &self,
        vm: &VmSpec,
        peers: &[meridian_core::zone::ZoneId],
        seconds: u64,
        caps: &TrafficCaps,
    ) -> Traffic {
        let mut rng = lock(&self.rng);
        let factor: f64 = rng.random_range(0.5..1.5);
        drop(rng);
        let per_second = 100_000.0 * f64::from(vm.vcpus) * factor;
        // Truncating to whole bytes is intended: a simulated counter.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "non-negative byte count"
        )]
        let total = (per_second * seconds as f64) as u64;
        let internet = if vm.public_ip.is_some() { total * 3 / 10 } else { 0 };
        let backbone_total = if peers.is_empty() { 0 } else { total - internet };
        let share = backbone_total / peers.len().max(1) as u64;
        let mut traffic = Traffic {
            backbone: peers
                .iter()
                .map(|zone| {
                    let cap = caps
                        .per_peer
                        .iter()
                        .find(|(peer, _)| peer == zone)
                        .map(|(_, bytes)| *bytes);
                    (*zone, cap.map_or(share, |cap| share.min(cap)))
                })
                .collect(),
            internet,
        };
        // A cap on the whole VM scales every flow down by the same factor, as a policer would.
        if let Some(cap) = caps.total {
            let sent = traffic.internet + traffic.backbone.iter().map(|(_, bytes)| bytes).sum::<u64>();
            if sent > cap {
                let scale = |bytes: u64| {
                    u64::try_from(u128::from(bytes) * u128::from(cap) / u128::from(sent)).unwrap_or(0)
                };
                traffic.internet = scale(traffic.internet);
                for (_, bytes) in &mut traffic.backbone {
                    *bytes = scale(*bytes);
                }
            }
        }
        traffic
    }

    /// CPU follows [`cpu_share`] (a busy-ness of its own per VM, a daily swing and minute-to-minute
    /// noise, the same on every server); the VM receives about 150 KB/s per vCPU at full load.
    fn load(&self, vm: &VmSpec, from_ms: i64, to_ms: i64) -> Option<super::Load> {
        let span = to_ms.saturating_sub(from_ms);
        if span <= 0 {
            return Some(super::Load::default());
        }
        // The average over the period, sampled at most every minute and at most 240 times.
        let samples = (span / 60_000).clamp(1, 240);
        let step = span / samples;
        #[expect(clippy::cast_precision_loss, reason = "a few hundred samples")]
        let share = (0..samples)
            .map(|i| cpu_share(vm.id, from_ms + step * i + step / 2))
            .sum::<f64>()
            / samples as f64;
        #[expect(clippy::cast_precision_loss, reason = "periods are far below 2^52 ms")]
        let seconds = span as f64 / 1000.0;
        let vcpus = f64::from(vm.vcpus);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "non-negative, far below u64::MAX"
        )]
        Some(super::Load {
            cpu_ms: (share * vcpus * seconds * 1000.0) as u64,
            received_bytes: (share * vcpus * 150_000.0 * seconds) as u64,
        })
    }

    /// A CoreOS guest runs what its cloud-config starts with `docker run`, while it is powered.
    async fn containers(&self, vm: &VmSpec) -> Result<Vec<meridian_core::stack::Container>, DriverError> {
        if !vm.template.contains("coreos") {
            return Ok(Vec::new());
        }
        // Before its first boot a container is on its way, not ended.
        let state = if self.powered(vm) {
            "running"
        } else if matches!(vm.state, VmState::Pending | VmState::Provisioning) {
            "starting"
        } else {
            "exited"
        };
        Ok(vm
            .user_data
            .as_deref()
            .map(meridian_core::stack::containers_in_cloud_config)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, image)| meridian_core::stack::Container {
                name,
                image,
                state: state.to_owned(),
            })
            .collect())
    }

    async fn console(&self, vm: &VmSpec) -> Result<Vec<String>, DriverError> {
        if !self.powered(vm) {
            return Ok(vec!["[simulated] The VM is powered off.".to_owned()]);
        }
        let os = if vm.template.contains("coreos") {
            "Fedora CoreOS 40 (with Docker)"
        } else if vm.template.contains("debian") {
            "Debian GNU/Linux 12 (bookworm)"
        } else if vm.template.contains("ubuntu") {
            "Ubuntu 24.04 LTS"
        } else {
            "Linux"
        };
        let ip = vm.private_ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        let mut lines = vec![
            "[simulated console of a simulated VM]".to_owned(),
            "[    0.000000] Linux version 6.8.0 (simulated kernel)".to_owned(),
            format!(
                "[    0.000000] Command line: root=/dev/vda1 console=ttyS0 hostname={}",
                vm.name
            ),
            format!(
                "[    0.412337] Memory: {} MiB available, {} vCPUs",
                vm.memory_mib, vm.vcpus
            ),
            format!("[    1.084211] virtio_blk virtio1: [vda] {} GiB", vm.disk_gib),
            format!("[    1.622903] virtio_net virtio0 eth0: link up, private address {ip}"),
            "cloud-init[612]: Cloud-init v. 24.1 running 'init' … done".to_owned(),
            "cloud-init[612]: Cloud-init v. 24.1 running 'modules:final' … done".to_owned(),
        ];
        for key in &vm.ssh_keys {
            lines.push(format!("cloud-init[612]: ssh: authorized key {key}"));
        }
        if let Some(public) = vm.public_ip {
            lines.push(format!(
                "[    2.031876] breakout: public address {public} routed to eth0"
            ));
        }
        lines.push(format!("{os} {} ttyS0", vm.name));
        lines.push(format!("{} login:", vm.name));
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VmSpec {
        VmSpec {
            id: Uuid::from_u128(7),
            name: "web-1".into(),
            zone: ZONES[4].id,
            host: Some(Uuid::from_u128(1)),
            template: "ubuntu-24.04".into(),
            vcpus: 2,
            memory_mib: 4096,
            disk_gib: 40,
            private_ip: Some("10.0.0.2".parse().unwrap()),
            public_ip: None,
            ssh_keys: Vec::new(),
            user_data: None,
            state: VmState::Running,
        }
    }

    #[test]
    fn simulated_load_follows_one_curve_on_every_server() {
        let driver = SimulatedDriver::new(SimTiming::fast(), 1);
        let vm = spec();
        let hour = driver
            .load(&vm, 0, 3_600_000)
            .expect("the simulation makes load up");
        // Two vCPUs for an hour: between 1 % and 97 % of 7,200 s of CPU.
        assert!((72_000..=6_984_000).contains(&hour.cpu_ms), "{hour:?}");
        assert!(hour.received_bytes > 0);
        assert_eq!(
            driver.load(&vm, 0, 3_600_000),
            Some(hour),
            "the same figures again"
        );
        let shares: Vec<f64> = (0..1440).map(|m| cpu_share(vm.id, m * 60_000)).collect();
        assert!(shares.iter().all(|s| (0.01..=0.97).contains(s)));
        let (low, high) = shares
            .iter()
            .fold((1.0_f64, 0.0_f64), |(l, h), s| (l.min(*s), h.max(*s)));
        assert!(high - low > 0.2, "a day has its swing: {low:.2}–{high:.2}");
        assert_ne!(
            cpu_share(Uuid::from_u128(8 << 16), 0),
            cpu_share(vm.id, 0),
            "each VM its own"
        );
    }

    #[test]
    fn zones_get_hosts_in_proportion_to_their_ram() {
        let hosts = simulated_hosts();
        let lon1 = hosts.iter().filter(|h| h.zone.as_str() == "lon1").count();
        let mad1 = hosts.iter().filter(|h| h.zone.as_str() == "mad1").count();
        assert_eq!((lon1, mad1), (20, 10));
        let mut ids: Vec<Uuid> = hosts.iter().map(|h| h.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), hosts.len(), "host ids are unique");
    }

    #[tokio::test]
    async fn operations_are_idempotent_and_ordered_like_hardware() {
        let driver = SimulatedDriver::new(SimTiming::instant(), 1);
        let vm = spec();
        assert!(driver.vm_boot(&vm).await.is_err(), "no disk yet");
        driver.disk_create(&vm).await.unwrap();
        driver.disk_create(&vm).await.unwrap();
        driver.vm_boot(&vm).await.unwrap();
        driver.vm_boot(&vm).await.unwrap();
        assert_eq!(
            driver.vm_state(vm.id),
            SimVmState {
                disk: true,
                powered: true,
                network: false,
                breakout: false
            }
        );
        assert!(
            driver
                .console(&vm)
                .await
                .unwrap()
                .iter()
                .any(|l| l.contains("10.0.0.2"))
        );
        driver.vm_power_off(&vm).await.unwrap();
        driver.disk_delete(&vm).await.unwrap();
        driver.disk_delete(&vm).await.unwrap();
        assert!(driver.vm_states().is_empty());
    }

    #[tokio::test]
    async fn injected_faults_fail_the_named_step_the_given_number_of_times() {
        let driver = SimulatedDriver::new(SimTiming::instant(), 1);
        driver.set_faults(SimFaults {
            fail_step: Some(Step::Boot),
            fail_times: Some(1),
            probability: 0.0,
            ..SimFaults::default()
        });
        assert!(driver.before_step(Step::CreateDisk, false, &spec()).await.is_ok());
        assert!(driver.before_step(Step::Boot, false, &spec()).await.is_err());
        assert!(driver.before_step(Step::Boot, false, &spec()).await.is_ok());
        driver.set_faults(SimFaults {
            probability: 1.0,
            ..SimFaults::default()
        });
        assert!(driver.before_step(Step::Place, false, &spec()).await.is_err());
    }
}
