//! The page for addresses that lead nowhere (or to something the visitor may not see).

use leptos::prelude::*;

/// 404: the same answer whether the thing never existed or belongs to someone else.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <leptos_meta::Title text="Not found" />
        <main class="auth-page">
            <div class="auth-card">
                <h1>"Page not found"</h1>
                <p>"There is nothing here, or you do not have access to it."</p>
                <p><a class="button button-primary" href="/">"Go to the overview"</a></p>
            </div>
        </main>
    }
}
