//! Meridian's host agent: one per hypervisor host, run as root, owning that host's VMs.
//!
//! Every OS resource is named from a VM's id (its directory under the agent's state directory, its
//! tap), so a restarted agent finds (adopts) what an earlier one made and a reconciler can list it.
//! One module per subsystem: [`qemu`] (the VM processes), [`nic`] (their ports on the host's
//! bridge), [`tenant_net`] (tenant networks: a router, bridge and VXLAN per tenant, anti-spoofing), [`traffic`]
//! (what their VMs send, counted and shaped to caps),
//! [`accel`] (KVM or TCG, probed by booting the guest image). The control plane drives the
//! agent through its authenticated, versioned HTTP API ([`api`], the routes of
//! [`meridian_core::agent_api::Route`]), and the agent registers its host with the control plane
//! ([`register`]), then probes its peers' latency over the backbone ([`probe`]). A VM's serial
//! console is interactive through a WebSocket ([`serial`]). The binary (`src/main.rs`) only wires
//! these together.

pub mod accel;
pub mod api;
pub mod host;
pub mod nic;
pub mod probe;
pub mod qemu;
pub mod register;
pub mod serial;
pub mod tenant_net;
pub mod traffic;
