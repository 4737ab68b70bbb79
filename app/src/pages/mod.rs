//! One module per page.

pub mod bandwidth;
pub mod billing;
pub mod groups;
pub mod invite;
pub mod keys;
pub mod login;
pub mod map;
pub mod networks;
pub mod not_found;
pub mod overview;
pub mod residency;
pub mod settings;
pub mod signup;
pub mod stacks;
pub mod staff;
pub mod templates;
pub mod vdcs;
pub mod vm;
pub mod vms;
