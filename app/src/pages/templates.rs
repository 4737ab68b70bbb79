//! Templates: the built-in images and the tenant's own, with the creator for cloud-config templates.

use crate::api::template::{TemplateCreate, TemplateDelete, template_list};
use crate::components::form::{FormAlert, action_error};
use crate::components::page::PageHeader;
use leptos::prelude::*;
use meridian_core::resource::BUILTIN_TEMPLATES;

/// The templates page.
#[component]
pub fn TemplatesPage() -> impl IntoView {
    let create = ServerAction::<TemplateCreate>::new();
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
            <table class="table" aria-label="Built-in templates">
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
            <Transition fallback=|| ()>
                {move || own.get().and_then(Result::ok).map(|list| if list.is_empty() {
                    view! { <p>"None yet. Create one below: pick a base image and add the cloud-config your VMs should start with."</p> }.into_any()
                } else {
                    view! {
                        <table class="table" aria-label="Your templates">
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Based on"</th><th scope="col">"Cloud-config"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| view! {
                                    <tr>
                                        <td>{t.name.clone()}</td>
                                        <td>{t.base_name.clone()}</td>
                                        <td><pre class="snippet">{t.user_data.clone()}</pre></td>
                                        <td>
                                            <ActionForm action=delete attr:class="inline-form">
                                                <input type="hidden" name="id" value=t.id.to_string() />
                                                <button type="submit" class="button button-secondary" aria-label=format!("Delete template {}", t.name)>"Delete"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })}
            </Transition>
            <h3>"Create a template"</h3>
            <ActionForm action=create attr:aria-label="Create template" attr:class="form-narrow">
                <FormAlert server=error />
                <div class="field">
                    <label for="template-name">"Name"</label>
                    <input id="template-name" name="name" placeholder="web-base" />
                    <p class="field-error" aria-live="polite">{move || error.get().and_then(|e| e.field("name"))}</p>
                </div>
                <div class="field">
                    <label for="template-base">"Base image"</label>
                    <select id="template-base" name="base">
                        {BUILTIN_TEMPLATES.iter().map(|t| view! { <option value=t.slug>{t.name}</option> }).collect_view()}
                    </select>
                    <p class="field-error" aria-live="polite">{move || error.get().and_then(|e| e.field("base"))}</p>
                </div>
                <div class="field">
                    <label for="template-user-data">"Cloud-config"</label>
                    <p class="field-hint">"Starts with #cloud-config; at most 16 KiB; indent with spaces."</p>
                    <textarea id="template-user-data" name="user_data" rows="6">"#cloud-config\npackages:\n  - nginx\n"</textarea>
                    <p class="field-error" aria-live="polite">{move || error.get().and_then(|e| e.field("user_data"))}</p>
                </div>
                <button type="submit" class="button button-primary">"Create template"</button>
            </ActionForm>
        </section>
    }
}
