//! Reusable pieces of page scaffolding.

pub mod api_call;
pub mod backbone_map;
pub mod form;
pub mod latency_budget;
pub mod page;
pub mod serial_terminal;
pub mod shell;
pub mod tour;
pub mod vm_table;

/// Loads `path` as a whole new page, so everything on it is read afresh for the new identity
/// (after a staff log-in, log-out, or the start or end of an inspection). Browser only.
pub fn load_page(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::window;
        if let Err(error) = window().location().set_href(path) {
            leptos::logging::warn!("cannot load {path}: {error:?}");
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
