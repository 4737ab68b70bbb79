//! SSH keys: add (validated as OpenSSH public keys), list with fingerprints, remove.

use crate::api::ssh_key::{SshKey, SshKeyCreate, SshKeyDelete, ssh_key_list};
use crate::components::api_call::{ApiCall, live_calls, ssh_key_calls};
use crate::components::form::{ChangeButton, FormToken};
use crate::components::form::{FormAlert, RowAction, TextAreaField, TextField, action_error};
use crate::components::page::{EmptyState, ListState, PageHeader};
use leptos::prelude::*;

/// The SSH keys page.
#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<SshKeyCreate>::new();
    // The REST request and CloudStack command for what the form holds, as it is filled in.
    let (calls, show_calls) = live_calls(&["name", "public_key"], ssh_key_calls);
    let delete = ServerAction::<SshKeyDelete>::new();
    let keys = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| ssh_key_list(),
    );
    let error = action_error(create);
    view! {
        <PageHeader title="SSH keys" description="Public keys to install into new VMs for the template's default user." />
        <ListState quiet=true load=move || keys.get() is_empty=Vec::is_empty
            empty=|| view! {
                <EmptyState title="No SSH keys yet".to_owned()>
                    <p>"Add your public key below (the contents of ~/.ssh/id_ed25519.pub), then pick it when you create a VM."</p>
                </EmptyState>
            }
            items={move |list: Vec<SshKey>| view! {
                <table tabindex="0" class="table" aria-label="SSH keys">
                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Fingerprint"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|key| view! {
                            <tr>
                                <td>{key.name.clone()}</td>
                                <td><code>{key.fingerprint.clone()}</code></td>
                                <td>
                                    <RowAction action=delete hidden=vec![("id", key.id.to_string())] text="Remove"
                                        label=format!("Remove key {}", key.name) />
                                </td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }} />
        <section class="card" aria-labelledby="key-add-heading">
            <h2 id="key-add-heading">"Add a key"</h2>
            <ActionForm action=create attr:aria-label="Add SSH key" attr:class="form-narrow"
                on:input=show_calls on:change=show_calls><FormToken />
                <FormAlert server=error />
                <TextField label="Name" name="name" id="key-name" placeholder="laptop" server=error />
                <TextAreaField label="Public key" name="public_key" id="key-public" rows=4
                    placeholder="ssh-ed25519 AAAA… you@laptop" server=error />
                <ChangeButton label="Add key" />
                <ApiCall calls=calls.into() />
            </ActionForm>
        </section>
    }
}
