//! Compute resources: names, sizes, the VM state machine, templates, SSH keys, firewall rules, quotas
//! and the VM create form.
//!
//! Every `parse` here runs in the browser next to the form field and again on the server, so each
//! error's `Display` is a sentence for the person filling in the form, never for a developer.

mod anti_affinity;
mod firewall;
mod name;
mod quota;
mod size;
mod ssh_key;
mod template;
mod vm_create;
mod vm_state;

pub use anti_affinity::AntiAffinityGroup;
pub use firewall::{
    FirewallRule, FirewallRuleCreate, PortError, PortRange, Protocol, ProtocolError, SourceCidr,
    SourceCidrError,
};
pub use name::{NAME_MAX_CHARS, Name, NameError};
pub use quota::{QUOTA_CEILING, Quota, QuotaExceeded, QuotaForm, QuotaResource, QuotaUsage};
pub use size::{
    DiskGib, DiskGibError, MemoryMib, MemoryMibError, NamedSize, ResizeError, SIZES, SizeError, Vcpus,
    VcpusError, VmSize,
};
pub use ssh_key::{RSA_MIN_BITS, SSH_KEY_MAX_BYTES, SshKeyError, SshKeyType, SshPublicKey};
pub use template::{
    BUILTIN_TEMPLATES, BuiltinTemplate, CLOUD_CONFIG_HEADER, DiskTooSmall, OsFamily, TemplateChoiceError,
    TemplateCreate, TenantTemplate, USER_DATA_MAX_BYTES, UserData, UserDataError, parse_template_choice,
};
pub use vm_create::{CheckboxError, SshKeyChoiceError, VmCreate, VmCreateForm, ZoneChoiceError};
pub use vm_state::{IllegalTransition, UnknownVmState, VmAction, VmState};

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
