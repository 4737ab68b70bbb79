//! Settings: the signed-in user's profile and password.

use crate::MeResource;
use crate::api::account::AccountPasswordChange;
use crate::components::form::{FormAlert, TextField, action_error};
use crate::components::page::{PageHeader, Properties};
use leptos::prelude::*;
use meridian_core::Password;

fn check_new_password(raw: &str) -> Option<String> {
    Password::parse(raw).err().map(|e| e.to_string())
}

/// Profile and password change.
#[component]
pub fn Settings() -> impl IntoView {
    let me = expect_context::<MeResource>();
    let change = ServerAction::<AccountPasswordChange>::new();
    let server = action_error(change);
    let done = move || matches!(change.value().get(), Some(Ok(())));
    view! {
        <PageHeader title="Settings" description="Your profile and password." />
        <Transition fallback=|| ()>
            {move || me.get().and_then(Result::ok).flatten().map(|me| view! {
                <section class="card" aria-labelledby="profile-heading">
                    <h2 id="profile-heading">"Profile"</h2>
                    <Properties label="Profile" rows=vec![
                        ("E-mail", me.email.clone()),
                        ("Role", me.role.as_str().to_owned()),
                        ("Tenant", me.tenant_name.clone()),
                    ] />
                </section>
            })}
        </Transition>
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Change password"</h2>
            <p>"Changing your password logs you out everywhere else."</p>
            <ActionForm action=change attr:aria-label="Change password" attr:class="form-narrow">
                <FormAlert server />
                <Show when=done>
                    <div class="alert alert-success" role="status">"Password changed. Your other sessions have ended."</div>
                </Show>
                <TextField label="Current password" name="current_password" input_type="password"
                    autocomplete="current-password" server />
                <TextField label="New password" name="new_password" input_type="password" autocomplete="new-password"
                    hint="At least 12 characters." validate=check_new_password server />
                <button type="submit" class="button button-primary" disabled=move || change.pending().get()>
                    "Change password"
                </button>
            </ActionForm>
        </section>
    }
}
