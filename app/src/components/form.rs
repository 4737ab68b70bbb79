//! Form fields with their label, hint and error next to them, and the form-level alert.

use crate::error::AppError;
use leptos::prelude::*;

/// A validator shared with the server, returning the message to show, if any.
pub type Validator = fn(&str) -> Option<String>;

/// The message a field shows: the browser-side check once the field has been visited, otherwise
/// the server's error for `name` (or for `also`, or the form's own error when `with_form_errors`)
/// until the field is edited again.
struct FieldErrorState {
    error: Memo<Option<String>>,
    set_value: WriteSignal<String>,
    set_touched: WriteSignal<bool>,
    set_edited: WriteSignal<bool>,
}

impl FieldErrorState {
    fn new(
        name: &'static str,
        also: Option<&'static str>,
        with_form_errors: bool,
        validate: Option<Validator>,
        server: Signal<Option<AppError>>,
    ) -> Self {
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
            let remote = server.get().filter(|_| !edited_since_submit.get()).and_then(|e| {
                e.field(name)
                    .or_else(|| also.and_then(|also| e.field(also)))
                    .or_else(|| with_form_errors.then(|| e.form_message()).flatten())
            });
            local.or(remote)
        });
        Self {
            error,
            set_value,
            set_touched,
            set_edited,
        }
    }
}

/// The ids a field's control points at: its hint (if it has one) and its error (while it has one).
fn described_by(
    hint_id: Option<String>,
    error_id: String,
    error: Memo<Option<String>>,
) -> impl Fn() -> Option<String> + Clone + Send + Sync + 'static {
    move || {
        let ids: Vec<&str> = hint_id
            .as_deref()
            .into_iter()
            .chain(error.get().is_some().then_some(error_id.as_str()))
            .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

/// A labelled input. Once the user leaves the field, `validate` runs in the browser (the same
/// core rule the server applies); otherwise the server's error for `name` is shown.
#[component]
pub fn TextField(
    /// The visible label, also the accessible name.
    label: &'static str,
    /// The form field name the server function expects.
    name: &'static str,
    /// The input's id (its hint and error ids derive from it); `field-<name>` by default. Give one
    /// when a page has two forms with a field of the same name.
    #[prop(optional, into)]
    id: Option<String>,
    /// The input type.
    #[prop(default = "text")]
    input_type: &'static str,
    /// The browser's autocomplete hint.
    #[prop(default = "off")]
    autocomplete: &'static str,
    /// The virtual keyboard to offer, e.g. `numeric`.
    #[prop(optional)]
    inputmode: Option<&'static str>,
    /// An example value shown while the field is empty.
    #[prop(optional, into)]
    placeholder: Option<String>,
    /// Help text under the label.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// Browser-side validation, run once the field has been visited.
    #[prop(optional)]
    validate: Option<Validator>,
    /// The value the field starts with (e.g. the current setting).
    #[prop(optional, into)]
    initial: Option<String>,
    /// Also show the errors that belong to no field here, for a small form with no alert of its own.
    #[prop(optional)]
    with_form_errors: bool,
    /// The last server response, whose error for `name` is shown.
    #[prop(into)]
    server: Signal<Option<AppError>>,
) -> impl IntoView {
    let state = FieldErrorState::new(name, None, with_form_errors, validate, server);
    let FieldErrorState {
        error,
        set_value,
        set_touched,
        set_edited,
    } = state;
    let id = id.unwrap_or_else(|| format!("field-{name}"));
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = described_by(hint.map(|_| hint_id.clone()), error_id.clone(), error);
    view! {
        <div class="field" class:field-invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|hint| view! { <p class="field-hint" id=hint_id.clone()>{hint}</p> })}
            <input
                id=id.clone()
                name=name
                type=input_type
                autocomplete=autocomplete
                inputmode=inputmode
                placeholder=placeholder
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
            <p class="field-error" id=error_id aria-live="polite">
                {move || error.get()}
            </p>
        </div>
    }
}

/// A labelled multi-line text field, with its hint and error like [`TextField`].
#[component]
pub fn TextAreaField(
    /// The visible label, also the accessible name.
    label: &'static str,
    /// The form field name the server function expects.
    name: &'static str,
    /// The textarea's id; `field-<name>` by default.
    #[prop(optional, into)]
    id: Option<String>,
    /// Visible lines.
    #[prop(default = 4)]
    rows: u32,
    /// An example value shown while the field is empty.
    #[prop(optional)]
    placeholder: Option<&'static str>,
    /// Help text under the label.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// The text the field starts with.
    #[prop(optional)]
    initial: &'static str,
    /// The last server response, whose error for `name` is shown.
    #[prop(into)]
    server: Signal<Option<AppError>>,
) -> impl IntoView {
    let FieldErrorState {
        error,
        set_value: _,
        set_touched: _,
        set_edited,
    } = FieldErrorState::new(name, None, false, None, server);
    let id = id.unwrap_or_else(|| format!("field-{name}"));
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = described_by(hint.map(|_| hint_id.clone()), error_id.clone(), error);
    view! {
        <div class="field" class:field-invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|hint| view! { <p class="field-hint" id=hint_id.clone()>{hint}</p> })}
            <textarea
                id=id.clone()
                name=name
                rows=rows
                placeholder=placeholder
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=described_by
                on:input=move |_| set_edited.set(true)
            >
                {initial}
            </textarea>
            <p class="field-error" id=error_id aria-live="polite">
                {move || error.get()}
            </p>
        </div>
    }
}

/// A labelled drop-down whose options are its children, with its hint and error like [`TextField`].
#[component]
pub fn SelectField(
    /// The visible label, also the accessible name.
    label: &'static str,
    /// The form field name the server function expects.
    name: &'static str,
    /// The select's id; `field-<name>` by default.
    #[prop(optional, into)]
    id: Option<String>,
    /// Help text under the select (it may change, e.g. with the choice).
    #[prop(optional, into)]
    hint: Option<ViewFn>,
    /// Another field whose error belongs next to this one (e.g. the zone, chosen through the VDC).
    #[prop(optional)]
    also: Option<&'static str>,
    /// Also show the errors that belong to no field here, for a small form with no alert of its own.
    #[prop(optional)]
    with_form_errors: bool,
    /// Called with the new value whenever the choice changes.
    #[prop(optional, into)]
    on_change: Option<Callback<String>>,
    /// Hides the field while it does not apply (e.g. the other branch of a radio choice).
    #[prop(optional, into)]
    hidden: Signal<bool>,
    /// The last server response, whose error for `name` is shown.
    #[prop(into)]
    server: Signal<Option<AppError>>,
    /// The options.
    children: Children,
) -> impl IntoView {
    let FieldErrorState {
        error,
        set_value: _,
        set_touched: _,
        set_edited,
    } = FieldErrorState::new(name, also, with_form_errors, None, server);
    let id = id.unwrap_or_else(|| format!("field-{name}"));
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = described_by(hint.as_ref().map(|_| hint_id.clone()), error_id.clone(), error);
    view! {
        <div class="field" class:field-invalid=move || error.get().is_some() class:hidden=move || hidden.get()>
            <label for=id.clone()>{label}</label>
            <select
                id=id.clone()
                name=name
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=described_by
                on:change=move |ev| {
                    set_edited.set(true);
                    if let Some(on_change) = on_change {
                        on_change.run(event_target_value(&ev));
                    }
                }
            >
                {children()}
            </select>
            {hint.map(|hint| view! { <p class="field-hint" id=hint_id.clone()>{hint.run()}</p> })}
            <p class="field-error" id=error_id aria-live="polite">
                {move || error.get()}
            </p>
        </div>
    }
}

/// The server's error for a group of choices (radio buttons, checkboxes) that is not one control.
#[component]
pub fn ChoiceError(
    /// The form field name the server function expects.
    name: &'static str,
    /// Another field whose error belongs here too.
    #[prop(optional)]
    also: Option<&'static str>,
    /// The paragraph's id, for the group's `aria-describedby`.
    #[prop(optional)]
    id: Option<&'static str>,
    /// The last server response.
    #[prop(into)]
    server: Signal<Option<AppError>>,
) -> impl IntoView {
    view! {
        <p class="field-error" id=id aria-live="polite">
            {move || {
                server
                    .get()
                    .and_then(|e| e.field(name).or_else(|| also.and_then(|also| e.field(also))))
            }}
        </p>
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

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_core::FieldErrors;

    fn rendered(view: impl FnOnce(Signal<Option<AppError>>) -> AnyView, error: Option<AppError>) -> String {
        let owner = Owner::new();
        owner.set();
        view(Signal::derive(move || error.clone())).to_html()
    }

    fn invalid(field: &str, message: &str) -> Option<AppError> {
        let mut fields = FieldErrors::default();
        fields.push(field, message);
        Some(AppError::Invalid { fields })
    }

    #[test]
    fn a_server_error_shows_next_to_its_field_and_marks_it_invalid() {
        let html = rendered(
            |server| {
                view! { <TextField label="Port" name="port_from" id="fw-lon1-from" server /> }.into_any()
            },
            invalid("port_from", "Enter a port between 1 and 65535."),
        );
        assert!(
            html.contains(r#"<label for="fw-lon1-from">Port</label>"#),
            "{html}"
        );
        assert!(html.contains(r#"aria-invalid="true""#), "{html}");
        assert!(
            html.contains(r#"aria-describedby="fw-lon1-from-error""#),
            "{html}"
        );
        assert!(html.contains("Enter a port between 1 and 65535."), "{html}");

        let html = rendered(
            |server| view! { <TextField label="Port" name="port_from" server /> }.into_any(),
            invalid("port_to", "Enter a port between 1 and 65535."),
        );
        assert!(html.contains(r#"aria-invalid="false""#), "{html}");
        assert!(!html.contains("Enter a port"), "{html}");
    }

    #[test]
    fn a_select_shows_its_own_error_a_related_one_and_form_errors_when_asked() {
        let vdc = |server| {
            view! { <SelectField label="VDC" name="vdc_id" also="zone" server><option value="a">"a"</option></SelectField> }
                .into_any()
        };
        assert!(rendered(vdc, invalid("zone", "Choose a zone.")).contains("Choose a zone."));

        let policy = |server| {
            view! { <SelectField label="Policy" name="policy" with_form_errors=true server><option value="eu">"EU only"</option></SelectField> }
                .into_any()
        };
        let refused = Some(AppError::Forbidden(
            "Only an owner can change the residency policy.".to_owned(),
        ));
        assert!(rendered(policy, refused.clone()).contains("Only an owner can change"));
        let quiet = |server| {
            view! { <SelectField label="Policy" name="policy" server><option value="eu">"EU only"</option></SelectField> }
                .into_any()
        };
        assert!(!rendered(quiet, refused).contains("Only an owner can change"));
    }

    #[test]
    fn a_text_area_keeps_its_initial_text_and_hint() {
        let html = rendered(
            |server| {
                view! {
                    <TextAreaField label="Cloud-config" name="user_data" rows=6 hint="Starts with #cloud-config."
                        initial="#cloud-config\npackages: []\n" server />
                }
                .into_any()
            },
            None,
        );
        assert!(
            html.contains("#cloud-config\npackages: []\n</textarea>"),
            "{html}"
        );
        assert!(
            html.contains(r#"aria-describedby="field-user_data-hint""#),
            "{html}"
        );
    }
}
