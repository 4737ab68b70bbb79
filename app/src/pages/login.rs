//! The log-in page.

use crate::components::form::FormToken;
use crate::components::form::{FormAlert, TextField, action_error};
use crate::{AuthActions, MeResource};
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Log in with e-mail and password; a signed-in visitor goes straight to the overview.
#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = expect_context::<AuthActions>();
    let me = expect_context::<MeResource>();
    let server = action_error(auth.login);
    let signed_in = move || matches!(me.get(), Some(Ok(Some(_))));
    let demo = Resource::new(|| (), |_| crate::api::account::demo_available());
    view! {
        <leptos_meta::Title text="Log in" />
        <Transition fallback=|| ()>
            <Show when=signed_in fallback=move || view! {
                <AuthCard title="Log in to Meridian">
                    <ActionForm action=auth.login attr:aria-label="Log in"><FormToken />
                        <FormAlert server />
                        <TextField label="E-mail" name="email" input_type="email" autocomplete="username" server />
                        <TextField label="Password" name="password" input_type="password" autocomplete="current-password" server />
                        <button type="submit" class="button button-primary button-block" disabled=move || auth.login.pending().get()>
                            {move || if auth.login.pending().get() { "Logging in…" } else { "Log in" }}
                        </button>
                    </ActionForm>
                    <p class="auth-switch">"New to Meridian? " <a href="/signup">"Create an account"</a></p>
                    <Transition fallback=|| ()>
                        {move || demo.get().and_then(Result::ok).filter(|on| *on).map(|_| view! {
                            <div class="demo-entry">
                                <p>"Or look around a demo company's cloud, with simulated zones:"</p>
                                <ActionForm action=auth.demo attr:aria-label="Demo"><FormToken />
                                    <button type="submit" class="button button-secondary button-block" disabled=move || auth.demo.pending().get()>"Try the demo"</button>
                                </ActionForm>
                            </div>
                        })}
                    </Transition>
                </AuthCard>
            }>
                <Redirect path="/" />
            </Show>
        </Transition>
    }
}

/// The centred card the log-in and sign-up forms sit in.
#[component]
pub fn AuthCard(
    /// The card's heading.
    title: &'static str,
    /// The form.
    children: Children,
) -> impl IntoView {
    view! {
        <main class="auth-page">
            <div class="auth-card">
                <div class="auth-brand" aria-hidden="true">"Meridian"</div>
                <h1>{title}</h1>
                {children()}
            </div>
            <p class="auth-tagline">"Private by default. Sixteen zones, one private backbone, bandwidth never charged."</p>
        </main>
    }
}
