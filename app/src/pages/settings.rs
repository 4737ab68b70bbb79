//! Settings: profile and password, API keys, users and invitations, quotas, residency, the
//! audit log.

use crate::MeResource;
use crate::api::account::AccountPasswordChange;
use crate::api::api_key::{ApiKey, ApiKeyCreate, ApiKeyRevoke, api_key_list};
use crate::api::settings::{
    AuditEntry, Member, QuotaLines, ResidencySet, UserInvite, UserRemove, UserRoleSet, audit_list,
    quota_view, residency_view, user_list,
};
use crate::components::form::FormToken;
use crate::components::form::{FormAlert, RowAction, SelectField, TextField, action_error};
use crate::components::page::{ListState, PageHeader, Properties};
use leptos::prelude::*;
use meridian_core::Password;
use meridian_core::calendar::format_utc;

fn check_new_password(raw: &str) -> Option<String> {
    Password::parse(raw).err().map(|e| e.to_string())
}

/// The server's rule for a key's name, checked as it is typed.
fn check_key_name(raw: &str) -> Option<String> {
    meridian_core::resource::Name::parse(raw)
        .err()
        .map(|e| e.to_string())
}

/// The settings page.
#[component]
pub fn Settings() -> impl IntoView {
    let me = expect_context::<MeResource>();
    let is_owner = move || {
        me.get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|me| me.role == meridian_core::Role::Owner)
    };
    let change = ServerAction::<AccountPasswordChange>::new();
    let server = action_error(change);
    let done = move || matches!(change.value().get(), Some(Ok(())));
    let invite = ServerAction::<UserInvite>::new();
    let role_set = ServerAction::<UserRoleSet>::new();
    let remove = ServerAction::<UserRemove>::new();
    let residency_set = ServerAction::<ResidencySet>::new();
    let key_create = ServerAction::<ApiKeyCreate>::new();
    let key_revoke = ServerAction::<ApiKeyRevoke>::new();
    view! {
        <PageHeader title="Settings" description="Your profile and API keys, your tenant's users, limits, residency and audit log." />
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
            <p>"Changing your password logs you out everywhere else. Your API keys keep working unless you revoke them here."</p>
            <ActionForm action=change attr:aria-label="Change password" attr:class="form-narrow"><FormToken />
                <FormAlert server />
                <Show when=done>
                    <div class="alert alert-success" role="status">"Password changed. Your other sessions have ended."</div>
                </Show>
                <TextField label="Current password" name="current_password" input_type="password"
                    autocomplete="current-password" server />
                <TextField label="New password" name="new_password" input_type="password" autocomplete="new-password"
                    hint="At least 12 characters." validate=check_new_password server />
                <label class="choice">
                    <input type="checkbox" name="revoke_api_keys" value="on" checked />
                    <span>"Also revoke all my API keys (scripts using them stop working)"</span>
                </label>
                <button type="submit" class="button button-primary" disabled=move || change.pending().get()>
                    "Change password"
                </button>
            </ActionForm>
        </section>
        <ApiKeys create=key_create revoke=key_revoke />
        // Both read who is signed in (owner or not), so they wait for it like every resource read.
        <Transition fallback=|| ()>
            <Users is_owner invite role_set remove />
            <Quotas />
            <Residency is_owner set=residency_set />
        </Transition>
        <AuditLog refresh=Signal::derive(move || {
            change.version().get() + invite.version().get() + role_set.version().get() + remove.version().get()
                + residency_set.version().get() + key_create.version().get() + key_revoke.version().get()
        }) />
    }
}

/// The signed-in user's API keys: made here (the secret shown once), listed with when they were
/// last used, revoked with one click.
#[component]
fn ApiKeys(create: ServerAction<ApiKeyCreate>, revoke: ServerAction<ApiKeyRevoke>) -> impl IntoView {
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| api_key_list(),
    );
    let create_error = action_error(create);
    let revoke_error = action_error(revoke);
    view! {
        <section class="card" aria-labelledby="api-keys-heading">
            <h2 id="api-keys-heading">"API keys"</h2>
            <p>
                "A key lets scripts and tools act as you, with your role: CloudStack tools "
                "(cloudmonkey, libcloud, cs, Terraform's CloudStack provider) sign requests to "
                <code>"/client/api"</code>" with the key and its secret."
            </p>
            <ListState quiet=true load=move || keys.get() is_empty=Vec::is_empty
                empty=|| view! { <p class="empty-state">"No API keys yet. Make one below to automate Meridian."</p> }
                items={move |list: Vec<ApiKey>| view! {
                    <table tabindex="0" class="table" aria-label="API keys">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Made"</th>
                            <th scope="col">"Last used"</th><th scope="col">"Revoke"</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|key| {
                                let label = format!("Revoke {}", key.name);
                                view! {
                                    <tr>
                                        <td>{key.name.clone()}</td>
                                        <td><code>{key.api_key.clone()}</code></td>
                                        <td>{format_utc(key.created_at)}</td>
                                        <td>{key.last_used_at.map_or_else(|| "never".to_owned(), format_utc)}</td>
                                        <td>
                                            <RowAction action=revoke hidden=vec![("id", key.id.to_string())] text="Revoke" label />
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }} />
            <FormAlert server=revoke_error />
            <ActionForm action=create attr:aria-label="Make an API key" attr:class="form-narrow"><FormToken />
                <FormAlert server=create_error />
                <TextField label="Key name" name="name" hint="Like deploy-bot: lowercase letters, digits and hyphens."
                    validate=check_key_name server=create_error />
                <button type="submit" class="button button-primary" disabled=move || create.pending().get()>"Make key"</button>
            </ActionForm>
            {move || create.value().get().and_then(Result::ok).map(|made| view! {
                <div class="alert alert-success" role="status">
                    <p>"Key "<strong>{made.name.clone()}</strong>" made. Copy the secret now: Meridian does not keep it and cannot show it again."</p>
                    <Properties label="New API key" rows=vec![
                        ("API key", made.api_key.clone()),
                        ("Secret", made.secret.clone()),
                    ] />
                </div>
            })}
        </section>
    }
}

#[component]
fn Users(
    is_owner: impl Fn() -> bool + Copy + Send + Sync + 'static,
    invite: ServerAction<UserInvite>,
    role_set: ServerAction<UserRoleSet>,
    remove: ServerAction<UserRemove>,
) -> impl IntoView {
    let users = Resource::new(
        move || {
            (
                invite.version().get(),
                role_set.version().get(),
                remove.version().get(),
            )
        },
        |_| user_list(),
    );
    let invite_error = action_error(invite);
    let change_error = Signal::derive(move || {
        action_error(role_set)
            .get()
            .or_else(|| action_error(remove).get())
    });
    let owner_reason = move || (!is_owner()).then_some("Only an owner can change users.");
    view! {
        <section class="card" aria-labelledby="users-heading">
            <h2 id="users-heading">"Users"</h2>
            <ListState quiet=true load=move || users.get()
                items={move |list: Vec<Member>| view! {
                    <table tabindex="0" class="table" aria-label="Users">
                        <thead><tr><th scope="col">"E-mail"</th><th scope="col">"Role"</th><th scope="col">"Change"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|user| {
                                let id = user.id.clone();
                                let remove_id = user.id.clone();
                                let label = format!("Role for {}", user.email);
                                view! {
                                    <tr>
                                        <td>{user.email.clone()}</td>
                                        <td>{user.role.clone()}</td>
                                        <td>
                                            <ActionForm action=role_set attr:class="inline-form"><FormToken />
                                                <input type="hidden" name="id" value=id />
                                                <select name="role" aria-label=label>
                                                    {["owner", "member", "viewer"].into_iter().map(|r| view! {
                                                        <option value=r selected=r == user.role>{r}</option>
                                                    }).collect_view()}
                                                </select>
                                                <button type="submit" class="button button-secondary" disabled=move || owner_reason().is_some()>"Set role"</button>
                                            </ActionForm>
                                            <ActionForm action=remove attr:class="inline-form"><FormToken />
                                                <input type="hidden" name="id" value=remove_id />
                                                <button type="submit" class="button button-secondary" disabled=move || owner_reason().is_some()>"Remove"</button>
                                            </ActionForm>
                                            <span class="disabled-reason">{owner_reason}</span>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }} />
            <FormAlert server=change_error />
            <h3>"Invite someone"</h3>
            <p>"Meridian shows you an invitation link to send them yourself; it works once, for 7 days."</p>
            <ActionForm action=invite attr:aria-label="Invite user" attr:class="form-grid"><FormToken />
                <FormAlert server=invite_error />
                <TextField label="Their e-mail" name="email" id="invite-email" input_type="email" server=invite_error />
                <SelectField label="Role" name="role" id="invite-role" server=invite_error>
                    <option value="member">"member — creates and operates resources"</option>
                    <option value="viewer">"viewer — reads everything, changes nothing"</option>
                    <option value="owner">"owner — everything, including users and residency"</option>
                </SelectField>
                <div class="form-actions">
                    <button type="submit" class="button button-primary" disabled=move || owner_reason().is_some()>"Create invitation"</button>
                    <span class="disabled-reason">{owner_reason}</span>
                </div>
            </ActionForm>
            {move || invite.value().get().and_then(Result::ok).map(|path| view! {
                <div class="alert alert-success" role="status">
                    "Invitation link (shown once): " <code data-testid="invite-link">{path}</code>
                </div>
            })}
        </section>
    }
}

#[component]
fn Quotas() -> impl IntoView {
    let quotas = Resource::new(|| (), |_| quota_view());
    view! {
        <section class="card" aria-labelledby="quota-heading">
            <h2 id="quota-heading">"Quotas"</h2>
            <p>"What your tenant may use at once. To raise a limit, ask support."</p>
            <ListState quiet=true load=move || quotas.get()
                items={move |q: QuotaLines| view! {
                    <table tabindex="0" class="table" aria-label="Quotas">
                        <thead><tr><th scope="col">"Resource"</th><th scope="col">"In use"</th><th scope="col">"Limit"</th></tr></thead>
                        <tbody>
                            {q.lines.into_iter().map(|(what, used, limit)| view! {
                                <tr><td>{what}</td><td>{used}</td><td>{limit}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }} />
        </section>
    }
}

#[component]
fn Residency(
    is_owner: impl Fn() -> bool + Copy + Send + Sync + 'static,
    set: ServerAction<ResidencySet>,
) -> impl IntoView {
    let current = Resource::new(move || set.version().get(), |_| residency_view());
    let error = action_error(set);
    view! {
        <section class="card" aria-labelledby="residency-heading">
            <h2 id="residency-heading">"Data residency"</h2>
            <p>"Where your VMs may run. Meridian refuses anything outside it, with the rule named. "
                <a href="/residency">"See the evidence: every resource with its zone and country"</a></p>
            <Transition fallback=|| ()>
                {move || current.get().and_then(Result::ok).map(|(stored, label)| view! {
                    <p>"Current policy: " <strong data-testid="residency-label">{label}</strong></p>
                    <ActionForm action=set attr:aria-label="Residency policy" attr:class="form-narrow"><FormToken />
                        <SelectField label="Policy" name="policy" id="residency-policy" with_form_errors=true server=error>
                            {[("anywhere", "Anywhere"), ("eu", "EU only"), ("countries:DE", "Germany only"),
                              ("countries:GB", "United Kingdom only"), ("countries:US", "United States only"),
                              ("countries:CH", "Switzerland only")].into_iter().map(|(value, text)| {
                                let selected = ResidencyMatch::new(value) == ResidencyMatch::new(&stored);
                                view! { <option value=value selected=selected>{text}</option> }
                            }).collect_view()}
                        </SelectField>
                        <button type="submit" class="button button-primary" disabled=move || !is_owner()>"Save policy"</button>
                        <span class="disabled-reason">{move || (!is_owner()).then_some("Only an owner can change the residency policy.")}</span>
                    </ActionForm>
                })}
            </Transition>
        </section>
    }
}

/// Compares policies by meaning ("eu" and its country list are the same policy).
#[derive(PartialEq)]
struct ResidencyMatch(Option<meridian_core::residency::ResidencyPolicy>);

impl ResidencyMatch {
    fn new(stored: &str) -> Self {
        Self(meridian_core::residency::ResidencyPolicy::parse(stored).ok())
    }
}

#[component]
fn AuditLog(refresh: Signal<usize>) -> impl IntoView {
    let entries = Resource::new(move || refresh.get(), |_| audit_list());
    view! {
        <section class="card" aria-labelledby="audit-heading">
            <h2 id="audit-heading">"Audit log"</h2>
            <p>"Who did what in your tenant, when, from where, and with what result (newest first)."</p>
            <ListState quiet=true load=move || entries.get()
                items={move |list: Vec<AuditEntry>| view! {
                    <table tabindex="0" class="table" aria-label="Audit log">
                        <thead><tr>
                            <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th>
                            <th scope="col">"On"</th><th scope="col">"Result"</th><th scope="col">"From"</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|e| view! {
                                <tr>
                                    <td>{format_utc(e.at)}</td><td>{e.actor}</td><td><code>{e.action}</code></td>
                                    <td>{e.target}</td><td>{e.result}</td><td>{e.client}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }} />
        </section>
    }
}
