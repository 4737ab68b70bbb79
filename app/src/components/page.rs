//! Page scaffolding: the header every page starts with, property lists and empty states.

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
