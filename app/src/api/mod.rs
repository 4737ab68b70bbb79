//! Server functions, one file per resource. Every one of them is a public HTTP endpoint under `/fn/`.

pub mod account;
pub mod api_key;
pub mod bandwidth;
pub mod billing;
pub mod map;
pub mod overview;
pub mod scaling;
pub mod settings;
pub mod ssh_key;
pub mod stack;
pub mod staff;
pub mod template;
pub mod vdc;
pub mod vm;
