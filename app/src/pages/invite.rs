//! Accepting an invitation: choose a password and join the tenant.

use crate::MeResource;
use crate::api::settings::InviteAccept;
use crate::components::form::FormToken;
use crate::components::form::{FormAlert, TextField, action_error};
use crate::pages::login::AuthCard;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;
use meridian_core::Password;

fn check_password(raw: &str) -> Option<String> {
    Password::parse(raw).err().map(|e| e.to_string())
}

/// The invitation page.
#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let me = expect_context::<MeResource>();
    let accept = ServerAction::<InviteAccept>::new();
    let server = action_error(accept);
    // Once joined, who is signed in changed: refresh it, and the redirect below follows.
    Effect::new(move |_| {
        if matches!(accept.value().get(), Some(Ok(()))) {
            me.refetch();
        }
    });
    let joined =
        move || matches!(accept.value().get(), Some(Ok(()))) && matches!(me.get(), Some(Ok(Some(_))));
    view! {
        <leptos_meta::Title text="Join your team" />
        <Show when=joined fallback=move || view! {
            <AuthCard title="Join your team on Meridian">
                <ActionForm action=accept attr:aria-label="Accept invitation"><FormToken />
                    <FormAlert server />
                    <input type="hidden" name="token" value=token() />
                    <TextField label="Choose a password" name="password" input_type="password" autocomplete="new-password"
                        hint="At least 12 characters." validate=check_password server />
                    <button type="submit" class="button button-primary button-block">"Join"</button>
                </ActionForm>
            </AuthCard>
        }>
            <Redirect path="/" />
        </Show>
    }
}
