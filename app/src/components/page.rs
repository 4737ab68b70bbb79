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
    let shown = Shown {
        quiet,
        not_found,
        is_empty,
    };
    view! {
        <Transition fallback>
            {move || load().map(|result| shown.view(result, &empty, &items))}
        </Transition>
    }
}

/// How a [`ListState`] shows data once it has arrived.
struct Shown<T> {
    quiet: bool,
    not_found: bool,
    is_empty: Option<fn(&T) -> bool>,
}

impl<T> Clone for Shown<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Shown<T> {}

impl<T> Shown<T> {
    fn view<IV: IntoView + 'static>(
        self,
        result: Result<T, AppError>,
        empty: &ViewFn,
        items: &impl Fn(T) -> IV,
    ) -> AnyView {
        match result {
            Err(_) if self.quiet => ().into_any(),
            Err(_) if self.not_found => view! { <NotFoundPanel /> }.into_any(),
            Err(error) => {
                view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any()
            }
            Ok(data) if self.is_empty.is_some_and(|is_empty| is_empty(&data)) => empty.run(),
            Ok(data) => items(data).into_any(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a settled list shows (the transition around it waits for data, which a test has at once).
    fn rendered(result: Result<Vec<&'static str>, AppError>, quiet: bool, not_found: bool) -> String {
        let owner = Owner::new();
        owner.set();
        let shown = Shown {
            quiet,
            not_found,
            is_empty: Some(Vec::is_empty),
        };
        let empty = ViewFn::from(|| {
            view! { <EmptyState title="No VDCs yet".to_owned()><p>"Create your first VDC above."</p></EmptyState> }
        });
        let items = |list: Vec<&'static str>| {
            view! { <ul>{list.into_iter().map(|i| view! { <li>{i}</li> }).collect_view()}</ul> }
        };
        shown.view(result, &empty, &items).to_html()
    }

    #[test]
    fn a_list_shows_its_items_or_what_to_do_next() {
        let html = rendered(Ok(vec!["fra", "lon"]), false, false);
        assert!(
            html.contains("<li>fra</li>") && html.contains("<li>lon</li>"),
            "{html}"
        );
        let html = rendered(Ok(Vec::new()), false, false);
        assert!(html.contains(r#"aria-label="No VDCs yet""#), "{html}");
        assert!(html.contains("Create your first VDC above."), "{html}");
    }

    #[test]
    fn a_failure_is_an_alert_nothing_when_quiet_or_not_found_on_a_detail_page() {
        let failed = || Err(AppError::Internal("The database is unavailable.".to_owned()));
        let html = rendered(failed(), false, false);
        assert!(
            html.contains(r#"role="alert""#) && html.contains("The database is unavailable."),
            "{html}"
        );
        let html = rendered(failed(), true, false);
        assert!(
            !html.contains("unavailable") && !html.contains("No VDCs yet"),
            "{html}"
        );
        let html = rendered(Err(AppError::NotFound), false, true);
        assert!(html.contains(r#"aria-label="Not found""#), "{html}");
    }
}
