//! Page scaffolding: the header every page starts with, property lists, list states, empty states
//! and "not found".

use crate::error::AppError;
use leptos::prelude::*;

/// A page's title (its `h1` and the document title) with an optional one-line description.
#[component]
pub fn PageHeader(
    /// The page title.
    title: &'static str,
    /// What the page is for, in one line.
    #[prop(optional)]
    description: Option<&'static str>,
) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title />
        <header class="page-header">
            <h1>{title}</h1>
            {description.map(|d| view! { <p class="page-description">{d}</p> })}
        </header>
    }
}

/// A list of label/value pairs, e.g. a resource's properties.
#[component]
pub fn Properties(
    /// An accessible name for the list.
    label: &'static str,
    /// `(term, value)` rows.
    rows: Vec<(&'static str, String)>,
) -> impl IntoView {
    view! {
        <dl class="properties" aria-label=label>
            {rows
                .into_iter()
                .map(|(term, value)| view! { <div class="property"><dt>{term}</dt><dd>{value}</dd></div> })
                .collect_view()}
        </dl>
    }
}

/// What an empty list or an unbuilt page shows: what is missing and what to do next.
#[component]
pub fn EmptyState(
    /// The headline.
    title: String,
    /// The explanation and next step.
    children: Children,
) -> impl IntoView {
    let label = title.clone();
    view! {
        <section class="empty-state" aria-label=label>
            <h2>{title}</h2>
            {children()}
        </section>
    }
}

/// The states every loaded list goes through: loading, failed, empty (with what to do next) and
/// the items. A page's own list says "Loading…" and shows a failure in an alert; a `quiet` part of
/// a page shows nothing until it has data (its failure shows elsewhere on the page).
#[component]
pub fn ListState<T, L, I, IV>(
    /// Reads the data, `None` while it loads. Read the resource here (narrowed if need be), so
    /// the transition waits for it.
    load: L,
    /// Renders data that is not empty.
    items: I,
    /// When the data counts as empty, e.g. `Vec::is_empty`; without it the data is never empty.
    #[prop(optional)]
    is_empty: Option<fn(&T) -> bool>,
    /// What empty data shows: what is missing and what to do next.
    #[prop(optional, into)]
    empty: ViewFn,
    /// Show nothing while loading or after a failure.
    #[prop(optional)]
    quiet: bool,
    /// A failure reads "Not found" (a detail page: what the visitor may not see is answered like
    /// what does not exist).
    #[prop(optional)]
    not_found: bool,
    /// What shows while loading, unless `quiet`.
    #[prop(default = "Loading…")]
    loading: &'static str,
) -> impl IntoView
where
    T: Send + Sync + 'static,
    L: Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static,
    I: Fn(T) -> IV + Send + Sync + 'static,
    IV: IntoView + 'static,
{
    let fallback = move || (!quiet).then(|| view! { <p>{loading}</p> });
    view! {
        <Transition fallback>
            {move || load().map(|result| match result {
                Err(_) if quiet => ().into_any(),
                Err(_) if not_found => view! { <NotFoundPanel /> }.into_any(),
                Err(error) => view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any(),
                Ok(data) if is_empty.is_some_and(|is_empty| is_empty(&data)) => empty.run(),
                Ok(data) => items(data).into_any(),
            })}
        </Transition>
    }
}

/// The same answer inside the signed-in layout: for a resource that does not exist or is not yours.
#[component]
pub fn NotFoundPanel() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <leptos_meta::Title text="Not found" />
        <section class="empty-state" aria-label="Not found">
            <h1>"Not found"</h1>
            <p>"There is nothing here, or you do not have access to it."</p>
        </section>
    }
}
