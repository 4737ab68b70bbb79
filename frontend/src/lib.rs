//! The browser entry point: hydrate the server-rendered page into the live app.

/// Called by the hydration script once the WASM module has loaded. A page whose code is loaded on
/// demand gets it first (its modules are already on their way: the page lists them), then the whole
/// page hydrates in one pass; the other pages' code follows in the background.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Before the app exists, so the browser's own executor (the app starts Leptos' when it hydrates).
    wasm_bindgen_futures::spawn_local(async {
        meridian_app::pages::lazy::preload_this_page().await;
        leptos::mount::hydrate_body(meridian_app::App);
        meridian_app::pages::lazy::preload_the_rest().await;
        // `<body data-hydrated>` is set by the page itself (`meridian_app::pages::Hydrated`).
    });
}
