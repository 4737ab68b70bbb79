//! Reusable pieces of page scaffolding.

pub mod backbone_map;
pub mod form;
pub mod page;
pub mod shell;
pub mod tour;
pub mod vm_table;
