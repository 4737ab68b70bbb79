//! Form fields with their label, hint and error next to them, and the form-level alert.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::client::Client;
use leptos::server_fn::codec::PostUrl;
use leptos::server_fn::request::ClientReq;
use leptos::server_fn::{Http, ServerFn};
use leptos::web_sys::FormData;
use serde::de::DeserializeOwned;

/// The session's form token as a hidden field: the same-origin proof that a form posted by a
/// browser sending neither `Origin` nor `Sec-Fetch-Site` carries (the server refuses such a
/// change without it). Every form that changes something holds one.
#[component]
pub fn FormToken() -> impl IntoView {
    view! { <input type="hidden" name=meridian_core::form_token::FORM_FIELD value=form_token() /> }
}

/// This page's form token: on the server made from the request's session cookie, in the browser
/// read from the `<meta name="meridian-form-token">` the server put in the page.
pub fn form_token() -> String {
    #[cfg(feature = "ssr")]
    {
        crate::server::form_token()
    }
    #[cfg(not(feature = "ssr"))]
    {
        leptos::prelude::document()
            .query_selector("meta[name=meridian-form-token]")
            .ok()
            .flatten()
            .and_then(|meta| meta.get_attribute("content"))
            .unwrap_or_default()
    }
}

/// Why the signed-in visitor may not change the tenant's resources, or None when they may (or
/// nobody is signed in: the page sends them to log in). A support inspection says so, rather
/// than calling the staff member a viewer.
pub fn change_refusal(me: Option<&crate::api::account::Me>) -> Option<&'static str> {
    let me = me?;
    if me.inspection.is_some() {
        Some("Support inspection is read-only: nothing can be changed.")
    } else if !me.role.can_mutate() {
        Some("Viewers can look but not change anything; an owner can make you a member.")
    } else {
        None
    }
}

/// The submit button of a form that changes the tenant's resources: for a viewer or a support
/// inspection it is disabled, with the reason under it (the server refuses them anyway), and it
/// is disabled while the form is being sent.
#[component]
pub fn ChangeButton(
    /// The button's text.
    #[prop(into)]
    label: String,
    /// Its classes.
    #[prop(default = "button button-primary")]
    class: &'static str,
    /// True while the form is being sent.
    #[prop(optional, into)]
    pending: Signal<bool>,
) -> impl IntoView {
    let me = expect_context::<crate::MeResource>();
    let refusal = move || change_refusal(me.get().and_then(Result::ok).flatten().as_ref());
    let reason_id = format!("refused-{}", label.to_lowercase().replace(' ', "-"));
    view! {
        <Transition fallback=|| ()>
            {move || {
                let refused = refusal();
                let reason_id = reason_id.clone();
                view! {
                    <button type="submit" class=class disabled=move || refused.is_some() || pending.get()
                        aria-describedby=refused.map(|_| reason_id.clone())>{label.clone()}</button>
                    {refused.map(|reason| view! { <p class="field-hint refused" id=reason_id>{reason}</p> })}
                }
            }}
        </Transition>
    }
}

/// A validator shared with the server, returning the message to show, if any.
pub type Validator = fn(&str) -> Option<String>;

/// What every kind of field shares: its ids, and the message it shows — the browser-side check
/// once the field has been visited, otherwise the server's error for `name` (or for `also`, or the
/// form's own error when `with_form_errors`) until the field is edited again.
#[derive(Clone)]
struct FieldParts {
    id: String,
    hint_id: Option<String>,
    error_id: String,
    error: Memo<Option<String>>,
    set_value: WriteSignal<String>,
    set_touched: WriteSignal<bool>,
    set_edited: WriteSignal<bool>,
}

/// Which server errors a field shows, besides its own.
#[derive(Clone, Copy, Default)]
struct Shows {
    also: Option<&'static str>,
    form_errors: bool,
}

impl FieldParts {
    fn new(
        name: &'static str,
        id: Option<String>,
        has_hint: bool,
        shows: Shows,
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
                    .or_else(|| shows.also.and_then(|also| e.field(also)))
                    .or_else(|| shows.form_errors.then(|| e.form_message()).flatten())
            });
            local.or(remote)
        });
        let id = id.unwrap_or_else(|| format!("field-{name}"));
        Self {
            hint_id: has_hint.then(|| format!("{id}-hint")),
            error_id: format!("{id}-error"),
            id,
            error,
            set_value,
            set_touched,
            set_edited,
        }
    }

    /// `aria-invalid` for the control.
    fn invalid(&self) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
        let error = self.error;
        move || if error.get().is_some() { "true" } else { "false" }
    }

    /// `aria-describedby` for the control: its hint, and its error while it has one.
    fn described_by(&self) -> impl Fn() -> Option<String> + Clone + Send + Sync + 'static {
        let (hint_id, error_id, error) = (self.hint_id.clone(), self.error_id.clone(), self.error);
        move || {
            let ids: Vec<&str> = hint_id
                .as_deref()
                .into_iter()
                .chain(error.get().is_some().then_some(error_id.as_str()))
                .collect();
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    }

    /// The field around its control: label, hint (before the control, or after it), the error.
    fn frame(
        self,
        label: &'static str,
        hint: Option<AnyView>,
        hint_after: bool,
        hidden: Signal<bool>,
        control: AnyView,
    ) -> impl IntoView {
        let error = self.error;
        let hint = hint.map(|hint| view! { <p class="field-hint" id=self.hint_id.clone()>{hint}</p> });
        let (before, after) = if hint_after { (None, hint) } else { (hint, None) };
        view! {
            <div class="field" class:field-invalid=move || error.get().is_some() class:hidden=move || hidden.get()>
                <label for=self.id>{label}</label>
                {before}
                {control}
                {after}
                <p class="field-error" id=self.error_id aria-live="polite">
                    {move || error.get()}
                </p>
            </div>
        }
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
    let shows = Shows {
        also: None,
        form_errors: with_form_errors,
    };
    let parts = FieldParts::new(name, id, hint.is_some(), shows, validate, server);
    let (set_value, set_touched, set_edited) = (parts.set_value, parts.set_touched, parts.set_edited);
    let control = view! {
        <input
            id=parts.id.clone()
            name=name
            type=input_type
            autocomplete=autocomplete
            inputmode=inputmode
            placeholder=placeholder
            value=initial
            aria-invalid=parts.invalid()
            aria-describedby=parts.described_by()
            on:input=move |ev| {
                set_value.set(event_target_value(&ev));
                set_edited.set(true);
            }
            on:blur=move |ev| {
                set_value.set(event_target_value(&ev));
                set_touched.set(true);
            }
        />
    };
    parts.frame(
        label,
        hint.map(IntoAny::into_any),
        false,
        Signal::default(),
        control.into_any(),
    )
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
    let parts = FieldParts::new(name, id, hint.is_some(), Shows::default(), None, server);
    let set_edited = parts.set_edited;
    let control = view! {
        <textarea
            id=parts.id.clone()
            name=name
            rows=rows
            placeholder=placeholder
            aria-invalid=parts.invalid()
            aria-describedby=parts.described_by()
            on:input=move |_| set_edited.set(true)
        >
            {initial}
        </textarea>
    };
    parts.frame(
        label,
        hint.map(IntoAny::into_any),
        false,
        Signal::default(),
        control.into_any(),
    )
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
    let shows = Shows {
        also,
        form_errors: with_form_errors,
    };
    let parts = FieldParts::new(name, id, hint.is_some(), shows, None, server);
    let set_edited = parts.set_edited;
    let control = view! {
        <select
            id=parts.id.clone()
            name=name
            aria-invalid=parts.invalid()
            aria-describedby=parts.described_by()
            on:change=move |ev| {
                set_edited.set(true);
                if let Some(on_change) = on_change {
                    on_change.run(event_target_value(&ev));
                }
            }
        >
            {children()}
        </select>
    };
    parts.frame(
        label,
        hint.map(|hint| hint.run()),
        true,
        hidden,
        control.into_any(),
    )
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

/// A one-button form on a row of a list (remove, revoke, delete): hidden inputs say which thing,
/// the button's accessible name says it in words ("Remove key laptop").
#[component]
pub fn RowAction<ServFn, OutputProtocol>(
    /// The action the button runs.
    action: ServerAction<ServFn>,
    /// Hidden `(name, value)` inputs, e.g. `[("id", key.id)]`.
    hidden: Vec<(&'static str, String)>,
    /// The button's text.
    text: &'static str,
    /// The button's accessible name.
    #[prop(into)]
    label: String,
) -> impl IntoView
where
    ServFn:
        DeserializeOwned + ServerFn<Protocol = Http<PostUrl, OutputProtocol>> + Clone + Send + Sync + 'static,
    <<ServFn::Client as Client<ServFn::Error>>::Request as ClientReq<ServFn::Error>>::FormData:
        From<FormData>,
    ServFn::Output: Send + Sync + 'static,
    ServFn::Error: Send + Sync + 'static,
    <ServFn as ServerFn>::Client: Client<<ServFn as ServerFn>::Error>,
{
    view! {
        <ActionForm action attr:class="inline-form"><FormToken />
            {hidden.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value /> }).collect_view()}
            <button type="submit" class="button button-secondary" aria-label=label>{text}</button>
        </ActionForm>
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
