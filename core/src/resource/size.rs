//! VM sizes: vCPUs, memory and disk newtypes, and the catalogue the create form offers.

use super::{mib_text, parse_whole};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

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
    /// The smallest disk as a value, for the template catalogue (a `static` cannot call `new`).
    pub(super) const SMALLEST: Self = Self(Self::MIN);

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
