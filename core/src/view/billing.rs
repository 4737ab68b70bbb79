//! Views of billing: metered usage, hour by hour.

/// One hour of one resource's metered usage, rolled up: what invoices and usage exports are
/// computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeteredHour {
    /// Start of the UTC hour (Unix ms).
    pub hour_start: i64,
    /// `vm_seconds`, `disk_gib_seconds`, `public_ip_seconds`, `bytes_backbone`, `bytes_internet`, `bytes_edge`.
    pub kind: String,
    /// The VM, or the backbone edge for `bytes_edge`.
    pub resource_id: String,
    /// "vcpus/memory_mib/disk_gib" for `vm_seconds`.
    pub size: String,
    /// The zone.
    pub zone: String,
    /// Seconds, GiB-seconds or bytes.
    pub quantity: i64,
}
