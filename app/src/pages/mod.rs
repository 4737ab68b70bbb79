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

use leptos::prelude::*;

/// Marks `<body data-hydrated>` once the page around it is live: for browser tests (they wait for it
/// before clicking what only works hydrated), for the first-load benchmark and for CSS. Put last in
/// every route's view: a page loaded on demand hydrates after its code arrived, later than the
/// shell, so the mark cannot be set where hydration starts. [`UnmarkOnNavigation`] takes it off
/// when the address changes, until the next page sets it. (A page that stays for another address
/// of its own route, `/vms/a` to `/vms/b`, is not rebuilt and does not set it again.)
#[component]
pub fn Hydrated() -> impl IntoView {
    Effect::new(|| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// Takes `<body data-hydrated>` off when the router goes to another page: the page shown until the
/// next one's code and data arrive is not the one asked for. Inside the `<Router>`, before the
/// routes, so that its effect runs before the next page's [`Hydrated`].
#[component]
pub fn UnmarkOnNavigation() -> impl IntoView {
    let path = leptos_router::hooks::use_location().pathname;
    // By value: the effect may run again with the same address (a memo read late elsewhere).
    Effect::new(move |before: Option<String>| {
        let now = path.get();
        if before.is_some_and(|before| before != now)
            && let Some(body) = document().body()
        {
            let _ = body.remove_attribute("data-hydrated");
        }
        now
    });
}

/// The pages the browser loads when it first needs them (issue 19). Each group below is a split
/// point: its pages' code (and what only they use) travels in a WASM module of its own, code the
/// groups share in modules of their own, and the first download holds only what the log-in page,
/// the overview and the shell around them need. Groups, not a module per page: a page of its own
/// module needed a hundred-odd small files, each a round trip on a phone's network. The VM list and
/// the map, the pages most visited, are groups of their own.
///
/// The server renders these pages like any other, lists the modules of the page it rendered for
/// the browser to fetch at once, and names the group in `<meta name="meridian-page">`: the browser
/// loads that code before it hydrates (`preload_this_page`), so hydration runs in one pass.
pub mod lazy {
    use leptos::prelude::*;
    use leptos_router::LazyRoute;

    /// `group { Route => Page, ... }`: routes whose pages are loaded on demand, together.
    macro_rules! lazy_pages {
        ($($group:ident { $($route:ident => $page:path),* $(,)? })*) => {
            $(
                #[doc = concat!("The pages loaded on demand together as `", stringify!($group), "`.")]
                pub mod $group {
                    use leptos::prelude::*;

                    /// A page of the group.
                    pub enum Page {
                        $(
                            #[doc = concat!("`", stringify!($page), "`.")]
                            $route,
                        )*
                    }

                    /// The page, its group named for `preload_this_page`, marked live once hydrated.
                    #[leptos::lazy($group)]
                    pub fn page(page: Page) -> AnyView {
                        let view = match page {
                            $(Page::$route => view! { <$page /> }.into_any(),)*
                        };
                        view! {
                            <leptos_meta::Meta name="meridian-page" content=stringify!($group) />
                            {view}
                            <super::super::Hydrated />
                        }
                        .into_any()
                    }
                }

                $(
                    #[doc = concat!("The route of `", stringify!($page), "`, loaded on demand.")]
                    pub struct $route;

                    impl LazyRoute for $route {
                        fn data() -> Self {
                            Self
                        }

                        async fn view(_: Self) -> AnyView {
                            $group::page($group::Page::$route).await
                        }
                    }
                )*
            )*

            /// Loads the code of the page the server rendered, if it is one loaded on demand, so
            /// that the app then hydrates in one pass.
            #[cfg(feature = "hydrate")]
            pub async fn preload_this_page() {
                let group = document()
                    .query_selector(r#"meta[name="meridian-page"]"#)
                    .ok()
                    .flatten()
                    .and_then(|meta| meta.get_attribute("content"));
                match group.as_deref() {
                    $(Some(stringify!($group)) => $group::__preload_page().await,)*
                    _ => {}
                }
            }

            /// Fetches the code of every page loaded on demand, in the background once the page
            /// is live: a click then opens a page at once, as if it had been there all along.
            #[cfg(feature = "hydrate")]
            pub async fn preload_the_rest() {
                $($group::__preload_page().await;)*
            }
        };
    }

    lazy_pages! {
        vm_list {
            VmsRoute => super::super::vms::VmsPage,
        }
        map {
            MapRoute => super::super::map::MapPage,
        }
        console {
            VmNewRoute => super::super::vms::VmNewPage,
            VmRoute => super::super::vm::VmPage,
            SettingsRoute => super::super::settings::Settings,
            ResidencyRoute => super::super::residency::ResidencyPage,
            VdcsRoute => super::super::vdcs::VdcsPage,
            VdcRoute => super::super::vdcs::VdcPage,
            StacksRoute => super::super::stacks::StacksPage,
            StackRoute => super::super::stacks::StackPage,
            GroupsRoute => super::super::groups::GroupsPage,
            GroupRoute => super::super::groups::GroupPage,
            NetworksRoute => super::super::networks::NetworksPage,
            KeysRoute => super::super::keys::KeysPage,
            TemplatesRoute => super::super::templates::TemplatesPage,
            BandwidthRoute => super::super::bandwidth::BandwidthPage,
            BillingRoute => super::super::billing::BillingPage,
        }
        staff {
            StaffLoginRoute => super::super::staff::StaffLoginPage,
            StaffTenantsRoute => super::super::staff::StaffTenantsPage,
            StaffTenantRoute => super::super::staff::StaffTenantPage,
            StaffCapacityRoute => super::super::staff::StaffCapacityPage,
            StaffJobsRoute => super::super::staff::StaffJobsPage,
        }
        public {
            SignupRoute => super::super::signup::SignupPage,
            InviteRoute => super::super::invite::InvitePage,
        }
    }
}
