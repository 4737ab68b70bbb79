//! The staff console: Meridian's support and admin staff log in here (never on the tenants'
//! page), find tenants, inspect one read-only, suspend, change quotas, watch capacity and the
//! job queue.

use crate::api::staff::{
    AgentHost, Capacity, JobLine, JobQueue, StaffBackboneLinkSet, StaffHostDrain, StaffInspectStart,
    StaffJobCancel, StaffJobRetry, StaffLogin, StaffLogout, StaffMe, StaffQuotaSet, TENANT_SORTS, TenantInfo,
    TenantPage, TenantSuspend, TenantUnsuspend, ZoneCapacity, capacity_view, staff_jobs, staff_tenant,
    staff_tenants, staff_view,
};
use crate::components::form::FormToken;
use crate::components::form::{FormAlert, TextField, action_error};
use crate::components::load_page;
use crate::components::page::{EmptyState, ListState, PageHeader, Properties};
use crate::error::AppError;
use crate::pages::login::AuthCard;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet, Redirect};
use leptos_router::hooks::{use_params_map, use_query_map};
use meridian_core::calendar::{format_duration, format_utc, format_utc_seconds};
use meridian_core::zone::zone_label;
use std::time::Duration;

/// The signed-in staff member, for the console's pages.
type StaffResource = Resource<Result<Option<StaffMe>, AppError>>;

/// The staff log-in page.
#[component]
pub fn StaffLoginPage() -> impl IntoView {
    let login = ServerAction::<StaffLogin>::new();
    let server = action_error(login);
    Effect::new(move |_| {
        if let Some(Ok(())) = login.value().get() {
            load_page("/staff");
        }
    });
    view! {
        <leptos_meta::Title text="Staff log-in" />
        <AuthCard title="Meridian staff console">
            <p class="muted">"For Meridian's support and admin staff. Customers log in at " <a href="/login">"the dashboard"</a> "."</p>
            <ActionForm action=login attr:aria-label="Staff log-in"><FormToken />
                <FormAlert server />
                <TextField label="E-mail" name="email" input_type="email" autocomplete="username" server />
                <TextField label="Password" name="password" input_type="password" autocomplete="current-password" server />
                <button type="submit" class="button button-primary button-block" disabled=move || login.pending().get()>"Log in"</button>
            </ActionForm>
        </AuthCard>
    }
}

/// The console's layout: its own navigation, who is signed in, and log out. Anyone who is not
/// signed-in staff is sent to the staff log-in.
#[component]
pub fn StaffShell() -> impl IntoView {
    let staff: StaffResource = Resource::new_blocking(|| (), |_| staff_view());
    let logout = ServerAction::<StaffLogout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            load_page("/staff/login");
        }
    });
    let me = move || staff.get().and_then(Result::ok).flatten();
    // The page (the outlet) is not inside a closure over who is signed in: there it was made
    // again each time that resource settled, and its own data fetched again — the tenant list
    // searched three times per page load (issue 24). The pages' server functions refuse anyone
    // but staff whatever the layout shows.
    view! {
        <Transition fallback=|| ()>
            {move || matches!(staff.get(), Some(Ok(None) | Err(_))).then(|| view! { <Redirect path="/staff/login" /> })}
        </Transition>
        <div class="app app-staff">
            <crate::components::shell::SkipLink />
            <aside class="sidebar">
                <a class="brand" href="/staff" aria-label="Staff console home"><span>"Meridian staff"</span></a>
                <crate::components::shell::NavToggle>
                    <nav aria-label="Staff">
                        <ul>
                            <li><A href="/staff" exact=true>"Tenants"</A></li>
                            <li><A href="/staff/capacity">"Capacity"</A></li>
                            <li><A href="/staff/jobs">"Jobs"</A></li>
                        </ul>
                    </nav>
                </crate::components::shell::NavToggle>
            </aside>
            <div class="main">
                <header class="topbar">
                    <div class="topbar-tenant"><span class="topbar-label">"Staff console"</span></div>
                    <Transition fallback=|| ()>
                        {move || me().map(|me| view! {
                            <div class="topbar-user">
                                <span class="topbar-email">{me.email.clone()}</span>
                                <span class="badge">{me.role.as_str()}</span>
                                <ActionForm action=logout attr:class="inline-form"><FormToken />
                                    <button type="submit" class="button button-secondary">"Log out"</button>
                                </ActionForm>
                            </div>
                        })}
                    </Transition>
                </header>
                <main id="content" tabindex="-1">
                    <Transition fallback=|| ()>
                        {move || me().and_then(|me| me.inspecting).map(|(_, name)| view! {
                            <div class="alert alert-warning" role="status">
                                "You are inspecting " <strong>{name}</strong> " read-only. "
                                <a href="/">"Back to its dashboard"</a>
                            </div>
                        })}
                    </Transition>
                    <Outlet />
                </main>
            </div>
        </div>
    }
}

/// Tenants with search, order and totals, a page at a time.
#[component]
pub fn StaffTenantsPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let sort = move || {
        query
            .read()
            .get("sort")
            .unwrap_or_else(|| TENANT_SORTS[0].0.to_owned())
    };
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let tenants = Resource::new(
        move || (q(), sort(), page()),
        |(q, sort, page)| staff_tenants(q, Some(sort), Some(page)),
    );
    // The address of another page of this search and order.
    let page_href = move |page: u32| {
        let mut query = vec![("sort", sort()), ("page", page.to_string())];
        if !q().is_empty() {
            query.insert(0, ("q", q()));
        }
        let query = query
            .into_iter()
            .map(|(key, value)| format!("{key}={}", crate::html::query_value(&value)))
            .collect::<Vec<_>>()
            .join("&");
        format!("/staff?{query}")
    };
    view! {
        <PageHeader title="Tenants" description="Every customer organisation with this month's totals, 50 a page." />
        <form method="get" action="/staff" class="search-form" role="search" aria-label="Tenants">
            <label for="tenant-search">"Search tenants"</label>
            <input id="tenant-search" type="search" name="q" value=q placeholder="Name, e-mail or id" />
            <label for="tenant-sort">"Order"</label>
            <select id="tenant-sort" name="sort">
                {TENANT_SORTS.iter().map(|(key, label)| view! {
                    <option value=*key selected=move || sort() == *key>{*label}</option>
                }).collect_view()}
            </select>
            <button type="submit" class="button button-secondary">"Search"</button>
        </form>
        <ListState load=move || tenants.get() is_empty={|page: &TenantPage| page.tenants.is_empty()}
            empty=move || view! {
                <EmptyState title=if page() == 0 { "No tenants match".to_owned() } else { "No more tenants".to_owned() }>
                    <p>"Search by part of the organisation's name, a user's e-mail address, or the tenant id."</p>
                    {(page() > 0).then(|| view! { <p><a href=page_href(0)>"Back to the first page"</a></p> })}
                </EmptyState>
            }
            items={move |list: TenantPage| view! {
                <table tabindex="0" class="table" aria-label="Tenants">
                    <thead><tr>
                        <th scope="col">"Tenant"</th><th scope="col">"Owner"</th><th scope="col">"VMs"</th>
                        <th scope="col">"Zones"</th><th scope="col">"Spend this month"</th><th scope="col">"Status"</th>
                    </tr></thead>
                    <tbody>
                        {list.tenants.into_iter().map(|t| view! {
                            <tr>
                                <td><a href=format!("/staff/tenants/{}", t.id)>{t.name.clone()}</a></td>
                                <td>{t.owner_email.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                <td>{t.vms}</td>
                                <td>{t.zones}</td>
                                <td>{t.spend.format_cents()}</td>
                                <td>{match &t.suspended {
                                    Some(_) => view! { <span class="badge badge-danger">"Suspended"</span> }.into_any(),
                                    None => view! { <span class="badge badge-success">"Active"</span> }.into_any(),
                                }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <nav class="pager" aria-label="Pages of tenants">
                    {(list.page > 0).then(|| view! { <a class="button button-secondary" href=page_href(list.page - 1)>"Previous page"</a> })}
                    <span>{format!("Page {}", list.page + 1)}</span>
                    {list.more.then(|| view! { <a class="button button-secondary" href=page_href(list.page + 1)>"Next page"</a> })}
                </nav>
            }} />
    }
}

/// One tenant: totals, users, quota, audit; inspect read-only; suspend and quotas for admins.
#[component]
pub fn StaffTenantPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let suspend = ServerAction::<TenantSuspend>::new();
    let unsuspend = ServerAction::<TenantUnsuspend>::new();
    let quota = ServerAction::<StaffQuotaSet>::new();
    let tenant = Resource::new(
        move || {
            (
                id(),
                suspend.version().get(),
                unsuspend.version().get(),
                quota.version().get(),
            )
        },
        |(id, ..)| staff_tenant(id),
    );
    view! {
        <ListState not_found=true load=move || tenant.get()
            items={move |info: TenantInfo| tenant_body(info, suspend, unsuspend, quota)} />
    }
}

fn tenant_body(
    info: TenantInfo,
    suspend: ServerAction<TenantSuspend>,
    unsuspend: ServerAction<TenantUnsuspend>,
    quota: ServerAction<StaffQuotaSet>,
) -> impl IntoView {
    let admin = info.admin;
    let inspect = ServerAction::<StaffInspectStart>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = inspect.value().get() {
            load_page("/");
        }
    });
    let inspect_error = action_error(inspect);
    let suspend_error = action_error(suspend);
    let unsuspend_error = action_error(unsuspend);
    let quota_error = action_error(quota);
    let line = info.line.clone();
    let id = line.id.to_string();
    let (id_suspend, id_quota) = (id.clone(), id.clone());
    let quota_limits = info.quota_limits.clone();
    let status = match &line.suspended {
        Some(reason) => format!("Suspended: {reason}"),
        None => "Active".to_owned(),
    };
    let suspended = line.suspended.is_some();
    view! {
        <leptos_meta::Title text=format!("Tenant {}", line.name) />
        <header class="page-header"><h1>"Tenant " {line.name.clone()}</h1></header>
        <Properties label="Tenant" rows=vec![
            ("Id", line.id.to_string()),
            ("Owner", line.owner_email.clone().unwrap_or_else(|| "—".to_owned())),
            ("Signed up", format_utc(line.created_at)),
            ("VMs", line.vms.to_string()),
            ("Zones", line.zones.to_string()),
            ("Spend this month", line.spend.format_cents()),
            ("Status", status),
        ] />
        <section class="card" aria-labelledby="inspect-heading">
            <h2 id="inspect-heading">"Inspect read-only"</h2>
            <p class="muted">"You will see this tenant's dashboard as a viewer does; every change is refused. Your name, the time and the reason go into the tenant's audit log, which its owners read."</p>
            <ActionForm action=inspect attr:aria-label="Inspect tenant" attr:class="form-grid"><FormToken />
                <input type="hidden" name="tenant_id" value=id />
                <FormAlert server=inspect_error />
                <TextField label="Reason" name="reason" hint="e.g. the ticket number and what you will look at" server=inspect_error />
                <button type="submit" class="button button-primary">"Inspect read-only"</button>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="suspend-heading">
            <h2 id="suspend-heading">{if suspended { "Suspension" } else { "Suspend" }}</h2>
            <p class="muted">"A suspended tenant's users are logged out and can only see a notice; nothing new is created; its VMs keep running."</p>
            {(!admin).then(|| view! { <p class="field-hint">"Only admins can suspend or unsuspend a tenant."</p> })}
            {if suspended {
                view! {
                    <ActionForm action=unsuspend attr:aria-label="Unsuspend tenant"><FormToken />
                        <input type="hidden" name="tenant_id" value=id_suspend.clone() />
                        <FormAlert server=unsuspend_error />
                        <button type="submit" class="button button-primary" disabled=!admin>"Unsuspend"</button>
                    </ActionForm>
                }.into_any()
            } else {
                view! {
                    <ActionForm action=suspend attr:aria-label="Suspend tenant" attr:class="form-grid"><FormToken />
                        <input type="hidden" name="tenant_id" value=id_suspend.clone() />
                        <FormAlert server=suspend_error />
                        <TextField label="Reason for suspension" name="suspend_reason" hint="The tenant's owners read it in their audit log." server=suspend_error />
                        <TextField label="Type the tenant's name to suspend it" name="confirm_name" id="suspend-confirm"
                            hint="Its users are logged out at once." server=suspend_error />
                        <button type="submit" class="button button-danger" disabled=!admin>"Suspend tenant"</button>
                    </ActionForm>
                }.into_any()
            }}
        </section>
        <section class="card" aria-labelledby="quota-heading">
            <h2 id="quota-heading">"Quota"</h2>
            <table tabindex="0" class="table" aria-label="Quota use">
                <thead><tr><th scope="col">"What"</th><th scope="col">"In use"</th><th scope="col">"Limit"</th></tr></thead>
                <tbody>
                    {info.quota.iter().map(|(what, used, limit)| view! {
                        <tr><td>{what.clone()}</td><td>{used.clone()}</td><td>{limit.clone()}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <ActionForm action=quota attr:aria-label="Quota" attr:class="form-grid"><FormToken />
                <input type="hidden" name="tenant_id" value=id_quota />
                <FormAlert server=quota_error />
                {admin.then(|| quota_limits.iter().map(|(field, limit)| {
                    let label: &'static str = match field.as_str() {
                        "max_vms" => "VM limit",
                        "max_vcpus" => "vCPU limit",
                        "max_memory_mib" => "Memory limit (MiB; 1 GiB is 1024)",
                        _ => "Public IPv4 limit",
                    };
                    let name: &'static str = match field.as_str() {
                        "max_vms" => "max_vms",
                        "max_vcpus" => "max_vcpus",
                        "max_memory_mib" => "max_memory_mib",
                        _ => "max_public_ips",
                    };
                    view! { <TextField label=label name=name initial=limit.to_string() server=quota_error /> }
                }).collect_view())}
                {admin.then(|| view! { <button type="submit" class="button button-secondary">"Save quota"</button> })}
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="users-heading">
            <h2 id="users-heading">"Users"</h2>
            <table tabindex="0" class="table" aria-label="Users">
                <thead><tr><th scope="col">"E-mail"</th><th scope="col">"Role"</th></tr></thead>
                <tbody>
                    {info.users.into_iter().map(|(email, role)| view! { <tr><td>{email}</td><td>{role}</td></tr> }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="card" aria-labelledby="audit-heading">
            <h2 id="audit-heading">"Latest audit entries"</h2>
            <table tabindex="0" class="table" aria-label="Audit log">
                <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"Who"</th><th scope="col">"Action"</th><th scope="col">"Target"</th><th scope="col">"Result"</th></tr></thead>
                <tbody>
                    {info.audit.into_iter().map(|e| view! {
                        <tr><td>{format_utc(e.at)}</td><td>{e.actor}</td><td><code>{e.action}</code></td><td>{e.target}</td><td>{e.result}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

fn used_free(total: i64, used: i64, unit: &str) -> String {
    let percent = if total > 0 { used * 100 / total } else { 0 };
    format!("{used} / {total} {unit} ({percent}%), {} free", total - used)
}

/// The columns the capacity table sorts by: the zone's name, or its fullest first.
const CAPACITY_SORTS: [(&str, &str); 5] = [
    ("zone", "Zone"),
    ("vcpus", "vCPUs used"),
    ("memory", "Memory used"),
    ("disk", "Disk used"),
    ("vms", "VMs"),
];

/// Capacity by zone, sorted by `sort` (a key of [`CAPACITY_SORTS`]), with a bar per resource
/// and the totals of all zones.
fn capacity_table(mut zones: Vec<ZoneCapacity>, sort: String) -> impl IntoView {
    // Fullest first, by the exact share used/total (per-mille steps tied zones the bars tell apart).
    let fullest = |pick: fn(&ZoneCapacity) -> (i64, i64)| {
        move |a: &ZoneCapacity, b: &ZoneCapacity| {
            let part = |z: &ZoneCapacity| {
                let (total, used) = pick(z);
                if total > 0 {
                    (i128::from(used), i128::from(total))
                } else {
                    (0, 1)
                }
            };
            let ((used_a, total_a), (used_b, total_b)) = (part(a), part(b));
            (used_b * total_a).cmp(&(used_a * total_b))
        }
    };
    match sort.as_str() {
        "vcpus" => zones.sort_by(fullest(|z| z.vcpus)),
        "memory" => zones.sort_by(fullest(|z| z.memory_mib)),
        "disk" => zones.sort_by(fullest(|z| z.disk_gib)),
        "vms" => zones.sort_by_key(|z| std::cmp::Reverse(z.vms)),
        _ => zones.sort_by_key(|z| zone_label(&z.zone)),
    }
    let sum = |part: fn(&ZoneCapacity) -> (i64, i64)| {
        zones
            .iter()
            .map(part)
            .fold((0, 0), |(t, u), (total, used)| (t + total, u + used))
    };
    let total = ZoneCapacity {
        zone: "All zones".to_owned(),
        hosts: zones.iter().map(|z| z.hosts).sum(),
        dedicated_hosts: zones.iter().map(|z| z.dedicated_hosts).sum(),
        vcpus: sum(|z| z.vcpus),
        memory_mib: sum(|z| z.memory_mib),
        disk_gib: sum(|z| z.disk_gib),
        vms: zones.iter().map(|z| z.vms).sum(),
    };
    let header = |key: &'static str, label: &'static str| {
        let active = sort == key;
        view! {
            <th scope="col" aria-sort=active.then_some(if key == "zone" { "ascending" } else { "descending" })>
                <a href=format!("/staff/capacity?sort={key}") aria-current=active.then_some("true")>{label}</a>
            </th>
        }
    };
    view! {
        <div class="table-scroll">
            <table tabindex="0" class="table" aria-label="Capacity by zone">
                <thead><tr>
                    {header(CAPACITY_SORTS[0].0, CAPACITY_SORTS[0].1)}
                    <th scope="col">"Hosts"</th><th scope="col">"Dedicated"</th>
                    {CAPACITY_SORTS[1..].iter().map(|(key, label)| header(key, label)).collect_view()}
                </tr></thead>
                <tbody>
                    {zones.into_iter().map(|z| capacity_row(z, false)).collect_view()}
                </tbody>
                <tfoot>{capacity_row(total, true)}</tfoot>
            </table>
        </div>
    }
}

/// One zone's row (or the totals'): each resource used of its total, with a bar.
fn capacity_row(z: ZoneCapacity, total: bool) -> impl IntoView {
    let name = if total {
        z.zone.clone()
    } else {
        zone_label(&z.zone)
    };
    let cell = |(all, used): (i64, i64), unit: &'static str, what: &'static str| {
        let label = format!("{what} used in {name}");
        view! {
            <td>
                <span>{used_free(all, used, unit)}</span>
                <meter class="capacity-bar" min="0" max=all.max(1) value=used high=(all * 8 / 10).max(1) aria-label=label></meter>
            </td>
        }
    };
    view! {
        <tr class:total-row=total>
            <th scope="row">{name.clone()}</th>
            <td>{z.hosts}</td>
            <td>{z.dedicated_hosts}</td>
            {cell(z.vcpus, "", "vCPUs")}
            {cell((z.memory_mib.0 / 1024, z.memory_mib.1 / 1024), "GiB", "Memory")}
            {cell(z.disk_gib, "GiB", "Disk")}
            <td>{z.vms}</td>
        </tr>
    }
}

/// Capacity per zone, and the hosts host agents run, with their drain switch.
#[component]
pub fn StaffCapacityPage() -> impl IntoView {
    let drain = ServerAction::<StaffHostDrain>::new();
    let cut = ServerAction::<StaffBackboneLinkSet>::new();
    let capacity = Resource::new(
        move || (drain.version().get(), cut.version().get()),
        |_| capacity_view(),
    );
    let drain_error = action_error(drain);
    let cut_error = action_error(cut);
    let query = use_query_map();
    let sort = move || query.read().get("sort").unwrap_or_else(|| "zone".to_owned());
    view! {
        <PageHeader title="Capacity" description="Hosts of every zone: what is reserved by VMs and what is free." />
        <FormAlert server=drain_error />
        <FormAlert server=cut_error />
        <ListState load=move || capacity.get() is_empty={|c: &Capacity| c.zones.is_empty()}
            empty=|| view! {
                <EmptyState title="No hosts".to_owned()>
                    <p>"No host is known yet. With host agents, a host appears when its agent registers; check the agents' and the server's logs."</p>
                </EmptyState>
            }
            items={move |capacity: Capacity| view! {
                <p class="field-hint">{if capacity.simulated {
                    "These zones are simulated: their hosts exist only in the control plane."
                } else {
                    "These hosts are real: each runs a host agent that registered it."
                }}</p>
                {
                    let zones = capacity.zones.clone();
                    move || capacity_table(zones.clone(), sort())
                }
                {(!capacity.hosts.is_empty()).then(|| view! {
                    <h2>"Host agents"</h2>
                    {(!capacity.admin).then(|| view! { <p class="field-hint">"Only admins can drain a host."</p> })}
                    <div class="table-scroll">
                        <table tabindex="0" class="table" aria-label="Host agents">
                            <thead><tr>
                                <th scope="col">"Host"</th><th scope="col">"Zone"</th><th scope="col">"Status"</th>
                                <th scope="col">"Accelerator"</th><th scope="col">"Image"</th><th scope="col">"Last heard (UTC)"</th>
                                <th scope="col">"vCPUs used"</th><th scope="col">"Memory used"</th><th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {capacity.hosts.into_iter().map(|host| host_row(host, capacity.admin, drain)).collect_view()}
                            </tbody>
                        </table>
                    </div>
                })}
                <h2>"Backbone links"</h2>
                <p class="field-hint">{if capacity.admin {
                    "Cutting a link takes it out of service for maintenance: the backbone's controller takes it down and the network routes around it."
                } else {
                    "Only admins can cut a link for maintenance."
                }}</p>
                <div class="table-scroll">
                    <table tabindex="0" class="table" aria-label="Backbone links">
                        <thead><tr>
                            <th scope="col">"Link"</th><th scope="col">"Status"</th>
                            <th scope="col">"What a cut does to tenants"</th><th scope="col">"Actions"</th>
                        </tr></thead>
                        <tbody>
                            {capacity.links.into_iter().map(|link| link_row(link, capacity.admin, cut)).collect_view()}
                        </tbody>
                    </table>
                </div>
            }} />
    }
}

fn link_row(
    link: meridian_core::view::BackboneLink,
    admin: bool,
    cut: ServerAction<StaffBackboneLinkSet>,
) -> impl IntoView {
    let is_cut = link.cut_at.is_some();
    let status = link.cut_at.map_or_else(
        || "In service".to_owned(),
        |at| format!("Cut for maintenance since {}", format_utc(at)),
    );
    let label = if is_cut {
        format!("Return the {} link to service", link.name)
    } else {
        format!("Cut the {} link", link.name)
    };
    let admin_reason = (!admin).then_some("Only admins can cut a link");
    view! {
        <tr>
            <th scope="row">{link.name.clone()}</th>
            <td>{status}</td>
            <td>{link_impact(&link)}</td>
            <td>
                <ActionForm action=cut attr:class="inline-form"><FormToken />
                    <input type="hidden" name="edge" value=link.key.clone() />
                    <input type="hidden" name="cut" value=if is_cut { "false" } else { "true" } />
                    <button type="submit" class="button" aria-label=label disabled=!admin title=admin_reason>
                        {if is_cut { "Return to service" } else { "Cut" }}
                    </button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// Whose VMs a cut of `link` slows or cuts off, across every tenant, and the worst of it.
fn link_impact(link: &meridian_core::view::BackboneLink) -> String {
    if link.tenants_affected == 0 {
        return "No tenant's round trips change".to_owned();
    }
    let tenants = match link.tenants_affected {
        1 => "1 tenant".to_owned(),
        n => format!("{n} tenants"),
    };
    let vms = match link.vms_affected {
        1 => "1 VM".to_owned(),
        n => format!("{n} VMs"),
    };
    match &link.worst {
        Some(worst) => format!("{tenants}, {vms}; worst: {worst}"),
        None => format!("{tenants}, {vms}"),
    }
}

fn host_row(host: AgentHost, admin: bool, drain: ServerAction<StaffHostDrain>) -> impl IntoView {
    let status = match (host.answering, host.draining) {
        (false, _) => "Gone: its agent has not registered lately",
        (true, true) => "Draining: no new VMs",
        (true, false) => "In service",
    };
    let (label, next) = if host.draining {
        (format!("Return {} to service", host.name), "false")
    } else {
        (format!("Drain {}", host.name), "true")
    };
    let admin_reason = (!admin).then_some("Only admins can drain a host");
    view! {
        <tr>
            <th scope="row">{host.name.clone()}</th>
            <td>{zone_label(&host.zone)}</td>
            <td>{status}</td>
            <td title=host.accelerator_reason.clone()><code>{host.accelerator.clone()}</code>" "{host.accelerator_reason.clone()}</td>
            <td>{host.image.clone()}</td>
            <td>{format_utc(host.last_seen)}</td>
            <td>{used_free(host.vcpus.0, host.vcpus.1, "")}</td>
            <td>{used_free(host.memory_mib.0 / 1024, host.memory_mib.1 / 1024, "GiB")}</td>
            <td>
                <ActionForm action=drain attr:class="inline-form"><FormToken />
                    <input type="hidden" name="id" value=host.id.to_string() />
                    <input type="hidden" name="draining" value=next />
                    <button type="submit" class="button" aria-label=label.clone() disabled=!admin title=admin_reason>
                        {if host.draining { "Return to service" } else { "Drain" }}
                    </button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// The job queue: live, failed, cancelled; retry and cancel (admins). Refreshed every two seconds.
#[component]
pub fn StaffJobsPage() -> impl IntoView {
    let query = use_query_map();
    // Everything recent first: the live list is empty most of the time.
    let filter = move || query.read().get("state").unwrap_or_else(|| "all".to_owned());
    let cancel = ServerAction::<StaffJobCancel>::new();
    let retry = ServerAction::<StaffJobRetry>::new();
    let tick = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), Duration::from_secs(2))
        {
            on_cleanup(move || handle.clear());
        }
    });
    let jobs = Resource::new(
        move || {
            (
                filter(),
                tick.get(),
                cancel.version().get(),
                retry.version().get(),
            )
        },
        |(state, ..)| staff_jobs(state),
    );
    let cancel_error = action_error(cancel);
    let retry_error = action_error(retry);
    view! {
        <PageHeader title="Jobs" description="Every tenant's VM jobs. A cancel stops a job at its next step and undoes what it did; a retry runs a failed job again from the start." />
        <nav class="tabs" aria-label="Job lists">
            {meridian_core::staff::JOB_LISTS.iter().map(|(key, label)| view! {
                <a href=format!("/staff/jobs?state={key}") aria-current=move || (filter() == *key).then_some("page")>{*label}</a>
            }).collect_view()}
        </nav>
        <FormAlert server=cancel_error />
        <FormAlert server=retry_error />
        <ListState load=move || jobs.get() is_empty={|queue: &JobQueue| queue.jobs.is_empty()}
            empty=|| view! {
                <EmptyState title="No jobs in this list".to_owned()>
                    <p>"Jobs appear here as tenants create and operate VMs. Try another list above."</p>
                </EmptyState>
            }
            items={move |queue: JobQueue| view! {
                {(!queue.admin).then(|| view! { <p class="field-hint">"Support staff see the queue; only admins can cancel or retry jobs."</p> })}
                <div class="table-scroll">
                    <table tabindex="0" class="table" aria-label="Jobs">
                        <thead><tr>
                            <th scope="col">"Created"</th><th scope="col">"Tenant"</th><th scope="col">"VM"</th><th scope="col">"Job"</th>
                            <th scope="col">"State"</th><th scope="col">"Step"</th><th scope="col">"Took"</th><th scope="col">"Error"</th><th scope="col">"Actions"</th>
                        </tr></thead>
                        <tbody>
                            {queue.jobs.into_iter().map(|job| job_row(job, queue.admin, cancel, retry)).collect_view()}
                        </tbody>
                    </table>
                </div>
            }} />
    }
}

fn job_row(
    job: JobLine,
    admin: bool,
    cancel: ServerAction<StaffJobCancel>,
    retry: ServerAction<StaffJobRetry>,
) -> impl IntoView {
    let live = matches!(job.state.as_str(), "queued" | "running");
    let ended = matches!(job.state.as_str(), "failed" | "cancelled");
    let state = if job.cancel_requested {
        format!("{} (cancel requested)", job.state)
    } else {
        job.state.clone()
    };
    let vm_label = if job.vm.1.is_empty() {
        job.vm.0.to_string()
    } else {
        job.vm.1.clone()
    };
    let id = job.id.to_string();
    let (cancel_id, retry_id) = (id.clone(), id.clone());
    let cancel_label = format!("Cancel {} of {}", job.kind, vm_label);
    let retry_label = format!("Retry {} of {}", job.kind, vm_label);
    let admin_reason = (!admin).then_some("Only admins can change the job queue");
    view! {
        <tr>
            <td>{format_utc_seconds(job.created_at)}</td>
            <td>{match job.tenant_id.clone() {
                Some(id) => view! { <a href=format!("/staff/tenants/{id}")>{job.tenant.clone()}</a> }.into_any(),
                None => view! { <span>{job.tenant.clone()}</span> }.into_any(),
            }}</td>
            <td>{vm_label.clone()}</td>
            <td><code>{job.kind.clone()}</code></td>
            <td>{state}</td>
            <td>{job.step.clone().unwrap_or_else(|| "—".to_owned())}</td>
            <td>{if live { format!("{} so far", format_duration(job.duration_ms)) } else { format_duration(job.duration_ms) }}</td>
            <td>{job.error.clone().unwrap_or_else(|| "—".to_owned())}</td>
            <td>
                {live.then(|| view! {
                    <ActionForm action=cancel attr:class="inline-form"><FormToken />
                        <input type="hidden" name="id" value=cancel_id.clone() />
                        <button type="submit" class="button button-danger" aria-label=cancel_label.clone()
                            disabled=!admin || job.cancel_requested title=admin_reason>"Cancel"</button>
                    </ActionForm>
                })}
                {ended.then(|| view! {
                    <ActionForm action=retry attr:class="inline-form"><FormToken />
                        <input type="hidden" name="id" value=retry_id.clone() />
                        <button type="submit" class="button button-secondary" aria-label=retry_label.clone()
                            disabled=!admin title=admin_reason>"Retry"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
