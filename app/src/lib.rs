//! Meridian's dashboard: the Leptos application shared by the server (SSR) and the browser (hydrate).
//!
//! Pages live in `pages/`, reusable pieces in `components/`, server functions in `api/`. Server
//! functions are thin: they build an `OpContext` and call one control-plane method.

// The pages loaded on demand hydrate through `hydrate_async`, whose future types nest deeper than the
// default limit in debug builds.
#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod charts;
pub mod components;
#[cfg(feature = "ssr")]
pub mod edge;
pub mod error;
pub mod html;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use api::account::{AccountLogin, AccountLogout, AccountSignup, DemoLogin, DemoReset, Me, account_view};
use components::shell::Shell;
use error::AppError;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, ProtectedParentRoute, Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};
use pages::lazy::*;
use pages::{
    Hydrated, UnmarkOnNavigation, login::LoginPage, not_found::NotFound, overview::Overview,
    staff::StaffShell,
};

/// Where, under the site root, `scripts/build.sh` lists the bundle's file names, which carry a
/// hash of their content (`js: …`, `wasm: …`, `css: …`): a browser keeps them for a year, and a
/// new build is a new address.
pub const ASSET_NAMES: &str = "pkg/hash.txt";

/// The stylesheet's address: by its content hash when the build listed one.
fn stylesheet_href(options: &LeptosOptions) -> String {
    #[cfg(feature = "ssr")]
    if options.hash_files {
        let names = std::fs::read_to_string(&*options.hash_file).unwrap_or_default();
        if let Some(hash) = names.lines().find_map(|line| line.trim().strip_prefix("css:")) {
            return format!(
                "/{}/{}.{}.css",
                options.site_pkg_dir,
                options.output_name,
                hash.trim()
            );
        }
    }
    format!("/{}/{}.css", options.site_pkg_dir, options.output_name)
}

/// The HTML document around the app, rendered on the server only. Its Content-Security-Policy
/// allows this page's own scripts and the inline ones Leptos writes with this render's nonce. The
/// policy travels twice: as the header, and as a `<meta>` first in the head, written by the same
/// render as the scripts, so the scripts are allowed even by a response that lost the header (the
/// browser tests twice met a page whose header was missing, and it never hydrated; the cause is
/// not known). `frame-ancestors` cannot be in a `<meta>`; `X-Frame-Options: DENY` covers it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let scripts = leptos::nonce::use_nonce().map(|nonce| {
        format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'self'; form-action 'self'")
    });
    #[cfg(not(feature = "ssr"))]
    let scripts: Option<String> = None;
    #[cfg(feature = "ssr")]
    if let (Some(policy), Some(response)) = (&scripts, use_context::<leptos_axum::ResponseOptions>())
        && let Ok(value) = http::HeaderValue::from_str(&format!("{policy}; frame-ancestors 'none'"))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                {scripts.map(|policy| view! { <meta http-equiv="Content-Security-Policy" content=policy /> })}
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <meta name="meridian-form-token" content=components::form::form_token() />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href=stylesheet_href(&options) />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The session-changing actions, shared so that every page sees who is signed in right after.
#[derive(Clone, Copy)]
pub struct AuthActions {
    /// Log in.
    pub login: ServerAction<AccountLogin>,
    /// Sign up.
    pub signup: ServerAction<AccountSignup>,
    /// Log out.
    pub logout: ServerAction<AccountLogout>,
    /// One-click log-in to the sales demo.
    pub demo: ServerAction<DemoLogin>,
    /// Put the sales demo back as it was (signs in to the new demo tenant).
    pub demo_reset: ServerAction<DemoReset>,
}

/// Who is signed in: `None` inside while loading, `Ok(None)` for nobody.
pub type MeResource = Resource<Result<Option<Me>, AppError>>;

/// A form posted before the WASM loaded (or without it) comes back to its page with the refusal
/// in the query (`__path`, `__err`). The router hands it to the actions the pages create; this
/// hands it to the session-changing actions, which live above the router. Read from the same URL
/// on both sides, so the hydrated page shows the same field errors as the server's.
fn provide_form_error() {
    #[cfg(feature = "ssr")]
    let url = use_context::<leptos_router::location::RequestUrl>().and_then(|url| url.parse().ok());
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    let url = {
        use leptos_router::location::LocationProvider;
        leptos_router::location::BrowserUrl::current().ok()
    };
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let url: Option<leptos_router::location::Url> = None;
    if let Some(url) = url {
        url.provide_server_action_error();
    }
}

/// The root component: routes, the signed-in user, and the auth guard.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_form_error();
    let auth = AuthActions {
        login: ServerAction::new(),
        signup: ServerAction::new(),
        logout: ServerAction::new(),
        demo: ServerAction::new(),
        demo_reset: ServerAction::new(),
    };
    let me: MeResource = Resource::new_blocking(
        move || {
            (
                auth.login.version().get(),
                auth.signup.version().get(),
                auth.logout.version().get(),
                auth.demo.version().get(),
                auth.demo_reset.version().get(),
            )
        },
        |_| account_view(),
    );
    provide_context(auth);
    provide_context(me);
    let signed_in = move || me.get().map(|me| matches!(me, Ok(Some(_))));

    view! {
        <Title formatter=html::page_title />
        <Router>
            <UnmarkOnNavigation />
            <Routes fallback=|| view! { <NotFound /> <Hydrated /> }>
                <Route path=path!("/login") view=|| view! { <LoginPage /> <Hydrated /> } ssr=SsrMode::Async />
                <Route path=path!("/signup") view={Lazy::<SignupRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/invite/:token") view={Lazy::<InviteRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/staff/login") view={Lazy::<StaffLoginRoute>::new()} ssr=SsrMode::Async />
                <ParentRoute path=path!("/staff") view=StaffShell ssr=SsrMode::Async>
                    <Route path=path!("") view={Lazy::<StaffTenantsRoute>::new()} />
                    <Route path=path!("/tenants/:id") view={Lazy::<StaffTenantRoute>::new()} />
                    <Route path=path!("/capacity") view={Lazy::<StaffCapacityRoute>::new()} />
                    <Route path=path!("/jobs") view={Lazy::<StaffJobsRoute>::new()} />
                </ParentRoute>
                <ProtectedParentRoute path=path!("") condition=signed_in redirect_path=|| "/login" view=Shell ssr=SsrMode::Async>
                    <Route path=path!("") view=|| view! { <Overview /> <Hydrated /> } />
                    <Route path=path!("/settings") view={Lazy::<SettingsRoute>::new()} />
                    <Route path=path!("/residency") view={Lazy::<ResidencyRoute>::new()} />
                    <Route path=path!("/vdcs") view={Lazy::<VdcsRoute>::new()} />
                    <Route path=path!("/vdcs/:id") view={Lazy::<VdcRoute>::new()} />
                    <Route path=path!("/vms") view={Lazy::<VmsRoute>::new()} />
                    <Route path=path!("/vms/new") view={Lazy::<VmNewRoute>::new()} />
                    <Route path=path!("/vms/:id") view={Lazy::<VmRoute>::new()} />
                    <Route path=path!("/stacks") view={Lazy::<StacksRoute>::new()} />
                    <Route path=path!("/stacks/:id") view={Lazy::<StackRoute>::new()} />
                    <Route path=path!("/groups") view={Lazy::<GroupsRoute>::new()} />
                    <Route path=path!("/groups/:id") view={Lazy::<GroupRoute>::new()} />
                    <Route path=path!("/networks") view={Lazy::<NetworksRoute>::new()} />
                    <Route path=path!("/keys") view={Lazy::<KeysRoute>::new()} />
                    <Route path=path!("/templates") view={Lazy::<TemplatesRoute>::new()} />
                    <Route path=path!("/map") view={Lazy::<MapRoute>::new()} />
                    <Route path=path!("/bandwidth") view={Lazy::<BandwidthRoute>::new()} />
                    <Route path=path!("/billing") view={Lazy::<BillingRoute>::new()} />
                </ProtectedParentRoute>
            </Routes>
        </Router>
    }
}
