//! The sign-up page: a new tenant and its owner.

use crate::components::form::FormToken;
use crate::components::form::{FormAlert, TextField, action_error};
use crate::pages::login::AuthCard;
use crate::{AuthActions, MeResource};
use leptos::prelude::*;
use leptos_router::components::Redirect;
use meridian_core::{Email, Password, TenantName};

fn check_tenant_name(raw: &str) -> Option<String> {
    TenantName::parse(raw).err().map(|e| e.to_string())
}

fn check_email(raw: &str) -> Option<String> {
    Email::parse(raw).err().map(|e| e.to_string())
}

fn check_password(raw: &str) -> Option<String> {
    Password::parse(raw).err().map(|e| e.to_string())
}

/// Create an account: the form checks each field in the browser with the server's own rules.
#[component]
pub fn SignupPage() -> impl IntoView {
    let auth = expect_context::<AuthActions>();
    let me = expect_context::<MeResource>();
    let server = action_error(auth.signup);
    let signed_in = move || matches!(me.get(), Some(Ok(Some(_))));
    view! {
        <leptos_meta::Title text="Create an account" />
        <Transition fallback=|| ()>
            <Show when=signed_in fallback=move || view! {
                <AuthCard title="Create your Meridian account">
                    <ActionForm action=auth.signup attr:aria-label="Create account"><FormToken />
                        <FormAlert server />
                        <TextField label="Organisation name" name="tenant_name" autocomplete="organization"
                            hint="Your company or team; you can invite colleagues later." validate=check_tenant_name server />
                        <TextField label="Work e-mail" name="email" input_type="email" autocomplete="email"
                            validate=check_email server />
                        <TextField label="Password" name="password" input_type="password" autocomplete="new-password"
                            hint="At least 12 characters. A passphrase is easiest to remember." validate=check_password server />
                        <button type="submit" class="button button-primary button-block" disabled=move || auth.signup.pending().get()>
                            {move || if auth.signup.pending().get() { "Creating your account…" } else { "Create account" }}
                        </button>
                    </ActionForm>
                    <p class="auth-switch">"Already have an account? " <a href="/login">"Log in"</a></p>
                </AuthCard>
            }>
                <Redirect path="/" />
            </Show>
        </Transition>
    }
}
