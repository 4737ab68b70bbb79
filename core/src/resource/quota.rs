//! Quotas: a tenant's limits, its usage and the refusal that says by how much.

use super::{VmSize, mib_text};
use crate::field::FieldErrors;
use serde::{Deserialize, Serialize};
use thiserror::Error;

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
    /// The limits against `usage`, for people: `(what, in use, limit)`, memory in GiB where it is
    /// whole GiB ("512 MiB" otherwise). A tenant's settings and the staff console show these
    /// same lines.
    pub fn lines(&self, usage: &QuotaUsage) -> Vec<(String, String, String)> {
        [
            ("VMs", usage.vms.to_string(), self.max_vms.to_string()),
            ("vCPUs", usage.vcpus.to_string(), self.max_vcpus.to_string()),
            (
                "Memory",
                mib_text(usage.memory_mib),
                mib_text(self.max_memory_mib),
            ),
            (
                "Public IPv4 addresses",
                usage.public_ips.to_string(),
                self.max_public_ips.to_string(),
            ),
        ]
        .into_iter()
        .map(|(what, used, limit)| (what.to_owned(), used, limit))
        .collect()
    }

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

/// An admin's quota change as typed: every limit text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaForm {
    /// VMs.
    pub max_vms: String,
    /// vCPUs.
    pub max_vcpus: String,
    /// Memory (MiB).
    pub max_memory_mib: String,
    /// Public IPs.
    pub max_public_ips: String,
}

/// The largest limit an admin may set for any one quota, against typos.
pub const QUOTA_CEILING: u64 = 1_000_000_000;

impl QuotaForm {
    /// The quota, or every field's problem (not a whole number, above [`QUOTA_CEILING`]). Field
    /// names are the form's.
    pub fn parse(&self) -> Result<Quota, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut number = |name: &'static str, raw: &str| -> u64 {
            match raw.trim().parse::<u64>() {
                Ok(n) if n > QUOTA_CEILING => {
                    errors.push(name, format!("At most {QUOTA_CEILING}."));
                    0
                }
                Ok(n) => n,
                Err(_) => {
                    errors.push(name, "Enter a whole number.");
                    0
                }
            }
        };
        let vms = number("max_vms", &self.max_vms);
        let vcpus = number("max_vcpus", &self.max_vcpus);
        let memory = number("max_memory_mib", &self.max_memory_mib);
        let ips = number("max_public_ips", &self.max_public_ips);
        if !errors.is_empty() {
            return Err(errors);
        }
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(Quota {
            max_vms: small(vms),
            max_vcpus: small(vcpus),
            max_memory_mib: memory,
            max_public_ips: small(ips),
        })
    }
}

impl Quota {
    /// Checks that no limit is below what is already in use: each one that is gets its field
    /// (named as [`QuotaForm`]'s) and a sentence saying the least it may be.
    pub fn check_covers(&self, used: &QuotaUsage) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        let limits = [
            ("max_vms", u64::from(self.max_vms), u64::from(used.vms), "VMs"),
            (
                "max_vcpus",
                u64::from(self.max_vcpus),
                u64::from(used.vcpus),
                "vCPUs",
            ),
            ("max_memory_mib", self.max_memory_mib, used.memory_mib, "MiB"),
            (
                "max_public_ips",
                u64::from(self.max_public_ips),
                u64::from(used.public_ips),
                "public IPs",
            ),
        ];
        for (name, limit, in_use, unit) in limits {
            if limit < in_use {
                errors.push(
                    name,
                    format!("{in_use} {unit} are in use; set at least {in_use}."),
                );
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_and_staff_read_memory_in_gib_and_a_part_gib_in_mib() {
        let usage = QuotaUsage {
            vms: 3,
            vcpus: 5,
            memory_mib: 2560,
            public_ips: 1,
        };
        let lines = Quota::default().lines(&usage);
        let memory = lines.iter().find(|(what, ..)| what == "Memory").unwrap();
        assert_eq!((memory.1.as_str(), memory.2.as_str()), ("2560 MiB", "128 GiB"));
        let whole = Quota::default().lines(&QuotaUsage {
            memory_mib: 4096,
            ..usage
        });
        assert!(
            whole
                .iter()
                .any(|l| l == &("Memory".to_owned(), "4 GiB".to_owned(), "128 GiB".to_owned()))
        );
        assert_eq!(lines[0], ("VMs".to_owned(), "3".to_owned(), "20".to_owned()));
    }

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
}
