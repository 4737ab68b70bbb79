//! Form fields with their label, hint and error next to them, and the form-level alert.

use crate::error::AppError;
use leptos::prelude::*;

/// A validator shared with the server, returning the message to show, if any.
pub type Validator = fn(&str) -> Option<String>;

/// A labelled input. Once the user leaves the field, `validate` runs in the browser (the same
/// core rule the server applies); otherwise the server's error for `name` is shown.
#[component]
pub fn TextField(
    /// The visible label, also the accessible name.
    label: &'static str,
    /// The form field name the server function expects.
    name: &'static str,
    /// The input type.
    #[prop(default = "text")]
    input_type: &'static str,
    /// The browser's autocomplete hint.
    #[prop(default = "off")]
    autocomplete: &'static str,
    /// Help text under the label.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// Browser-side validation, run once the field has been visited.
    #[prop(optional)]
    validate: Option<Validator>,
    /// The value the field starts with (e.g. the current setting).
    #[prop(optional, into)]
    initial: Option<String>,
    /// The last server response, whose error for `name` is shown.
    #[prop(into)]
    server: Signal<Option<AppError>>,
) -> impl IntoView {
    let (value, set_value) = signal(String::new());
    let (touched, set_touched) = signal(false);
    let (edited_since_submit, set_edited) = signal(false);
    Effect::new(move |_| {
        server.track();
        set_edited.set(false);
    });
    let error = Memo::new(move |_| {
        let local = validate
            .filter(|_| touched.get())
            .and_then(|check| check(&value.get()));
        let remote = server
            .get()
            .filter(|_| !edited_since_submit.get())
            .and_then(|e| e.field(name));
        local.or(remote)
    });
    let id = format!("field-{name}");
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:field-invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|hint| view! { <p class="field-hint" id=hint_id.clone()>{hint}</p> })}
            <input
                id=id.clone()
                name=name
                type=input_type
                autocomplete=autocomplete
                value=initial
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=described_by
                on:input=move |ev| {
                    set_value.set(event_target_value(&ev));
                    set_edited.set(true);
                }
                on:blur=move |ev| {
                    set_value.set(event_target_value(&ev));
                    set_touched.set(true);
                }
            />
            <p class="field-error" id=error_id.clone() aria-live="polite">
                {move || error.get()}
            </p>
        </div>
    }
}

/// The form-level alert for errors that belong to no single field.
#[component]
pub fn FormAlert(
    /// The last server response.
    #[prop(into)]
    server: Signal<Option<AppError>>,
) -> impl IntoView {
    move || {
        server
            .get()
            .and_then(|error| error.form_message())
            .map(|message| {
                view! {
                    <div class="alert alert-error" role="alert">
                        {message}
                    </div>
                }
            })
    }
}

/// The error of a server action's last result, if it failed.
pub fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}
