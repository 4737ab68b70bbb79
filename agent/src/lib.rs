//! Meridian's host agent: one per hypervisor host, run as root, owning that host's VMs.
//!
//! Every OS resource is named from a VM's id under the agent's state directory, so a restarted agent
//! finds (adopts) what an earlier one made and a reconciler can list it. One module per subsystem;
//! today only [`qemu`] (the VM processes). The API the control plane calls comes later (issue #15).

pub mod qemu;
