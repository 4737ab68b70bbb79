//! SSH keys: add (validated as OpenSSH public keys), list with fingerprints, remove.

use crate::api::ssh_key::{SshKeyCreate, SshKeyDelete, ssh_key_list};
use crate::components::form::{FormAlert, action_error};
use crate::components::page::{EmptyState, PageHeader};
use leptos::prelude::*;

/// The SSH keys page.
#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<SshKeyCreate>::new();
    let delete = ServerAction::<SshKeyDelete>::new();
    let keys = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| ssh_key_list(),
    );
    let error = action_error(create);
    view! {
        <PageHeader title="SSH keys" description="Public keys to install into new VMs for the template's default user." />
        <Transition fallback=|| ()>
            {move || keys.get().and_then(Result::ok).map(|list| if list.is_empty() {
                view! {
                    <EmptyState title="No SSH keys yet".to_owned()>
                        <p>"Add your public key below (the contents of ~/.ssh/id_ed25519.pub), then pick it when you create a VM."</p>
                    </EmptyState>
                }.into_any()
            } else {
                view! {
                    <table class="table" aria-label="SSH keys">
                        <thead><tr><th scope="col">"Name"</th><th scope="col">"Fingerprint"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|key| view! {
                                <tr>
                                    <td>{key.name.clone()}</td>
                                    <td><code>{key.fingerprint.clone()}</code></td>
                                    <td>
                                        <ActionForm action=delete attr:class="inline-form">
                                            <input type="hidden" name="id" value=key.id.to_string() />
                                            <button type="submit" class="button button-secondary" aria-label=format!("Remove key {}", key.name)>"Remove"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
        </Transition>
        <section class="card" aria-labelledby="key-add-heading">
            <h2 id="key-add-heading">"Add a key"</h2>
            <ActionForm action=create attr:aria-label="Add SSH key" attr:class="form-narrow">
                <FormAlert server=error />
                <div class="field">
                    <label for="key-name">"Name"</label>
                    <input id="key-name" name="name" placeholder="laptop" />
                    <p class="field-error" aria-live="polite">{move || error.get().and_then(|e| e.field("name"))}</p>
                </div>
                <div class="field">
                    <label for="key-public">"Public key"</label>
                    <textarea id="key-public" name="public_key" rows="4" placeholder="ssh-ed25519 AAAA… you@laptop"></textarea>
                    <p class="field-error" aria-live="polite">{move || error.get().and_then(|e| e.field("public_key"))}</p>
                </div>
                <button type="submit" class="button button-primary">"Add key"</button>
            </ActionForm>
        </section>
    }
}
