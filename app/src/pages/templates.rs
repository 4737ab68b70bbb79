//! Templates: the built-in images and the tenant's own, with the creator for cloud-config templates.

use crate::api::template::{Template, TemplateCreate, TemplateDelete, template_list};
use crate::components::api_call::{ApiCall, live_calls, template_calls};
use crate::components::form::{ChangeButton, FormToken};
use crate::components::form::{FormAlert, RowAction, SelectField, TextAreaField, TextField, action_error};
use crate::components::page::{ListState, PageHeader};
use leptos::prelude::*;
use meridian_core::resource::BUILTIN_TEMPLATES;

/// The templates page.
#[component]
pub fn TemplatesPage() -> impl IntoView {
    let create = ServerAction::<TemplateCreate>::new();
    // The REST request for what the form holds, as it is filled in.
    let (calls, show_calls) = live_calls(&["name", "base", "user_data"], template_calls);
    let delete = ServerAction::<TemplateDelete>::new();
    let own = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| template_list(),
    );
    let error = action_error(create);
    view! {
        <PageHeader title="Templates" description="What your VMs boot: a built-in image, optionally with your own cloud-config." />
        <section class="card" aria-labelledby="builtin-heading">
            <h2 id="builtin-heading">"Built-in"</h2>
            <table tabindex="0" class="table" aria-label="Built-in templates">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Default user"</th><th scope="col">"Smallest disk"</th></tr></thead>
                <tbody>
                    {BUILTIN_TEMPLATES.iter().map(|t| view! {
                        <tr><td>{t.name}</td><td><code>{t.default_user}</code></td><td>{format!("{} GiB", t.min_disk_gib.get())}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="card" aria-labelledby="own-heading">
            <h2 id="own-heading">"Yours"</h2>
            <ListState quiet=true load=move || own.get() is_empty=Vec::is_empty
                empty=|| view! { <p>"None yet. Create one below: pick a base image and add the cloud-config your VMs should start with."</p> }
                items={move |list: Vec<Template>| view! {
                    <table tabindex="0" class="table" aria-label="Your templates">
                        <thead><tr><th scope="col">"Name"</th><th scope="col">"Based on"</th><th scope="col">"Cloud-config"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|t| view! {
                                <tr>
                                    <td>{t.name.clone()}</td>
                                    <td>{t.base_name.clone()}</td>
                                    <td><pre class="snippet" tabindex="0">{t.user_data.clone()}</pre></td>
                                    <td>
                                        <RowAction action=delete hidden=vec![("id", t.id.to_string())] text="Delete"
                                            label=format!("Delete template {}", t.name) />
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }} />
            <h3>"Create a template"</h3>
            <ActionForm action=create attr:aria-label="Create template" attr:class="form-narrow"
                on:input=show_calls on:change=show_calls><FormToken />
                <FormAlert server=error />
                <TextField label="Name" name="name" id="template-name" placeholder="web-base" server=error />
                <SelectField label="Base image" name="base" id="template-base" server=error>
                    {BUILTIN_TEMPLATES.iter().map(|t| view! { <option value=t.slug>{t.name}</option> }).collect_view()}
                </SelectField>
                <TextAreaField label="Cloud-config" name="user_data" id="template-user-data" rows=6
                    hint="Starts with #cloud-config; at most 16 KiB; indent with spaces."
                    initial="#cloud-config\npackages:\n  - nginx\n" server=error />
                <ChangeButton label="Create template" />
                <ApiCall calls=calls.into() />
            </ActionForm>
        </section>
    }
}
