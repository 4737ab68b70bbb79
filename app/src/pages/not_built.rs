//! What a section that is not built yet shows: plainly that, and nothing pretending otherwise.

use crate::components::page::{EmptyState, PageHeader};
use leptos::prelude::*;

/// A placeholder that says the section is not built yet and what it will hold.
#[component]
pub fn NotBuilt(
    /// The section's name.
    title: &'static str,
    /// What the section will show.
    what: &'static str,
) -> impl IntoView {
    view! {
        <PageHeader title />
        <EmptyState title="Not built yet".to_owned()>
            <p>"This section of Meridian is not built yet. It will show " {what} "."</p>
            <p>"Nothing on this page is simulated or made up in the meantime."</p>
        </EmptyState>
    }
}
