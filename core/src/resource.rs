//! Compute resources: names, sizes, the VM state machine, templates, SSH keys, firewall rules, quotas
//! and the VM create form.
//!
//! Every `parse` here runs in the browser next to the form field and again on the server, so each
//! error's `Display` is a sentence for the person filling in the form, never for a developer.

use crate::field::FieldErrors;
use crate::id::{SshKeyId, TemplateId, TenantId};
use crate::zone::ZoneId;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::net::Ipv4Addr;
use thiserror::Error;
use uuid::Uuid;

/// Reads a whole number typed into a form: `None` if it is not one, `u64::MAX` if it is too long to
/// hold, so that "99999999999" is reported as out of range rather than as "not a number".
fn parse_whole(raw: &str) -> Option<u64> {
    let digits = raw.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// Memory as people read it: whole GiB when it is, MiB otherwise.
fn mib_text(mib: u64) -> String {
    if mib.is_multiple_of(1024) {
        format!("{} GiB", mib / 1024)
    } else {
        format!("{mib} MiB")
    }
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// Longest resource name: one DNS label (RFC 1035), so a VM's name can be its hostname.
pub const NAME_MAX_CHARS: usize = 63;

/// A resource name (VM, template, group): a DNS label of lowercase letters, digits and hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a resource name was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum NameError {
    /// Nothing was typed.
    #[error("Enter a name.")]
    Empty,
    /// Longer than a DNS label.
    #[error("Use at most 63 characters.")]
    TooLong,
    /// Contains something other than `a-z`, `0-9` and `-`.
    #[error("Use lowercase letters, digits and hyphens only, like web-1: the name is also the hostname.")]
    BadCharacter,
    /// Starts with a digit or a hyphen.
    #[error("Start the name with a lowercase letter.")]
    BadStart,
    /// Ends with a hyphen, which DNS does not allow.
    #[error("A name cannot end with a hyphen.")]
    EndsWithHyphen,
}

impl Name {
    /// Parses a name typed by a person. Surrounding whitespace is dropped; nothing is lower-cased
    /// silently, so the name stored is the name the person saw.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            Err(NameError::Empty)
        } else if name.chars().count() > NAME_MAX_CHARS {
            Err(NameError::TooLong)
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Err(NameError::BadCharacter)
        } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            Err(NameError::BadStart)
        } else if name.ends_with('-') {
            Err(NameError::EndsWithHyphen)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

// ---------------------------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------------------------

/// The parts every size newtype shares: parsing a form value, reading the number, and the serde
/// conversions (through `new`, so a deserialised value is checked too).
macro_rules! size_newtype {
    ($name:ident, $error:ident) => {
        impl $name {
            /// Parses a whole number typed into a form.
            pub fn parse(raw: &str) -> Result<Self, $error> {
                let value = parse_whole(raw).ok_or($error::NotANumber)?;
                Self::new(u32::try_from(value).unwrap_or(u32::MAX))
            }

            /// The number.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<u32> for $name {
            type Error = $error;
            fn try_from(value: u32) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for u32 {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

/// A number of virtual CPUs, 1–64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Vcpus(u32);

/// Why a vCPU count was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum VcpusError {
    /// Not a whole number.
    #[error("Enter a whole number of vCPUs.")]
    NotANumber,
    /// Outside 1–64.
    #[error("Choose between 1 and 64 vCPUs.")]
    OutOfRange,
}

impl Vcpus {
    /// Fewest vCPUs a VM can have.
    pub const MIN: u32 = 1;
    /// Most vCPUs a VM can have: half of the smallest host, so any size fits somewhere.
    pub const MAX: u32 = 64;

    /// Checks a count.
    pub fn new(count: u32) -> Result<Self, VcpusError> {
        if (Self::MIN..=Self::MAX).contains(&count) {
            Ok(Self(count))
        } else {
            Err(VcpusError::OutOfRange)
        }
    }
}

impl fmt::Display for Vcpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 1 {
            f.write_str("1 vCPU")
        } else {
            write!(f, "{} vCPUs", self.0)
        }
    }
}

size_newtype!(Vcpus, VcpusError);

/// Memory in MiB: 512 MiB to 256 GiB, in steps of 256 MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct MemoryMib(u32);

/// Why a memory size was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum MemoryMibError {
    /// Not a whole number.
    #[error("Enter the memory in MiB as a whole number.")]
    NotANumber,
    /// Outside 512 MiB – 256 GiB.
    #[error("Choose between 512 MiB and 256 GiB of memory.")]
    OutOfRange,
    /// Not a multiple of 256 MiB.
    #[error("Choose a multiple of 256 MiB.")]
    NotMultiple,
}

impl MemoryMib {
    /// Least memory a VM can have.
    pub const MIN: u32 = 512;
    /// Most memory a VM can have (256 GiB).
    pub const MAX: u32 = 256 * 1024;
    /// Memory comes in steps of this many MiB; it also keeps the per-GiB price an exact integer.
    pub const STEP: u32 = 256;

    /// Checks a size in MiB.
    pub fn new(mib: u32) -> Result<Self, MemoryMibError> {
        if !(Self::MIN..=Self::MAX).contains(&mib) {
            Err(MemoryMibError::OutOfRange)
        } else if !mib.is_multiple_of(Self::STEP) {
            Err(MemoryMibError::NotMultiple)
        } else {
            Ok(Self(mib))
        }
    }
}

impl fmt::Display for MemoryMib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mib_text(u64::from(self.0)))
    }
}

size_newtype!(MemoryMib, MemoryMibError);

/// A boot disk size in GiB, 10–4096.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct DiskGib(u32);

/// Why a disk size was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DiskGibError {
    /// Not a whole number.
    #[error("Enter the disk size in GiB as a whole number.")]
    NotANumber,
    /// Outside 10–4096 GiB.
    #[error("Choose between 10 GiB and 4096 GiB of disk.")]
    OutOfRange,
}

impl DiskGib {
    /// Smallest disk: enough for any built-in image.
    pub const MIN: u32 = 10;
    /// Largest disk (4 TiB).
    pub const MAX: u32 = 4096;

    /// Checks a size in GiB.
    pub fn new(gib: u32) -> Result<Self, DiskGibError> {
        if (Self::MIN..=Self::MAX).contains(&gib) {
            Ok(Self(gib))
        } else {
            Err(DiskGibError::OutOfRange)
        }
    }
}

impl fmt::Display for DiskGib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} GiB", self.0)
    }
}

size_newtype!(DiskGib, DiskGibError);

/// The shape of a VM. Ordered by vCPUs, then memory, then disk, so lists sort small to large.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VmSize {
    /// Virtual CPUs.
    pub vcpus: Vcpus,
    /// Memory.
    pub memory_mib: MemoryMib,
    /// Boot disk.
    pub disk_gib: DiskGib,
}

/// An entry of the size catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NamedSize {
    /// Short code used in forms and APIs, e.g. `m`.
    pub code: &'static str,
    /// A memorable name shown next to the code, e.g. `Kestrel`.
    pub name: &'static str,
    /// The size itself.
    pub size: VmSize,
}

/// Builds a catalogue size; the numbers are checked by a test against the public constructors.
const fn size(vcpus: u32, memory_mib: u32, disk_gib: u32) -> VmSize {
    VmSize {
        vcpus: Vcpus(vcpus),
        memory_mib: MemoryMib(memory_mib),
        disk_gib: DiskGib(disk_gib),
    }
}

/// The sizes offered in the create form, smallest first. Four GiB of memory per vCPU from `s` up.
pub static SIZES: [NamedSize; 5] = [
    NamedSize {
        code: "xs",
        name: "Wren",
        size: size(1, 1024, 20),
    },
    NamedSize {
        code: "s",
        name: "Robin",
        size: size(2, 4 * 1024, 50),
    },
    NamedSize {
        code: "m",
        name: "Kestrel",
        size: size(4, 16 * 1024, 100),
    },
    NamedSize {
        code: "l",
        name: "Heron",
        size: size(8, 32 * 1024, 200),
    },
    NamedSize {
        code: "xl",
        name: "Albatross",
        size: size(16, 64 * 1024, 400),
    },
];

/// Why a size choice was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SizeError {
    /// Nothing was chosen.
    #[error("Choose a size.")]
    Empty,
    /// Not a code or name from [`SIZES`].
    #[error("There is no size {0:?}; choose xs, s, m, l or xl.")]
    Unknown(String),
}

/// Why a resize was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ResizeError {
    /// The new size is the current size.
    #[error("The VM already has this size.")]
    Unchanged,
    /// The new size has a smaller disk; disks only grow because shrinking would cut off data.
    #[error("Disks cannot shrink; choose a size with at least {current} of disk.")]
    DiskShrinks {
        /// The VM's current disk.
        current: DiskGib,
    },
}

impl VmSize {
    /// A size from validated parts (custom sizes, and resizes).
    pub fn new(vcpus: Vcpus, memory_mib: MemoryMib, disk_gib: DiskGib) -> Self {
        Self {
            vcpus,
            memory_mib,
            disk_gib,
        }
    }

    /// Looks up a catalogue size by code (`m`) or name (`Kestrel`), ignoring case.
    pub fn named(raw: &str) -> Result<Self, SizeError> {
        let wanted = raw.trim();
        if wanted.is_empty() {
            return Err(SizeError::Empty);
        }
        SIZES
            .iter()
            .find(|s| s.code.eq_ignore_ascii_case(wanted) || s.name.eq_ignore_ascii_case(wanted))
            .map(|s| s.size)
            .ok_or_else(|| SizeError::Unknown(wanted.to_owned()))
    }

    /// The catalogue entry with exactly this shape, if there is one.
    pub fn catalogue_entry(&self) -> Option<&'static NamedSize> {
        SIZES.iter().find(|s| s.size == *self)
    }

    /// Checks that a VM of this size may be resized to `to`.
    pub fn check_resize(&self, to: &VmSize) -> Result<(), ResizeError> {
        if to == self {
            Err(ResizeError::Unchanged)
        } else if to.disk_gib < self.disk_gib {
            Err(ResizeError::DiskShrinks {
                current: self.disk_gib,
            })
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for VmSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} memory, {} disk",
            self.vcpus, self.memory_mib, self.disk_gib
        )
    }
}

// ---------------------------------------------------------------------------------------------
// VM lifecycle
// ---------------------------------------------------------------------------------------------

/// Where a VM is in its life.
///
/// Legal moves, and why:
/// - `Pending → Provisioning`: the job has placed the VM and starts building it.
/// - `Pending → Failed`, `Provisioning → Failed`: placement or provisioning failed for good.
/// - `Provisioning → Running`: the VM booted.
/// - `Running ⇄ Stopped`: stop and start. There is no `Stopping`/`Starting` state: the job row
///   shows the progress of a long operation, the VM state is only ever a settled fact.
/// - `Running → Destroying`, `Stopped → Destroying`, `Failed → Destroying`: destroy.
/// - `Destroying → Destroyed`: teardown finished; `Destroyed` is final.
/// - `Destroying → Failed`: teardown failed; destroying again from `Failed` retries it.
///
/// Everything else is refused, including a move to the same state: a reboot or a resize leaves
/// the state as it is and is not a transition. A running VM that hits trouble stays in its state and
/// the failing job records the error, so a `Failed` VM always means "this VM needs destroying".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmState {
    /// Accepted, waiting for the job to place it.
    Pending,
    /// Being built on its host.
    Provisioning,
    /// Booted.
    Running,
    /// Shut down; disk and addresses are kept.
    Stopped,
    /// Being torn down.
    Destroying,
    /// Gone. Final.
    Destroyed,
    /// Provisioning or teardown failed; the only way on is to destroy it.
    Failed,
}

/// A state change the state machine does not allow.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("A VM cannot go from {from} to {to}.")]
pub struct IllegalTransition {
    /// The current state.
    pub from: VmState,
    /// The state that was asked for.
    pub to: VmState,
}

/// A stored state name that is not a [`VmState`].
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("There is no VM state {0:?}.")]
pub struct UnknownVmState(pub String);

impl VmState {
    /// Every state, in life order.
    pub const ALL: [VmState; 7] = [
        VmState::Pending,
        VmState::Provisioning,
        VmState::Running,
        VmState::Stopped,
        VmState::Destroying,
        VmState::Destroyed,
        VmState::Failed,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Pending => "pending",
            VmState::Provisioning => "provisioning",
            VmState::Running => "running",
            VmState::Stopped => "stopped",
            VmState::Destroying => "destroying",
            VmState::Destroyed => "destroyed",
            VmState::Failed => "failed",
        }
    }

    /// Parses a stored state name.
    pub fn parse(raw: &str) -> Result<Self, UnknownVmState> {
        VmState::ALL
            .into_iter()
            .find(|state| state.as_str() == raw)
            .ok_or_else(|| UnknownVmState(raw.to_owned()))
    }

    /// Whether the state machine allows moving from `self` to `to` (see the type's documentation).
    pub fn can_transition(self, to: VmState) -> bool {
        use VmState::*;
        matches!(
            (self, to),
            (Pending, Provisioning)
                | (Pending, Failed)
                | (Provisioning, Running)
                | (Provisioning, Failed)
                | (Running, Stopped)
                | (Stopped, Running)
                | (Running, Destroying)
                | (Stopped, Destroying)
                | (Failed, Destroying)
                | (Destroying, Destroyed)
                | (Destroying, Failed)
        )
    }

    /// Moves to `to` if that is legal.
    pub fn transition(self, to: VmState) -> Result<VmState, IllegalTransition> {
        if self.can_transition(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// Whether a job is working on the VM right now (the UI shows progress instead of buttons).
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            VmState::Pending | VmState::Provisioning | VmState::Destroying
        )
    }

    /// Whether nothing can ever happen to the VM again.
    pub fn is_final(self) -> bool {
        self == VmState::Destroyed
    }
}

impl fmt::Display for VmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a user can ask a VM to do; each is a button on the VM page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmAction {
    /// Stopped → Running.
    Start,
    /// Running → Stopped.
    Stop,
    /// Restart a running VM; the state stays Running.
    Reboot,
    /// Change the size of a stopped VM; the state stays Stopped.
    Resize,
    /// Running, Stopped or Failed → Destroying.
    Destroy,
    /// Give a running or stopped VM a public address; the state stays.
    OpenBreakout,
    /// Take a running or stopped VM's public address away; the state stays.
    CloseBreakout,
}

impl VmAction {
    /// Every action, in the order of the buttons.
    pub const ALL: [VmAction; 7] = [
        VmAction::Start,
        VmAction::Stop,
        VmAction::Reboot,
        VmAction::Resize,
        VmAction::Destroy,
        VmAction::OpenBreakout,
        VmAction::CloseBreakout,
    ];

    /// The name used in URLs and job rows.
    pub fn as_str(self) -> &'static str {
        match self {
            VmAction::Start => "start",
            VmAction::Stop => "stop",
            VmAction::Reboot => "reboot",
            VmAction::Resize => "resize",
            VmAction::Destroy => "destroy",
            VmAction::OpenBreakout => "open_breakout",
            VmAction::CloseBreakout => "close_breakout",
        }
    }

    /// The state the action moves the VM to, or `None` when it leaves the state alone.
    pub fn target_state(self) -> Option<VmState> {
        match self {
            VmAction::Start => Some(VmState::Running),
            VmAction::Stop => Some(VmState::Stopped),
            VmAction::Destroy => Some(VmState::Destroying),
            VmAction::Reboot | VmAction::Resize | VmAction::OpenBreakout | VmAction::CloseBreakout => None,
        }
    }

    /// Whether the action may run on a VM in `state`; the error is the reason to show next to the
    /// disabled button ("Stop the VM before resizing it.").
    pub fn allowed_in(self, state: VmState) -> Result<(), String> {
        let refusal = match (self, state) {
            (VmAction::Start, VmState::Stopped)
            | (VmAction::Stop | VmAction::Reboot, VmState::Running)
            | (VmAction::Resize, VmState::Stopped)
            | (VmAction::Destroy, VmState::Running | VmState::Stopped | VmState::Failed)
            | (VmAction::OpenBreakout | VmAction::CloseBreakout, VmState::Running | VmState::Stopped) => {
                return Ok(());
            }
            (_, VmState::Pending | VmState::Provisioning) => "Wait until the VM has finished provisioning.",
            (VmAction::Destroy, VmState::Destroying) => "The VM is already being destroyed.",
            (_, VmState::Destroying) => "The VM is being destroyed.",
            (_, VmState::Destroyed) => "The VM has been destroyed.",
            (_, VmState::Failed) => "Something went wrong with this VM; destroy it and create a new one.",
            (VmAction::Start, VmState::Running) => "The VM is already running.",
            (VmAction::Stop, VmState::Stopped) => "The VM is already stopped.",
            (VmAction::Reboot, VmState::Stopped) => "The VM is stopped; start it instead.",
            (VmAction::Resize, VmState::Running) => "Stop the VM before resizing it.",
        };
        Err(refusal.to_owned())
    }

    /// [`VmAction::allowed_in`], and for the breakout actions whether the VM's breakout
    /// (`breakout`: it has a public address or one is on its way) leaves anything to do.
    pub fn allowed_for(self, state: VmState, breakout: bool) -> Result<(), String> {
        self.allowed_in(state)?;
        match (self, breakout) {
            (VmAction::OpenBreakout, true) => Err("The VM already has internet breakout.".to_owned()),
            (VmAction::CloseBreakout, false) => Err("The VM has no internet breakout.".to_owned()),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for VmAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Templates and user data
// ---------------------------------------------------------------------------------------------

/// The operating system family of a template: decides the default user and how cloud-config is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OsFamily {
    /// Flatcar Container Linux, the continuation of CoreOS Container Linux. It reads cloud-config
    /// through `coreos-cloudinit`, which supports a subset of cloud-init's keys.
    CoreOs,
    /// Ubuntu (cloud-init).
    Ubuntu,
    /// Debian (cloud-init).
    Debian,
    /// Rocky Linux, RHEL-compatible (cloud-init).
    Rocky,
}

impl OsFamily {
    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            OsFamily::CoreOs => "CoreOS",
            OsFamily::Ubuntu => "Ubuntu",
            OsFamily::Debian => "Debian",
            OsFamily::Rocky => "Rocky Linux",
        }
    }
}

/// A template Meridian ships. Their ids are fixed so stored VMs keep pointing at them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BuiltinTemplate {
    /// Fixed id; tenant templates get random (version 4) UUIDs, which can never equal these.
    pub id: TemplateId,
    /// Short key for forms and APIs, e.g. `ubuntu-24-04`.
    pub slug: &'static str,
    /// Name shown to people.
    pub name: &'static str,
    /// Operating system family.
    pub os_family: OsFamily,
    /// The user the SSH keys are installed for.
    pub default_user: &'static str,
    /// Smallest boot disk the image fits on.
    pub min_disk_gib: DiskGib,
    /// The image the driver boots from.
    pub image: &'static str,
}

/// The built-in template ids: `6d657269-6469-616e-…` spells "meridian", the last digit numbers them.
const fn builtin_id(n: u128) -> TemplateId {
    TemplateId(Uuid::from_u128(0x6d65_7269_6469_616e_0000_0000_0000_0000 | n))
}

/// Every built-in template, in the order the create form lists them.
pub static BUILTIN_TEMPLATES: [BuiltinTemplate; 4] = [
    BuiltinTemplate {
        id: builtin_id(1),
        slug: "coreos-docker",
        name: "Flatcar Container Linux (CoreOS) with Docker",
        os_family: OsFamily::CoreOs,
        default_user: "core",
        min_disk_gib: DiskGib(10),
        image: "flatcar-stable",
    },
    BuiltinTemplate {
        id: builtin_id(2),
        slug: "ubuntu-24-04",
        name: "Ubuntu 24.04 LTS",
        os_family: OsFamily::Ubuntu,
        default_user: "ubuntu",
        min_disk_gib: DiskGib(10),
        image: "ubuntu-24.04-server-cloudimg-amd64",
    },
    BuiltinTemplate {
        id: builtin_id(3),
        slug: "debian-12",
        name: "Debian 12 (bookworm)",
        os_family: OsFamily::Debian,
        default_user: "debian",
        min_disk_gib: DiskGib(10),
        image: "debian-12-genericcloud-amd64",
    },
    BuiltinTemplate {
        id: builtin_id(4),
        slug: "rocky-9",
        name: "Rocky Linux 9",
        os_family: OsFamily::Rocky,
        default_user: "rocky",
        min_disk_gib: DiskGib(10),
        image: "Rocky-9-GenericCloud-Base",
    },
];

/// A disk too small for the template's image.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{template} needs at least {min} of disk; choose a larger size.")]
pub struct DiskTooSmall {
    /// The template's name.
    pub template: String,
    /// Its minimum disk.
    pub min: DiskGib,
}

impl BuiltinTemplate {
    /// The built-in template with this id.
    pub fn find(id: TemplateId) -> Option<&'static BuiltinTemplate> {
        BUILTIN_TEMPLATES.iter().find(|t| t.id == id)
    }

    /// The built-in template with this slug.
    pub fn by_slug(slug: &str) -> Option<&'static BuiltinTemplate> {
        BUILTIN_TEMPLATES.iter().find(|t| t.slug == slug)
    }

    /// Checks that a boot disk is big enough for this image.
    pub fn check_disk(&self, disk: DiskGib) -> Result<(), DiskTooSmall> {
        if disk >= self.min_disk_gib {
            Ok(())
        } else {
            Err(DiskTooSmall {
                template: self.name.to_owned(),
                min: self.min_disk_gib,
            })
        }
    }
}

/// Why a template choice was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TemplateChoiceError {
    /// Nothing was chosen.
    #[error("Choose a template.")]
    Empty,
    /// Neither a built-in slug nor a template id.
    #[error("There is no template {0:?}.")]
    Unknown(String),
}

/// Reads a template choice from a form: a built-in slug (`debian-12`) or any template id.
///
/// A UUID that is not built in is accepted here because tenant templates live in the database; the
/// control plane checks that it exists and belongs to the tenant (and answers 404 otherwise).
pub fn parse_template_choice(raw: &str) -> Result<TemplateId, TemplateChoiceError> {
    let wanted = raw.trim();
    if wanted.is_empty() {
        return Err(TemplateChoiceError::Empty);
    }
    if let Some(builtin) = BuiltinTemplate::by_slug(wanted) {
        return Ok(builtin.id);
    }
    wanted
        .parse::<TemplateId>()
        .map_err(|_| TemplateChoiceError::Unknown(wanted.to_owned()))
}

/// Largest user data accepted: cloud-init's own limit on most platforms is 16 KiB.
pub const USER_DATA_MAX_BYTES: usize = 16 * 1024;

/// The first line every cloud-config document starts with.
pub const CLOUD_CONFIG_HEADER: &str = "#cloud-config";

/// Cloud-config user data, checked lightly.
///
/// What is checked: the first line is exactly `#cloud-config`; the text is at most
/// [`USER_DATA_MAX_BYTES`] bytes; no line is indented with a tab (YAML forbids tabs in indentation and
/// this is the mistake people paste most); no control characters other than tab, CR and LF. The YAML
/// is not parsed: keeping a YAML parser out of the browser bundle matters more than catching every
/// mistake, and cloud-init reports the rest in the VM's console log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserData(String);

/// Why user data was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum UserDataError {
    /// Larger than [`USER_DATA_MAX_BYTES`].
    #[error("User data is limited to 16 KiB.")]
    TooLarge,
    /// Does not start with `#cloud-config`.
    #[error("Start user data with the line #cloud-config.")]
    MissingHeader,
    /// A line is indented with a tab.
    #[error("Line {line} is indented with a tab; YAML needs spaces.")]
    TabIndent {
        /// 1-based line number.
        line: usize,
    },
    /// A line holds an invisible control character.
    #[error("Line {line} contains a control character.")]
    ControlCharacter {
        /// 1-based line number.
        line: usize,
    },
}

impl UserData {
    /// Checks cloud-config text. Surrounding whitespace is dropped, since a blank first line would
    /// hide the header from cloud-init.
    pub fn parse(raw: &str) -> Result<Self, UserDataError> {
        let text = raw.trim();
        if text.len() > USER_DATA_MAX_BYTES {
            return Err(UserDataError::TooLarge);
        }
        let mut lines = text.lines();
        if lines.next().map(str::trim_end) != Some(CLOUD_CONFIG_HEADER) {
            return Err(UserDataError::MissingHeader);
        }
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
            if line[..indent].contains('\t') {
                return Err(UserDataError::TabIndent { line: line_number });
            }
            if line.chars().any(|c| c.is_control() && c != '\t' && c != '\r') {
                return Err(UserDataError::ControlCharacter { line: line_number });
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// The text, starting with `#cloud-config`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserData {
    type Error = UserDataError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<UserData> for String {
    fn from(user_data: UserData) -> Self {
        user_data.0
    }
}

/// A template a tenant made: a built-in base image plus their own cloud-config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantTemplate {
    /// Its id.
    pub id: TemplateId,
    /// The tenant that owns it.
    pub tenant_id: TenantId,
    /// Its name, unique within the tenant.
    pub name: Name,
    /// The built-in template whose image it boots.
    pub base: TemplateId,
    /// Cloud-config applied at first boot.
    pub user_data: UserData,
}

impl TenantTemplate {
    /// The built-in template it is based on (`None` only if the catalogue lost an entry).
    pub fn base_template(&self) -> Option<&'static BuiltinTemplate> {
        BuiltinTemplate::find(self.base)
    }
}

/// The validated input for creating a tenant template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateCreate {
    /// Its name.
    pub name: Name,
    /// The built-in template it is based on.
    pub base: &'static BuiltinTemplate,
    /// Its cloud-config.
    pub user_data: UserData,
}

impl TemplateCreate {
    /// Validates the template form; field names are `name`, `base` and `user_data`.
    pub fn parse(name: &str, base: &str, user_data: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", Name::parse(name));
        // Only built-ins can be a base: templates of templates would make "what does this VM run"
        // a chain to follow.
        let base = errors.check(
            "base",
            parse_template_choice(base).and_then(|id| {
                BuiltinTemplate::find(id).ok_or_else(|| TemplateChoiceError::Unknown(base.trim().to_owned()))
            }),
        );
        let user_data = errors.check("user_data", UserData::parse(user_data));
        match (name, base, user_data) {
            (Some(name), Some(base), Some(user_data)) => Ok(Self {
                name,
                base,
                user_data,
            }),
            _ => Err(errors),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SSH public keys
// ---------------------------------------------------------------------------------------------

/// Longest public-key line accepted; a 16384-bit RSA key is under 3 KiB.
pub const SSH_KEY_MAX_BYTES: usize = 16 * 1024;

/// Smallest RSA modulus accepted, in bits (NIST SP 800-57: 1024-bit RSA is no longer acceptable).
pub const RSA_MIN_BITS: usize = 2048;

/// An SSH public-key algorithm Meridian accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SshKeyType {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ssh-rsa`.
    Rsa,
    /// `ecdsa-sha2-nistp256`.
    EcdsaP256,
    /// `ecdsa-sha2-nistp384`.
    EcdsaP384,
    /// `ecdsa-sha2-nistp521`.
    EcdsaP521,
    /// `sk-ssh-ed25519@openssh.com` (a FIDO security key).
    SkEd25519,
}

impl SshKeyType {
    /// Every accepted type.
    pub const ALL: [SshKeyType; 6] = [
        SshKeyType::Ed25519,
        SshKeyType::Rsa,
        SshKeyType::EcdsaP256,
        SshKeyType::EcdsaP384,
        SshKeyType::EcdsaP521,
        SshKeyType::SkEd25519,
    ];

    /// The OpenSSH name, as it appears at the start of the key line and inside the key blob.
    pub fn as_str(self) -> &'static str {
        match self {
            SshKeyType::Ed25519 => "ssh-ed25519",
            SshKeyType::Rsa => "ssh-rsa",
            SshKeyType::EcdsaP256 => "ecdsa-sha2-nistp256",
            SshKeyType::EcdsaP384 => "ecdsa-sha2-nistp384",
            SshKeyType::EcdsaP521 => "ecdsa-sha2-nistp521",
            SshKeyType::SkEd25519 => "sk-ssh-ed25519@openssh.com",
        }
    }

    /// The curve name and encoded point length of an ECDSA type (RFC 5656: uncompressed points).
    fn ecdsa_curve(self) -> Option<(&'static str, usize)> {
        match self {
            SshKeyType::EcdsaP256 => Some(("nistp256", 65)),
            SshKeyType::EcdsaP384 => Some(("nistp384", 97)),
            SshKeyType::EcdsaP521 => Some(("nistp521", 133)),
            _ => None,
        }
    }
}

impl fmt::Display for SshKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed OpenSSH public key: `<type> <base64 blob> [comment]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SshPublicKey {
    key_type: SshKeyType,
    blob: Vec<u8>,
    comment: Option<String>,
}

/// Why a public key was refused. The messages aim at the usual paste mistakes.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SshKeyError {
    /// Nothing was pasted.
    #[error("Paste a public key.")]
    Empty,
    /// Longer than [`SSH_KEY_MAX_BYTES`].
    #[error("A public key is at most 16 KiB long.")]
    TooLong,
    /// A private key was pasted.
    #[error("This is a private key: keep it secret. Paste the public key instead (the .pub file).")]
    PrivateKey,
    /// An RFC 4716 (`---- BEGIN SSH2 PUBLIC KEY ----`) key.
    #[error("This key is in SSH2 format; convert it with ssh-keygen -i -f key.pub and paste the result.")]
    Ssh2Format,
    /// More than one line.
    #[error("Paste one key, on a single line.")]
    MultipleLines,
    /// Not of the shape `<type> <data> [comment]`.
    #[error("A public key looks like: ssh-ed25519 AAAAC3Nza… you@laptop")]
    Malformed,
    /// A key type Meridian does not accept.
    #[error("Key type {0:?} is not supported; use ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521.")]
    UnsupportedType(String),
    /// The data is not base64.
    #[error("The key data is not valid base64; copy the whole line from the .pub file again.")]
    BadBase64,
    /// The data is for another key type than the line says.
    #[error(
        "The key data does not belong to a {declared} key; copy the whole line from the .pub file again."
    )]
    TypeMismatch {
        /// The type named at the start of the line.
        declared: SshKeyType,
    },
    /// The data is cut short or has extra bytes.
    #[error("The key data is incomplete or damaged; copy the whole line from the .pub file again.")]
    Corrupt,
    /// An RSA key below [`RSA_MIN_BITS`].
    #[error("This RSA key has {bits} bits; use at least 2048, or an ed25519 key (ssh-keygen -t ed25519).")]
    RsaTooSmall {
        /// The modulus size.
        bits: usize,
    },
}

/// Reads the SSH wire encoding (RFC 4251 §5): strings are a big-endian u32 length and the bytes.
struct WireReader<'a> {
    rest: &'a [u8],
}

impl<'a> WireReader<'a> {
    fn string(&mut self) -> Result<&'a [u8], SshKeyError> {
        let (len, rest) = self.rest.split_first_chunk::<4>().ok_or(SshKeyError::Corrupt)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| SshKeyError::Corrupt)?;
        if rest.len() < len {
            return Err(SshKeyError::Corrupt);
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(value)
    }

    fn finish(&self) -> Result<(), SshKeyError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(SshKeyError::Corrupt)
        }
    }
}

/// The size in bits of a positive `mpint` (RFC 4251 §5), or `None` if it is negative or zero.
fn mpint_bits(mpint: &[u8]) -> Option<usize> {
    if mpint.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let significant = mpint.iter().position(|&b| b != 0).map(|i| &mpint[i..])?;
    let top = significant.first()?;
    let top_bits = usize::try_from(u8::BITS - top.leading_zeros()).ok()?;
    Some((significant.len() - 1) * 8 + top_bits)
}

impl SshPublicKey {
    /// Parses one line in OpenSSH `authorized_keys` format (without options).
    ///
    /// Beyond the shape of the line, the base64 data must decode to a well-formed key of the
    /// declared type: the blob starts with the same type name, ed25519 keys hold 32 bytes, ECDSA keys
    /// name their curve and hold an uncompressed point of the right length, RSA keys have at least
    /// [`RSA_MIN_BITS`] bits, and nothing follows. That catches truncated and mixed-up pastes.
    pub fn parse(raw: &str) -> Result<Self, SshKeyError> {
        if raw.len() > SSH_KEY_MAX_BYTES {
            return Err(SshKeyError::TooLong);
        }
        let line = raw.trim();
        if line.is_empty() {
            return Err(SshKeyError::Empty);
        }
        if line.contains("PRIVATE KEY") {
            return Err(SshKeyError::PrivateKey);
        }
        if line.contains("BEGIN SSH2 PUBLIC KEY") {
            return Err(SshKeyError::Ssh2Format);
        }
        if line.contains(['\n', '\r']) {
            return Err(SshKeyError::MultipleLines);
        }
        let (type_name, rest) = line
            .split_once(char::is_whitespace)
            .ok_or(SshKeyError::Malformed)?;
        let rest = rest.trim_start();
        let (data, comment) = match rest.split_once(char::is_whitespace) {
            Some((data, comment)) => (data, comment.trim()),
            None => (rest, ""),
        };
        let key_type = SshKeyType::ALL
            .into_iter()
            .find(|t| t.as_str() == type_name)
            .ok_or_else(|| SshKeyError::UnsupportedType(type_name.chars().take(40).collect()))?;
        if crate::text::has_hidden(comment) {
            return Err(SshKeyError::Malformed);
        }
        let blob = STANDARD.decode(data).map_err(|_| SshKeyError::BadBase64)?;
        Self::check_blob(key_type, &blob)?;
        Ok(Self {
            key_type,
            blob,
            comment: (!comment.is_empty()).then(|| comment.to_owned()),
        })
    }

    fn check_blob(key_type: SshKeyType, blob: &[u8]) -> Result<(), SshKeyError> {
        let mut reader = WireReader { rest: blob };
        let mismatch = SshKeyError::TypeMismatch { declared: key_type };
        if reader.string().map_err(|_| mismatch.clone())? != key_type.as_str().as_bytes() {
            return Err(mismatch);
        }
        match key_type {
            SshKeyType::Ed25519 | SshKeyType::SkEd25519 => {
                if reader.string()?.len() != 32 {
                    return Err(SshKeyError::Corrupt);
                }
                if key_type == SshKeyType::SkEd25519 {
                    // The FIDO application, normally "ssh:".
                    reader.string()?;
                }
            }
            SshKeyType::Rsa => {
                let exponent = reader.string()?;
                let modulus = reader.string()?;
                mpint_bits(exponent).ok_or(SshKeyError::Corrupt)?;
                let bits = mpint_bits(modulus).ok_or(SshKeyError::Corrupt)?;
                if bits < RSA_MIN_BITS {
                    return Err(SshKeyError::RsaTooSmall { bits });
                }
            }
            SshKeyType::EcdsaP256 | SshKeyType::EcdsaP384 | SshKeyType::EcdsaP521 => {
                let (curve, point_len) = key_type.ecdsa_curve().ok_or(SshKeyError::Corrupt)?;
                if reader.string()? != curve.as_bytes() {
                    return Err(SshKeyError::Corrupt);
                }
                let point = reader.string()?;
                if point.len() != point_len || point.first() != Some(&0x04) {
                    return Err(SshKeyError::Corrupt);
                }
            }
        }
        reader.finish()
    }

    /// The key's algorithm.
    pub fn key_type(&self) -> SshKeyType {
        self.key_type
    }

    /// The comment after the key data, usually `user@host`.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The SHA-256 fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&self.blob)))
    }

    /// The key as one `authorized_keys` line.
    pub fn to_openssh(&self) -> String {
        let mut line = format!("{} {}", self.key_type, STANDARD.encode(&self.blob));
        if let Some(comment) = &self.comment {
            line.push(' ');
            line.push_str(comment);
        }
        line
    }
}

impl fmt::Display for SshPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_openssh())
    }
}

impl TryFrom<String> for SshPublicKey {
    type Error = SshKeyError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SshPublicKey> for String {
    fn from(key: SshPublicKey) -> Self {
        key.to_openssh()
    }
}

// ---------------------------------------------------------------------------------------------
// Anti-affinity groups
// ---------------------------------------------------------------------------------------------

/// A named set of VMs that placement puts on different hosts, so one host failure takes down at
/// most one of them. Groups belong to a tenant; the name is unique within it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AntiAffinityGroup {
    /// The group's name.
    pub name: Name,
}

impl AntiAffinityGroup {
    /// Parses a group name typed by a person.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        Name::parse(raw).map(|name| Self { name })
    }
}

// ---------------------------------------------------------------------------------------------
// Firewall rules
// ---------------------------------------------------------------------------------------------

/// The IP protocol a firewall rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP; needs ports.
    Tcp,
    /// UDP; needs ports.
    Udp,
    /// ICMP (ping); has no ports.
    Icmp,
}

/// A protocol name that is not TCP, UDP or ICMP.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Choose TCP, UDP or ICMP.")]
pub struct ProtocolError;

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }

    /// Parses a protocol name, ignoring case.
    pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
        let wanted = raw.trim();
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(wanted))
            .ok_or(ProtocolError)
    }

    /// Whether rules for this protocol have ports.
    pub fn has_ports(self) -> bool {
        self != Protocol::Icmp
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive range of ports, 1–65535, first ≤ last. A single port is a range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawPortRange")]
pub struct PortRange {
    start: u16,
    end: u16,
}

/// The serialized shape of [`PortRange`], checked on the way in.
#[derive(Deserialize)]
struct RawPortRange {
    start: u16,
    end: u16,
}

impl TryFrom<RawPortRange> for PortRange {
    type Error = PortError;
    fn try_from(raw: RawPortRange) -> Result<Self, Self::Error> {
        Self::new(raw.start, raw.end)
    }
}

/// Why a port or port range was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PortError {
    /// Nothing was typed where a port is needed.
    #[error("Enter a port, for example 443.")]
    Empty,
    /// Not a number from 1 to 65535.
    #[error("Enter a port number from 1 to 65535.")]
    OutOfRange,
    /// The last port is lower than the first.
    #[error("The last port must not be lower than the first.")]
    Reversed,
    /// Ports were given for ICMP.
    #[error("ICMP has no ports; leave the ports empty.")]
    NotForIcmp,
}

impl PortRange {
    /// A range from `start` to `end`, both included.
    pub fn new(start: u16, end: u16) -> Result<Self, PortError> {
        if start == 0 || end == 0 {
            Err(PortError::OutOfRange)
        } else if start > end {
            Err(PortError::Reversed)
        } else {
            Ok(Self { start, end })
        }
    }

    /// A single port.
    pub fn single(port: u16) -> Result<Self, PortError> {
        Self::new(port, port)
    }

    /// The first port.
    pub fn start(self) -> u16 {
        self.start
    }

    /// The last port (equal to the first for a single port).
    pub fn end(self) -> u16 {
        self.end
    }

    /// Whether `port` is in the range.
    pub fn contains(self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Reads one port typed into a form.
fn parse_port(raw: &str) -> Result<u16, PortError> {
    if raw.trim().is_empty() {
        return Err(PortError::Empty);
    }
    let port = parse_whole(raw).ok_or(PortError::OutOfRange)?;
    match u16::try_from(port) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(PortError::OutOfRange),
    }
}

/// Where traffic may come from: any IPv4 CIDR, including `0.0.0.0/0` for the whole internet.
///
/// Unlike the private ranges of IPAM this accepts any address, but still insists that the host bits
/// are zero: `203.0.113.5/24` is almost always a typo for `203.0.113.0/24` or `203.0.113.5/32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceCidr {
    network: Ipv4Addr,
    prefix: u8,
}

/// Why a source CIDR was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SourceCidrError {
    /// Nothing was typed.
    #[error("Enter a source such as 203.0.113.0/24, or 0.0.0.0/0 for anywhere.")]
    Empty,
    /// Not an IPv4 address with an optional `/prefix`.
    #[error("Enter an IPv4 address or range such as 203.0.113.0/24.")]
    Malformed,
    /// The prefix is above 32.
    #[error("The prefix length after / must be from 0 to 32.")]
    BadPrefix,
    /// Bits are set below the prefix.
    #[error("{given} has host bits set; did you mean {suggestion}?")]
    HostBits {
        /// What was typed.
        given: String,
        /// The network it lies in.
        suggestion: String,
    },
}

impl SourceCidr {
    /// The whole IPv4 internet.
    pub const ANYWHERE: SourceCidr = SourceCidr {
        network: Ipv4Addr::UNSPECIFIED,
        prefix: 0,
    };

    /// Parses `a.b.c.d/n`; a bare address means that one host (`/32`).
    pub fn parse(raw: &str) -> Result<Self, SourceCidrError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(SourceCidrError::Empty);
        }
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => {
                let prefix = parse_whole(prefix).ok_or(SourceCidrError::Malformed)?;
                (addr, u8::try_from(prefix).unwrap_or(u8::MAX))
            }
            None => (text, 32),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| SourceCidrError::Malformed)?;
        if prefix > 32 {
            return Err(SourceCidrError::BadPrefix);
        }
        let network = Ipv4Addr::from(u32::from(addr) & Self::mask(prefix));
        if network != addr {
            return Err(SourceCidrError::HostBits {
                given: text.to_owned(),
                suggestion: format!("{network}/{prefix}"),
            });
        }
        Ok(Self { network, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
    }

    /// The network address.
    pub fn network(self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length, 0–32.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// Whether `addr` lies in the range.
    pub fn contains(self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & Self::mask(self.prefix) == u32::from(self.network)
    }
}

impl fmt::Display for SourceCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl TryFrom<String> for SourceCidr {
    type Error = SourceCidrError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SourceCidr> for String {
    fn from(cidr: SourceCidr) -> Self {
        cidr.to_string()
    }
}

/// One inbound firewall rule: traffic of `protocol` to `ports` from `source` is let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FirewallRule {
    /// The protocol matched.
    pub protocol: Protocol,
    /// The destination ports; always `Some` for TCP and UDP, always `None` for ICMP.
    pub ports: Option<PortRange>,
    /// Where the traffic may come from.
    pub source: SourceCidr,
}

impl FirewallRule {
    /// Validates the firewall-rule form. Field names: `protocol`, `port_from`, `port_to`, `source`.
    /// An empty `port_to` means the single port `port_from`; ICMP takes no ports at all.
    pub fn parse(protocol: &str, port_from: &str, port_to: &str, source: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let protocol = errors.check("protocol", Protocol::parse(protocol));
        let ports = match protocol {
            Some(Protocol::Icmp) => {
                if !port_from.trim().is_empty() {
                    errors.push("port_from", PortError::NotForIcmp.to_string());
                }
                if !port_to.trim().is_empty() {
                    errors.push("port_to", PortError::NotForIcmp.to_string());
                }
                Some(None)
            }
            Some(Protocol::Tcp | Protocol::Udp) => {
                let start = errors.check("port_from", parse_port(port_from));
                let end = if port_to.trim().is_empty() {
                    start
                } else {
                    errors.check("port_to", parse_port(port_to))
                };
                match (start, end) {
                    (Some(start), Some(end)) => errors.check("port_to", PortRange::new(start, end)).map(Some),
                    _ => None,
                }
            }
            // Without a protocol there is no telling whether ports belong; report the protocol only.
            None => None,
        };
        let source = errors.check("source", SourceCidr::parse(source));
        match (protocol, ports, source) {
            (Some(protocol), Some(ports), Some(source)) if errors.is_empty() => Ok(Self {
                protocol,
                ports,
                source,
            }),
            _ => Err(errors),
        }
    }

    /// Whether the rule lets in a packet of `protocol` to `port` from `from`.
    pub fn allows(&self, protocol: Protocol, port: Option<u16>, from: Ipv4Addr) -> bool {
        let port_ok = match (self.ports, port) {
            (None, _) => true,
            (Some(range), Some(port)) => range.contains(port),
            (Some(_), None) => false,
        };
        self.protocol == protocol && port_ok && self.source.contains(from)
    }
}

// ---------------------------------------------------------------------------------------------
// Quotas
// ---------------------------------------------------------------------------------------------

/// A tenant's limits. Checked inside the same transaction that records the new resources, so two
/// concurrent requests cannot both squeeze under the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// VMs that are not destroyed.
    pub max_vms: u32,
    /// vCPUs across those VMs.
    pub max_vcpus: u32,
    /// Memory across those VMs, in MiB.
    pub max_memory_mib: u64,
    /// Public IPv4 addresses (internet breakout).
    pub max_public_ips: u32,
}

impl Default for Quota {
    /// A new tenant's quota: room for a small production setup (two `l` VMs and a few small ones).
    fn default() -> Self {
        Self {
            max_vms: 20,
            max_vcpus: 32,
            max_memory_mib: 128 * 1024,
            max_public_ips: 5,
        }
    }
}

/// What a tenant uses, or what a request would add; the same shape so the two can be summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUsage {
    /// VMs.
    pub vms: u32,
    /// vCPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Public IPv4 addresses.
    pub public_ips: u32,
}

impl QuotaUsage {
    /// What one VM of `size` uses, with a public IPv4 address if it has internet breakout.
    pub fn for_vm(size: &VmSize, public_ip: bool) -> Self {
        Self {
            vms: 1,
            vcpus: size.vcpus.get(),
            memory_mib: u64::from(size.memory_mib.get()),
            public_ips: u32::from(public_ip),
        }
    }

    /// The sum of two usages, saturating (a saturated sum is over any quota anyway).
    pub fn plus(&self, other: &QuotaUsage) -> QuotaUsage {
        QuotaUsage {
            vms: self.vms.saturating_add(other.vms),
            vcpus: self.vcpus.saturating_add(other.vcpus),
            memory_mib: self.memory_mib.saturating_add(other.memory_mib),
            public_ips: self.public_ips.saturating_add(other.public_ips),
        }
    }
}

/// Which limit of a [`Quota`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaResource {
    /// [`Quota::max_vms`].
    Vms,
    /// [`Quota::max_vcpus`].
    Vcpus,
    /// [`Quota::max_memory_mib`].
    MemoryMib,
    /// [`Quota::max_public_ips`].
    PublicIps,
}

/// A request that would go over a limit. Its `Display` says by how much and what to do about it.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq, Serialize, Deserialize)]
#[error("{}", self.message())]
pub struct QuotaExceeded {
    /// The limit that would be exceeded.
    pub resource: QuotaResource,
    /// Usage after the request.
    pub would_use: u64,
    /// The limit.
    pub limit: u64,
}

impl QuotaExceeded {
    fn message(&self) -> String {
        let amount = |n: u64| match self.resource {
            QuotaResource::Vms if n == 1 => "1 VM".to_owned(),
            QuotaResource::Vms => format!("{n} VMs"),
            QuotaResource::Vcpus if n == 1 => "1 vCPU".to_owned(),
            QuotaResource::Vcpus => format!("{n} vCPUs"),
            QuotaResource::MemoryMib => format!("{} of memory", mib_text(n)),
            QuotaResource::PublicIps if n == 1 => "1 public IPv4 address".to_owned(),
            QuotaResource::PublicIps => format!("{n} public IPv4 addresses"),
        };
        let limit = match self.resource {
            QuotaResource::MemoryMib => mib_text(self.limit),
            _ => self.limit.to_string(),
        };
        format!(
            "This would use {}; your quota is {limit}. An owner can ask support to raise it.",
            amount(self.would_use)
        )
    }
}

impl Quota {
    /// Checks that `usage` plus `request` stays within every limit; the first limit crossed (in the
    /// order VMs, vCPUs, memory, public IPs) is reported. A limit the request adds nothing to is not
    /// checked, so a tenant over one limit (after it was lowered) can still create what does not
    /// need it.
    pub fn check(&self, usage: &QuotaUsage, request: &QuotaUsage) -> Result<(), QuotaExceeded> {
        let after = usage.plus(request);
        let checks = [
            (
                QuotaResource::Vms,
                u64::from(request.vms),
                u64::from(after.vms),
                u64::from(self.max_vms),
            ),
            (
                QuotaResource::Vcpus,
                u64::from(request.vcpus),
                u64::from(after.vcpus),
                u64::from(self.max_vcpus),
            ),
            (
                QuotaResource::MemoryMib,
                request.memory_mib,
                after.memory_mib,
                self.max_memory_mib,
            ),
            (
                QuotaResource::PublicIps,
                u64::from(request.public_ips),
                u64::from(after.public_ips),
                u64::from(self.max_public_ips),
            ),
        ];
        for (resource, requested, would_use, limit) in checks {
            if requested > 0 && would_use > limit {
                return Err(QuotaExceeded {
                    resource,
                    would_use,
                    limit,
                });
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Creating a VM
// ---------------------------------------------------------------------------------------------

/// The VM create form exactly as a browser sends it: every field text, missing fields empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmCreateForm {
    /// The VM's name.
    pub name: String,
    /// A zone id such as `lon1`.
    pub zone: String,
    /// A built-in template slug or a template id.
    pub template: String,
    /// A size code (`m`) or name (`Kestrel`).
    pub size: String,
    /// Checkbox: give the VM a public IPv4 address (internet breakout). `on`/`true`/`1` or empty.
    pub breakout: String,
    /// SSH key ids, one per entry (one per ticked checkbox); blank entries are ignored.
    pub ssh_key_ids: Vec<String>,
    /// Optional cloud-config.
    pub user_data: String,
    /// Optional anti-affinity group name; the group is created on first use.
    pub anti_affinity_group: String,
    /// Checkbox: place the VM on a host that runs no other tenant's VMs.
    pub dedicated: String,
}

/// A validated request to create a VM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmCreate {
    /// The VM's name, also its hostname.
    pub name: Name,
    /// Where it runs.
    pub zone: ZoneId,
    /// What it boots. Built-in templates are known here; a tenant template id must still be looked
    /// up by the control plane.
    pub template: TemplateId,
    /// Its shape.
    pub size: VmSize,
    /// Whether it gets a public IPv4 address.
    pub breakout: bool,
    /// Keys installed for the template's default user, without duplicates, in the order given.
    pub ssh_key_ids: Vec<SshKeyId>,
    /// Cloud-config for first boot (in addition to a tenant template's own).
    pub user_data: Option<UserData>,
    /// The anti-affinity group to join, by name.
    pub anti_affinity_group: Option<Name>,
    /// Whether it needs a host of its own tenant only.
    pub dedicated: bool,
}

/// A checkbox value that is neither ticked nor unticked.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Tick the box or leave it empty.")]
pub struct CheckboxError;

/// Reads a checkbox: browsers send `on` when ticked and nothing when not; APIs may send `true`/`false`.
fn parse_checkbox(raw: &str) -> Result<bool, CheckboxError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "off" | "false" | "0" | "no" => Ok(false),
        "on" | "true" | "1" | "yes" => Ok(true),
        _ => Err(CheckboxError),
    }
}

/// An SSH key id that does not parse.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Choose SSH keys from the list.")]
pub struct SshKeyChoiceError;

fn parse_ssh_key_ids(raw: &[String]) -> Result<Vec<SshKeyId>, SshKeyChoiceError> {
    let mut ids = Vec::new();
    for entry in raw
        .iter()
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
    {
        let id: SshKeyId = entry.parse().map_err(|_| SshKeyChoiceError)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// An empty field is `None`; anything else must parse.
fn optional<T, E>(raw: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

/// A zone field: empty gets "choose" rather than "there is no zone \"\"".
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ZoneChoiceError {
    /// Nothing was chosen.
    #[error("Choose a zone.")]
    Empty,
    /// Not a zone of the catalogue.
    #[error(transparent)]
    Unknown(#[from] crate::zone::UnknownZone),
}

fn parse_zone_choice(raw: &str) -> Result<ZoneId, ZoneChoiceError> {
    if raw.trim().is_empty() {
        Err(ZoneChoiceError::Empty)
    } else {
        Ok(ZoneId::parse(raw)?)
    }
}

impl VmCreate {
    /// Validates every field of the form at once so all problems show together. The keys of the
    /// returned [`FieldErrors`] are the [`VmCreateForm`] field names; a template whose image does not
    /// fit the size's disk is reported on `size`.
    pub fn parse(raw: &VmCreateForm) -> Result<VmCreate, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", Name::parse(&raw.name));
        let zone = errors.check("zone", parse_zone_choice(&raw.zone));
        let template = errors.check("template", parse_template_choice(&raw.template));
        let size = errors.check("size", VmSize::named(&raw.size));
        let breakout = errors.check("breakout", parse_checkbox(&raw.breakout));
        let ssh_key_ids = errors.check("ssh_key_ids", parse_ssh_key_ids(&raw.ssh_key_ids));
        let user_data = errors.check("user_data", optional(&raw.user_data, UserData::parse));
        let anti_affinity_group = errors.check(
            "anti_affinity_group",
            optional(&raw.anti_affinity_group, Name::parse),
        );
        let dedicated = errors.check("dedicated", parse_checkbox(&raw.dedicated));
        if let (Some(template), Some(size)) = (template, size)
            && let Some(builtin) = BuiltinTemplate::find(template)
        {
            errors.check("size", builtin.check_disk(size.disk_gib));
        }
        match (
            name,
            zone,
            template,
            size,
            breakout,
            ssh_key_ids,
            user_data,
            anti_affinity_group,
            dedicated,
        ) {
            (
                Some(name),
                Some(zone),
                Some(template),
                Some(size),
                Some(breakout),
                Some(ssh_key_ids),
                Some(user_data),
                Some(anti_affinity_group),
                Some(dedicated),
            ) if errors.is_empty() => Ok(VmCreate {
                name,
                zone,
                template,
                size,
                breakout,
                ssh_key_ids,
                user_data,
                anti_affinity_group,
                dedicated,
            }),
            _ => Err(errors),
        }
    }

    /// What the new VM adds to the tenant's usage, for [`Quota::check`].
    pub fn quota_request(&self) -> QuotaUsage {
        QuotaUsage::for_vm(&self.size, self.breakout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // --- names ---------------------------------------------------------------------------------

    #[test]
    fn names_are_dns_labels() {
        for good in ["a", "web-1", "db", "a1b2-c3", &"x".repeat(63)] {
            assert_eq!(Name::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(Name::parse("  web-1 ").unwrap().as_str(), "web-1");
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse("   "), Err(NameError::Empty));
        assert_eq!(Name::parse(&"x".repeat(64)), Err(NameError::TooLong));
        for bad in ["Web-1", "web_1", "web.1", "wéb", "web 1", "web/1"] {
            assert_eq!(Name::parse(bad), Err(NameError::BadCharacter), "{bad}");
        }
        assert_eq!(Name::parse("1web"), Err(NameError::BadStart));
        assert_eq!(Name::parse("-web"), Err(NameError::BadStart));
        assert_eq!(Name::parse("web-"), Err(NameError::EndsWithHyphen));
        // Names of VDCs, VMs, templates, stacks, API keys and SSH keys: ASCII only, so nothing
        // invisible or direction-changing gets in.
        for hidden in [
            "web\u{202E}1",
            "web\u{200B}1",
            "web\u{2066}",
            "\u{FEFF}web",
            "web\u{85}1",
        ] {
            assert_eq!(Name::parse(hidden), Err(NameError::BadCharacter), "{hidden:?}");
        }
        assert!(
            NameError::BadCharacter
                .to_string()
                .contains("lowercase letters, digits and hyphens")
        );
    }

    #[test]
    fn names_are_checked_when_deserialized() {
        let name: Name = serde_json::from_str("\"web-1\"").unwrap();
        assert_eq!(name.as_str(), "web-1");
        assert!(serde_json::from_str::<Name>("\"Web 1\"").is_err());
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"web-1\"");
    }

    // --- sizes ---------------------------------------------------------------------------------

    #[test]
    fn vcpus_memory_and_disk_bounds() {
        assert_eq!(Vcpus::parse(" 4 ").unwrap().get(), 4);
        assert!(Vcpus::new(1).is_ok() && Vcpus::new(64).is_ok());
        assert_eq!(Vcpus::new(0), Err(VcpusError::OutOfRange));
        assert_eq!(Vcpus::new(65), Err(VcpusError::OutOfRange));
        assert_eq!(Vcpus::parse("99999999999"), Err(VcpusError::OutOfRange));
        assert_eq!(Vcpus::parse("two"), Err(VcpusError::NotANumber));
        assert_eq!(Vcpus::parse("-1"), Err(VcpusError::NotANumber));
        assert_eq!(Vcpus::parse("1.5"), Err(VcpusError::NotANumber));

        assert!(MemoryMib::new(512).is_ok() && MemoryMib::new(262_144).is_ok());
        assert_eq!(MemoryMib::new(256), Err(MemoryMibError::OutOfRange));
        assert_eq!(MemoryMib::new(262_400), Err(MemoryMibError::OutOfRange));
        assert_eq!(MemoryMib::new(1000), Err(MemoryMibError::NotMultiple));
        assert_eq!(MemoryMib::parse("1536").unwrap().to_string(), "1536 MiB");
        assert_eq!(MemoryMib::parse("4096").unwrap().to_string(), "4 GiB");
        assert_eq!(MemoryMib::parse("4 GiB"), Err(MemoryMibError::NotANumber));

        assert!(DiskGib::new(10).is_ok() && DiskGib::new(4096).is_ok());
        assert_eq!(DiskGib::new(9), Err(DiskGibError::OutOfRange));
        assert_eq!(DiskGib::new(4097), Err(DiskGibError::OutOfRange));
        assert_eq!(DiskGib::parse(""), Err(DiskGibError::NotANumber));
        assert!(serde_json::from_str::<Vcpus>("0").is_err());
        assert!(serde_json::from_str::<MemoryMib>("1000").is_err());
    }

    #[test]
    fn the_size_catalogue_is_valid_and_ordered() {
        for entry in &SIZES {
            // The const constructor skips the checks; the public constructors must agree.
            let size = entry.size;
            assert_eq!(Vcpus::new(size.vcpus.get()), Ok(size.vcpus));
            assert_eq!(MemoryMib::new(size.memory_mib.get()), Ok(size.memory_mib));
            assert_eq!(DiskGib::new(size.disk_gib.get()), Ok(size.disk_gib));
            assert_eq!(VmSize::named(entry.code), Ok(size));
            assert_eq!(VmSize::named(&entry.name.to_uppercase()), Ok(size));
            assert_eq!(size.catalogue_entry(), Some(entry));
        }
        assert!(SIZES.windows(2).all(|pair| pair[0].size < pair[1].size));
        let xs = VmSize::named("xs").unwrap();
        assert_eq!(xs.to_string(), "1 vCPU, 1 GiB memory, 20 GiB disk");
        let xl = VmSize::named("xl").unwrap();
        assert_eq!(
            (xl.vcpus.get(), xl.memory_mib.get(), xl.disk_gib.get()),
            (16, 65_536, 400)
        );
        assert_eq!(VmSize::named(""), Err(SizeError::Empty));
        assert_eq!(VmSize::named("xxl"), Err(SizeError::Unknown("xxl".into())));
    }

    #[test]
    fn resizing_never_shrinks_the_disk() {
        let m = VmSize::named("m").unwrap();
        let l = VmSize::named("l").unwrap();
        assert_eq!(m.check_resize(&l), Ok(()));
        assert_eq!(m.check_resize(&m), Err(ResizeError::Unchanged));
        let err = l.check_resize(&m).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Disks cannot shrink; choose a size with at least 200 GiB of disk."
        );
        // Fewer vCPUs with the same disk is fine.
        let smaller = VmSize::new(Vcpus::new(2).unwrap(), m.memory_mib, m.disk_gib);
        assert_eq!(m.check_resize(&smaller), Ok(()));
    }

    // --- state machine -------------------------------------------------------------------------

    const LEGAL: [(VmState, VmState); 11] = {
        use VmState::*;
        [
            (Pending, Provisioning),
            (Pending, Failed),
            (Provisioning, Running),
            (Provisioning, Failed),
            (Running, Stopped),
            (Stopped, Running),
            (Running, Destroying),
            (Stopped, Destroying),
            (Failed, Destroying),
            (Destroying, Destroyed),
            (Destroying, Failed),
        ]
    };

    #[test]
    fn only_the_documented_transitions_are_legal() {
        for from in VmState::ALL {
            for to in VmState::ALL {
                let legal = LEGAL.contains(&(from, to));
                assert_eq!(from.can_transition(to), legal, "{from} -> {to}");
                match from.transition(to) {
                    Ok(next) => {
                        assert!(legal, "{from} -> {to} must be refused");
                        assert_eq!(next, to);
                    }
                    Err(err) => {
                        assert!(!legal, "{from} -> {to} must be allowed");
                        assert_eq!(err, IllegalTransition { from, to });
                    }
                }
            }
        }
    }

    #[test]
    fn reboot_is_not_a_transition_and_destroyed_is_final() {
        assert!(VmState::Running.transition(VmState::Running).is_err());
        assert_eq!(
            VmState::Destroyed
                .transition(VmState::Running)
                .unwrap_err()
                .to_string(),
            "A VM cannot go from destroyed to running."
        );
        assert!(
            VmState::ALL
                .iter()
                .all(|&to| !VmState::Destroyed.can_transition(to))
        );
        assert!(VmState::Destroyed.is_final());
        assert!(VmState::Provisioning.is_in_progress() && !VmState::Running.is_in_progress());
    }

    #[test]
    fn a_typical_life_walks_through_the_machine() {
        let mut state = VmState::Pending;
        for next in [
            VmState::Provisioning,
            VmState::Running,
            VmState::Stopped,
            VmState::Running,
            VmState::Destroying,
            VmState::Destroyed,
        ] {
            state = state.transition(next).unwrap();
        }
        assert_eq!(state, VmState::Destroyed);
    }

    #[test]
    fn states_round_trip_through_text() {
        for state in VmState::ALL {
            assert_eq!(VmState::parse(state.as_str()), Ok(state));
            assert_eq!(serde_json::to_string(&state).unwrap(), format!("\"{state}\""));
        }
        assert!(VmState::parse("stopping").is_err());
    }

    #[test]
    fn actions_agree_with_the_state_machine() {
        for action in VmAction::ALL {
            for state in VmState::ALL {
                let allowed = action.allowed_in(state);
                if let (Ok(()), Some(target)) = (&allowed, action.target_state()) {
                    assert!(state.can_transition(target), "{action} in {state}");
                }
                if let Err(reason) = &allowed {
                    assert!(reason.ends_with('.') && !reason.is_empty(), "{action} in {state}");
                }
            }
        }
        let allowed: Vec<(VmAction, VmState)> = VmAction::ALL
            .into_iter()
            .flat_map(|a| VmState::ALL.into_iter().map(move |s| (a, s)))
            .filter(|(a, s)| a.allowed_in(*s).is_ok())
            .collect();
        assert_eq!(
            allowed,
            vec![
                (VmAction::Start, VmState::Stopped),
                (VmAction::Stop, VmState::Running),
                (VmAction::Reboot, VmState::Running),
                (VmAction::Resize, VmState::Stopped),
                (VmAction::Destroy, VmState::Running),
                (VmAction::Destroy, VmState::Stopped),
                (VmAction::Destroy, VmState::Failed),
                (VmAction::OpenBreakout, VmState::Running),
                (VmAction::OpenBreakout, VmState::Stopped),
                (VmAction::CloseBreakout, VmState::Running),
                (VmAction::CloseBreakout, VmState::Stopped),
            ]
        );
        assert!(
            VmAction::OpenBreakout
                .allowed_for(VmState::Running, false)
                .is_ok()
        );
        assert!(
            VmAction::OpenBreakout
                .allowed_for(VmState::Running, true)
                .is_err()
        );
        assert!(
            VmAction::CloseBreakout
                .allowed_for(VmState::Stopped, true)
                .is_ok()
        );
        assert!(
            VmAction::CloseBreakout
                .allowed_for(VmState::Stopped, false)
                .is_err()
        );
        assert!(
            VmAction::CloseBreakout
                .allowed_for(VmState::Destroying, true)
                .is_err()
        );
        assert!(VmAction::Stop.allowed_for(VmState::Running, false).is_ok());
    }

    #[test]
    fn disabled_buttons_say_why() {
        let reason = |a: VmAction, s: VmState| a.allowed_in(s).unwrap_err();
        assert_eq!(
            reason(VmAction::Resize, VmState::Running),
            "Stop the VM before resizing it."
        );
        assert_eq!(
            reason(VmAction::Start, VmState::Running),
            "The VM is already running."
        );
        assert_eq!(
            reason(VmAction::Stop, VmState::Stopped),
            "The VM is already stopped."
        );
        assert_eq!(
            reason(VmAction::Reboot, VmState::Stopped),
            "The VM is stopped; start it instead."
        );
        assert_eq!(
            reason(VmAction::Destroy, VmState::Provisioning),
            "Wait until the VM has finished provisioning."
        );
        assert_eq!(
            reason(VmAction::Destroy, VmState::Destroying),
            "The VM is already being destroyed."
        );
        assert_eq!(
            reason(VmAction::Start, VmState::Destroyed),
            "The VM has been destroyed."
        );
        assert!(reason(VmAction::Start, VmState::Failed).contains("destroy it"));
    }

    // --- templates and user data ---------------------------------------------------------------

    #[test]
    fn builtin_templates_have_unique_fixed_ids_and_slugs() {
        for (i, template) in BUILTIN_TEMPLATES.iter().enumerate() {
            assert_eq!(BuiltinTemplate::find(template.id), Some(template));
            assert_eq!(BuiltinTemplate::by_slug(template.slug), Some(template));
            assert_eq!(parse_template_choice(template.slug), Ok(template.id));
            assert_eq!(parse_template_choice(&template.id.to_string()), Ok(template.id));
            assert!(
                BUILTIN_TEMPLATES[i + 1..]
                    .iter()
                    .all(|t| t.id != template.id && t.slug != template.slug)
            );
            // Every catalogue size fits every built-in image.
            assert!(SIZES.iter().all(|s| template.check_disk(s.size.disk_gib).is_ok()));
        }
        assert_eq!(
            BUILTIN_TEMPLATES[1].id.to_string(),
            "6d657269-6469-616e-0000-000000000002"
        );
        assert_eq!(parse_template_choice(" "), Err(TemplateChoiceError::Empty));
        assert!(parse_template_choice("windows-2022").is_err());
        // A tenant template id is accepted here and looked up by the control plane.
        let tenant_template = "0b7e8f1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b";
        assert!(parse_template_choice(tenant_template).is_ok());
    }

    #[test]
    fn a_small_disk_is_refused_for_a_big_image() {
        let big = BuiltinTemplate {
            min_disk_gib: DiskGib::new(50).unwrap(),
            ..BUILTIN_TEMPLATES[0]
        };
        let err = big.check_disk(DiskGib::new(20).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Flatcar Container Linux (CoreOS) with Docker needs at least 50 GiB of disk; \
             choose a larger size."
        );
        assert!(big.check_disk(DiskGib::new(50).unwrap()).is_ok());
    }

    #[test]
    fn user_data_is_checked_lightly() {
        let good = "#cloud-config\npackages:\n  - nginx\nruncmd:\n  - [systemctl, enable, --now, nginx]\n";
        assert_eq!(UserData::parse(good).unwrap().as_str(), good.trim());
        assert!(UserData::parse("\n  #cloud-config\r\nusers: []\r\n").is_ok());
        assert!(UserData::parse("#cloud-config").is_ok());
        assert_eq!(UserData::parse(""), Err(UserDataError::MissingHeader));
        assert_eq!(
            UserData::parse("#!/bin/sh\necho hi"),
            Err(UserDataError::MissingHeader)
        );
        assert_eq!(
            UserData::parse("#cloud-configx\n"),
            Err(UserDataError::MissingHeader)
        );
        assert_eq!(
            UserData::parse("#cloud-config\npackages:\n\t- nginx\n"),
            Err(UserDataError::TabIndent { line: 3 })
        );
        assert_eq!(
            UserData::parse("#cloud-config\npackages:\n  \t- nginx\n")
                .unwrap_err()
                .to_string(),
            "Line 3 is indented with a tab; YAML needs spaces."
        );
        // A tab inside a value is legal YAML.
        assert!(UserData::parse("#cloud-config\nwrite_files:\n  - content: \"a\tb\"\n").is_ok());
        assert_eq!(
            UserData::parse("#cloud-config\nx: \u{1b}[31m\n"),
            Err(UserDataError::ControlCharacter { line: 2 })
        );
        let big = format!("#cloud-config\n# {}\n", "x".repeat(USER_DATA_MAX_BYTES));
        assert_eq!(UserData::parse(&big), Err(UserDataError::TooLarge));
    }

    #[test]
    fn tenant_templates_take_a_builtin_base() {
        let ok = TemplateCreate::parse("web", "ubuntu-24-04", "#cloud-config\npackages: [nginx]").unwrap();
        assert_eq!(ok.base.slug, "ubuntu-24-04");
        let errors =
            TemplateCreate::parse("Web", "0b7e8f1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b", "echo hi").unwrap_err();
        assert!(errors.get("name").is_some());
        assert!(errors.get("base").is_some());
        assert_eq!(
            errors.get("user_data"),
            Some("Start user data with the line #cloud-config.")
        );
        let template = TenantTemplate {
            id: TemplateId(Uuid::from_u128(7)),
            tenant_id: TenantId(Uuid::from_u128(8)),
            name: ok.name,
            base: ok.base.id,
            user_data: ok.user_data,
        };
        assert_eq!(template.base_template().map(|t| t.default_user), Some("ubuntu"));
    }

    // --- SSH keys ------------------------------------------------------------------------------

    fn wire_string(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
        out.extend_from_slice(bytes);
    }

    fn ed25519_line(comment: &str) -> String {
        let mut blob = Vec::new();
        wire_string(&mut blob, b"ssh-ed25519");
        wire_string(&mut blob, &[7u8; 32]);
        format!("ssh-ed25519 {} {comment}", STANDARD.encode(&blob))
    }

    fn rsa_line(modulus_bytes: usize) -> String {
        let mut blob = Vec::new();
        wire_string(&mut blob, b"ssh-rsa");
        wire_string(&mut blob, &[0x01, 0x00, 0x01]);
        // A positive mpint whose top bit is set needs a leading zero byte.
        let mut modulus = vec![0x00, 0xc5];
        modulus.extend(std::iter::repeat_n(0x5a, modulus_bytes - 1));
        wire_string(&mut blob, &modulus);
        format!("ssh-rsa {} rsa@example", STANDARD.encode(&blob))
    }

    #[test]
    fn constructed_ed25519_and_rsa_keys_parse() {
        let key = SshPublicKey::parse(&ed25519_line("ada@laptop")).unwrap();
        assert_eq!(key.key_type(), SshKeyType::Ed25519);
        assert_eq!(key.comment(), Some("ada@laptop"));
        assert!(key.fingerprint().starts_with("SHA256:"));
        assert_eq!(key.fingerprint().len(), "SHA256:".len() + 43);
        assert_eq!(key.to_openssh(), ed25519_line("ada@laptop"));
        // The comment may contain spaces; extra whitespace between fields is tolerated.
        let spaced = ed25519_line("Ada Lovelace's laptop").replacen(' ', "   ", 1);
        assert_eq!(
            SshPublicKey::parse(&spaced).unwrap().comment(),
            Some("Ada Lovelace's laptop")
        );
        let no_comment = ed25519_line("");
        assert_eq!(SshPublicKey::parse(&no_comment).unwrap().comment(), None);
        // The comment is shown as the key's label: nothing in it may hide or reverse text.
        for hidden in ["ada\u{202E}pot", "ada\u{200B}", "\u{2066}ada", "ada\u{FEFF}"] {
            assert_eq!(
                SshPublicKey::parse(&ed25519_line(hidden)),
                Err(SshKeyError::Malformed),
                "{hidden:?}"
            );
        }

        let rsa = SshPublicKey::parse(&rsa_line(256)).unwrap();
        assert_eq!(rsa.key_type(), SshKeyType::Rsa);
        assert_eq!(
            SshPublicKey::parse(&rsa_line(128)),
            Err(SshKeyError::RsaTooSmall { bits: 1024 })
        );
    }

    #[test]
    fn fingerprints_match_ssh_keygen() {
        // Keys made with ssh-keygen; the fingerprints are what `ssh-keygen -lf` printed for them.
        let cases = [
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINm8o/SzVuSceOe2PFIz\
                 yYA2EpkAotfu/P0twhk/UVpA ada@example",
                "SHA256:wlY1NNTci5w1wHCspfqyw1TiD3X6NNTLZR2nS/V+ex0",
            ),
            (
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDBuWSlcPo+aniaUtkgBap9iWg/UHXa1tTnnhyZwJLb\
                 yGRK3FSSOCOV7XPs69jpc/mpDKokEghJ0IzNuBC02RzVVxraiFUCQgHw8falvmT8OkZb1/YeDQuuGlsF\
                 /gHs/qLEbNnP+y5zRBR9grLHN3pldAOU9ICZK8c2edHuM4duP1JOO83Vht2ulpiop3aFzqB6CsJnmscz\
                 /6z+q5NZrN4LUPsSrsADr4ex1vPGY4IDH9XlJazwMIAD+Af9MXPZrOM2XVGNTDNjAnhtiz4fjvGwRj+p\
                 xR4BY1IN3DzdDWcSob43tdmODE7X4yl+0OV7G9Y62uA5NXoYXIblbUqM6qrX rsa@example",
                "SHA256:BJAgjRACz8fxFhPRigxxNMcpvK2bAEdqrCKbOSemujI",
            ),
            (
                "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCVYCRTj\
                 zegD30PlKvUi543+UZAaM0p/Q8lDlHR8c0ZR5JP9rAuDPmmY3Y0EQOC81hIn5r2xztYBYTJ+yb9g+/k=",
                "SHA256:V2FdA1aaTNEgRdvfzDQ5vQromTjzlOMww0LA5q8jifM",
            ),
        ];
        for (line, fingerprint) in cases {
            let key = SshPublicKey::parse(line).unwrap();
            assert_eq!(key.fingerprint(), fingerprint);
            assert_eq!(key.to_openssh(), line);
        }
    }

    #[test]
    fn paste_mistakes_are_named() {
        let good = ed25519_line("ada@laptop");
        let data = good.split(' ').nth(1).unwrap();
        assert_eq!(SshPublicKey::parse("  "), Err(SshKeyError::Empty));
        assert_eq!(
            SshPublicKey::parse("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"),
            Err(SshKeyError::PrivateKey)
        );
        assert_eq!(
            SshPublicKey::parse("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----"),
            Err(SshKeyError::Ssh2Format)
        );
        assert_eq!(
            SshPublicKey::parse(&format!("{good}\n{good}")),
            Err(SshKeyError::MultipleLines)
        );
        assert_eq!(SshPublicKey::parse(data), Err(SshKeyError::Malformed));
        assert_eq!(
            SshPublicKey::parse(&format!("ssh-dss {data}")),
            Err(SshKeyError::UnsupportedType("ssh-dss".into()))
        );
        // Declared as RSA, but the blob says ed25519.
        assert_eq!(
            SshPublicKey::parse(&format!("ssh-rsa {data}")),
            Err(SshKeyError::TypeMismatch {
                declared: SshKeyType::Rsa
            })
        );
        // One character changed in the middle: still base64, but the type string is damaged.
        let corrupted = good.replacen("AAAAC3", "AAAAC4", 1);
        assert_eq!(
            SshPublicKey::parse(&corrupted),
            Err(SshKeyError::TypeMismatch {
                declared: SshKeyType::Ed25519
            })
        );
        // Cut short by a few characters (a truncated copy): the padding no longer lines up.
        assert_eq!(
            SshPublicKey::parse(&good[..good.len() - 20]),
            Err(SshKeyError::BadBase64)
        );
        // Cut short on a 4-character boundary: valid base64, but the key bytes are missing.
        let mut blob = STANDARD.decode(data).unwrap();
        blob.truncate(blob.len() - 3);
        let short = format!("ssh-ed25519 {}", STANDARD.encode(&blob));
        assert_eq!(SshPublicKey::parse(&short), Err(SshKeyError::Corrupt));
        // Extra bytes after the key.
        let mut long_blob = STANDARD.decode(data).unwrap();
        long_blob.extend_from_slice(&[0, 0, 0, 0]);
        let long = format!("ssh-ed25519 {}", STANDARD.encode(&long_blob));
        assert_eq!(SshPublicKey::parse(&long), Err(SshKeyError::Corrupt));
        assert_eq!(
            SshPublicKey::parse("ssh-ed25519 not*base64"),
            Err(SshKeyError::BadBase64)
        );
        let huge = format!("ssh-ed25519 {}", "A".repeat(SSH_KEY_MAX_BYTES));
        assert_eq!(SshPublicKey::parse(&huge), Err(SshKeyError::TooLong));
    }

    #[test]
    fn ssh_keys_serialize_as_their_line() {
        let line = ed25519_line("ada@laptop");
        let key = SshPublicKey::parse(&line).unwrap();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{line}\""));
        assert_eq!(serde_json::from_str::<SshPublicKey>(&json).unwrap(), key);
        assert!(serde_json::from_str::<SshPublicKey>("\"ssh-ed25519 AAAA\"").is_err());
    }

    // --- firewall ------------------------------------------------------------------------------

    #[test]
    fn source_cidrs() {
        assert_eq!(SourceCidr::parse("0.0.0.0/0"), Ok(SourceCidr::ANYWHERE));
        assert_eq!(
            SourceCidr::parse(" 203.0.113.0/24 ").unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            SourceCidr::parse("198.51.100.7").unwrap().to_string(),
            "198.51.100.7/32"
        );
        assert_eq!(SourceCidr::parse("10.0.0.0/8").unwrap().prefix(), 8);
        assert_eq!(SourceCidr::parse(""), Err(SourceCidrError::Empty));
        for bad in [
            "256.0.0.0/8",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/x",
            "fe80::/10",
            "10.0.0.0/8/8",
        ] {
            assert_eq!(SourceCidr::parse(bad), Err(SourceCidrError::Malformed), "{bad}");
        }
        assert_eq!(SourceCidr::parse("10.0.0.0/33"), Err(SourceCidrError::BadPrefix));
        assert_eq!(
            SourceCidr::parse("203.0.113.5/24").unwrap_err().to_string(),
            "203.0.113.5/24 has host bits set; did you mean 203.0.113.0/24?"
        );
        let net = SourceCidr::parse("192.168.4.0/22").unwrap();
        assert!(net.contains(Ipv4Addr::new(192, 168, 7, 255)));
        assert!(!net.contains(Ipv4Addr::new(192, 168, 8, 0)));
        assert!(SourceCidr::ANYWHERE.contains(Ipv4Addr::new(8, 8, 8, 8)));
        assert_eq!(serde_json::to_string(&net).unwrap(), "\"192.168.4.0/22\"");
    }

    #[test]
    fn port_ranges() {
        assert_eq!(PortRange::new(1, 65535).unwrap().to_string(), "1-65535");
        assert_eq!(PortRange::single(443).unwrap().to_string(), "443");
        assert_eq!(PortRange::new(0, 10), Err(PortError::OutOfRange));
        assert_eq!(PortRange::new(10, 9), Err(PortError::Reversed));
        assert!(serde_json::from_str::<PortRange>(r#"{"start":10,"end":9}"#).is_err());
        let range: PortRange = serde_json::from_str(r#"{"start":8000,"end":8080}"#).unwrap();
        assert!(range.contains(8080) && !range.contains(8081));
    }

    #[test]
    fn firewall_rule_form() {
        let ssh = FirewallRule::parse("tcp", "22", "", "0.0.0.0/0").unwrap();
        assert_eq!(ssh.ports, Some(PortRange::single(22).unwrap()));
        assert!(ssh.allows(Protocol::Tcp, Some(22), Ipv4Addr::new(1, 2, 3, 4)));
        assert!(!ssh.allows(Protocol::Udp, Some(22), Ipv4Addr::new(1, 2, 3, 4)));
        assert!(!ssh.allows(Protocol::Tcp, Some(23), Ipv4Addr::new(1, 2, 3, 4)));

        let ping = FirewallRule::parse("ICMP", "", "", "203.0.113.0/24").unwrap();
        assert_eq!(ping.ports, None);
        assert!(ping.allows(Protocol::Icmp, None, Ipv4Addr::new(203, 0, 113, 9)));
        assert!(!ping.allows(Protocol::Icmp, None, Ipv4Addr::new(203, 0, 114, 9)));

        let range = FirewallRule::parse("udp", "60000", "61000", "10.1.0.0/16").unwrap();
        assert_eq!(range.ports.map(|p| (p.start(), p.end())), Some((60000, 61000)));

        let errors = FirewallRule::parse("sctp", "22", "", "nope").unwrap_err();
        assert_eq!(errors.get("protocol"), Some("Choose TCP, UDP or ICMP."));
        assert!(errors.get("source").is_some());

        let errors = FirewallRule::parse("tcp", "", "", "0.0.0.0/0").unwrap_err();
        assert_eq!(errors.get("port_from"), Some("Enter a port, for example 443."));
        let errors = FirewallRule::parse("tcp", "0", "70000", "0.0.0.0/0").unwrap_err();
        assert_eq!(
            errors.get("port_from"),
            Some("Enter a port number from 1 to 65535.")
        );
        assert_eq!(
            errors.get("port_to"),
            Some("Enter a port number from 1 to 65535.")
        );
        let errors = FirewallRule::parse("tcp", "443", "80", "0.0.0.0/0").unwrap_err();
        assert_eq!(
            errors.get("port_to"),
            Some("The last port must not be lower than the first.")
        );
        let errors = FirewallRule::parse("icmp", "8", "", "0.0.0.0/0").unwrap_err();
        assert_eq!(
            errors.get("port_from"),
            Some("ICMP has no ports; leave the ports empty.")
        );
    }

    // --- quotas --------------------------------------------------------------------------------

    #[test]
    fn quota_messages_name_the_limit_and_the_way_out() {
        let quota = Quota::default();
        let usage = QuotaUsage {
            vms: 3,
            vcpus: 30,
            memory_mib: 64 * 1024,
            public_ips: 1,
        };
        let small = QuotaUsage::for_vm(&VmSize::named("s").unwrap(), false);
        assert_eq!(quota.check(&usage, &small), Ok(()));
        let medium = QuotaUsage::for_vm(&VmSize::named("m").unwrap(), true);
        let err = quota.check(&usage, &medium).unwrap_err();
        assert_eq!(err.resource, QuotaResource::Vcpus);
        assert_eq!(
            err.to_string(),
            "This would use 34 vCPUs; your quota is 32. An owner can ask support to raise it."
        );
        let full_memory = QuotaUsage {
            memory_mib: 120 * 1024,
            ..QuotaUsage::default()
        };
        assert_eq!(
            quota.check(&full_memory, &small.plus(&small)),
            Ok(()),
            "128 GiB is at the limit"
        );
        let err = quota.check(&full_memory, &medium).unwrap_err();
        assert_eq!(
            err.to_string(),
            "This would use 136 GiB of memory; your quota is 128 GiB. An owner can ask support to raise it."
        );
        let ips = QuotaUsage {
            public_ips: 5,
            ..QuotaUsage::default()
        };
        let err = quota
            .check(&ips, &QuotaUsage::for_vm(&VmSize::named("xs").unwrap(), true))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "This would use 6 public IPv4 addresses; your quota is 5. An owner can ask support to raise it."
        );
        // Exactly at the limit is allowed.
        let at_limit = QuotaUsage {
            vcpus: 28,
            ..QuotaUsage::default()
        };
        assert_eq!(quota.check(&at_limit, &medium), Ok(()));
    }

    #[test]
    fn a_request_is_not_refused_for_a_limit_it_does_not_touch() {
        let quota = Quota {
            max_public_ips: 1,
            ..Quota::default()
        };
        let over_on_ips = QuotaUsage {
            public_ips: 3,
            ..QuotaUsage::default()
        };
        let private_vm = QuotaUsage::for_vm(&VmSize::named("xs").unwrap(), false);
        assert_eq!(quota.check(&over_on_ips, &private_vm), Ok(()));
        let one_vm_quota = Quota {
            max_vms: 1,
            ..Quota::default()
        };
        let one = QuotaUsage {
            vms: 1,
            ..QuotaUsage::default()
        };
        assert_eq!(
            one_vm_quota.check(&one, &private_vm).unwrap_err().to_string(),
            "This would use 2 VMs; your quota is 1. An owner can ask support to raise it."
        );
        let saturated = QuotaUsage {
            vcpus: u32::MAX,
            ..QuotaUsage::default()
        };
        assert!(quota.check(&saturated, &private_vm).is_err());
    }

    // --- VM create form ------------------------------------------------------------------------

    fn form() -> VmCreateForm {
        VmCreateForm {
            name: "web-1".into(),
            zone: "lon1".into(),
            template: "debian-12".into(),
            size: "m".into(),
            breakout: "on".into(),
            ssh_key_ids: vec![
                "00000000-0000-4000-8000-000000000001".into(),
                String::new(),
                "00000000-0000-4000-8000-000000000001".into(),
            ],
            user_data: String::new(),
            anti_affinity_group: "web".into(),
            dedicated: String::new(),
        }
    }

    #[test]
    fn a_good_form_parses() {
        let vm = VmCreate::parse(&form()).unwrap();
        assert_eq!(vm.name.as_str(), "web-1");
        assert_eq!(vm.zone.as_str(), "lon1");
        assert_eq!(
            BuiltinTemplate::find(vm.template).map(|t| t.slug),
            Some("debian-12")
        );
        assert_eq!(vm.size, VmSize::named("Kestrel").unwrap());
        assert!(vm.breakout && !vm.dedicated);
        assert_eq!(vm.ssh_key_ids.len(), 1, "duplicates and blanks are dropped");
        assert_eq!(vm.user_data, None);
        assert_eq!(vm.anti_affinity_group.as_ref().map(Name::as_str), Some("web"));
        assert_eq!(vm.quota_request(), QuotaUsage::for_vm(&vm.size, true));
        // It survives a trip through a job row.
        let json = serde_json::to_string(&vm).unwrap();
        assert_eq!(serde_json::from_str::<VmCreate>(&json).unwrap(), vm);
    }

    #[test]
    fn a_bad_form_reports_every_field_by_its_name() {
        let raw = VmCreateForm {
            name: "Web 1".into(),
            zone: "lon9".into(),
            template: String::new(),
            size: "huge".into(),
            breakout: "maybe".into(),
            ssh_key_ids: vec!["not-an-id".into()],
            user_data: "#!/bin/sh".into(),
            anti_affinity_group: "-web".into(),
            dedicated: "sure".into(),
        };
        let errors = VmCreate::parse(&raw).unwrap_err();
        for field in [
            "name",
            "zone",
            "template",
            "size",
            "breakout",
            "ssh_key_ids",
            "user_data",
            "anti_affinity_group",
            "dedicated",
        ] {
            assert!(errors.get(field).is_some(), "{field}: {errors}");
        }
        assert_eq!(errors.get("zone"), Some("There is no zone \"lon9\"."));
        assert_eq!(errors.get("template"), Some("Choose a template."));
        let empty = VmCreate::parse(&VmCreateForm::default()).unwrap_err();
        assert_eq!(empty.get("zone"), Some("Choose a zone."));
        assert_eq!(empty.get("size"), Some("Choose a size."));
        assert_eq!(empty.get("breakout"), None, "an unticked box is fine");
    }

    #[test]
    fn form_fields_deserialize_with_missing_keys() {
        let raw: VmCreateForm = serde_json::from_str(r#"{"name":"db","zone":"fra1"}"#).unwrap();
        assert_eq!(raw.size, "");
        assert!(raw.ssh_key_ids.is_empty());
    }
}
