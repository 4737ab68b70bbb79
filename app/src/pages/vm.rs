//! One VM: properties, the live progress of its latest job, actions, and its console (live and
//! interactive for a real VM).

use crate::MeResource;
use crate::api::vm::{VmDestroy, VmDetail, VmMetricsFigure, VmOperate, VmResize, vm_metrics, vm_view};
use crate::components::form::{FormAlert, SelectField, TextField, action_error};
use crate::components::form::{FormToken, change_refusal};
use crate::components::page::{ListState, Properties};
use crate::components::serial_terminal::SerialTerminal;
use crate::components::vm_table::StateBadge;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use meridian_core::resource::{VmAction, VmState};
use meridian_core::zone::zone_label;

/// The VM page. It follows the server's push channel for the VM and refreshes when told.
#[component]
pub fn VmPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let operate = ServerAction::<VmOperate>::new();
    let destroy = ServerAction::<VmDestroy>::new();
    let resize = ServerAction::<VmResize>::new();
    let (pushed, set_pushed) = signal(0u64);
    let detail = Resource::new(
        move || {
            (
                id(),
                operate.version().get(),
                destroy.version().get(),
                resize.version().get(),
                pushed.get(),
            )
        },
        |(id, ..)| vm_view(id),
    );
    live_updates(id, set_pushed);
    view! {
        <ListState not_found=true load=move || detail.get()
            items={move |detail: VmDetail| view! { <VmBody detail operate destroy resize /> }} />
    }
}

/// Opens the server-sent event stream for the VM (in the browser only) and bumps `set_pushed`
/// on every message, which refetches the page's data: progress arrives without any reload.
fn live_updates(id: impl Fn() -> String + Send + Sync + 'static, set_pushed: WriteSignal<u64>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        Effect::new(move |previous: Option<Option<web_sys::EventSource>>| {
            if let Some(Some(old)) = previous {
                old.close();
            }
            let source = web_sys::EventSource::new(&format!("/events/vms/{}", id())).ok()?;
            let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
                set_pushed.update(|n| *n += 1);
            });
            source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
            let closing = source.clone();
            on_cleanup(move || closing.close());
            Some(source)
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, set_pushed);
}

#[component]
fn VmBody(
    detail: VmDetail,
    operate: ServerAction<VmOperate>,
    destroy: ServerAction<VmDestroy>,
    resize: ServerAction<VmResize>,
) -> impl IntoView {
    let me = expect_context::<MeResource>();
    // Why no change is offered to this visitor (a viewer, a support inspection), if so.
    let refused = move || change_refusal(me.get().and_then(Result::ok).flatten().as_ref()).map(str::to_owned);
    let vm = detail.vm.clone();
    let state = VmState::parse(&vm.state).ok();
    // A job still at work on the VM: what it is doing shows on the badge at once, the actions
    // that would conflict wait for it, and its progress comes first.
    let busy: Option<(String, &'static str)> = detail
        .job
        .as_ref()
        .filter(|job| !matches!(job.state.as_str(), "succeeded" | "failed" | "cancelled"))
        .and_then(|job| {
            let doing = meridian_core::job::JobKind::parse(&job.kind)?.in_progress();
            Some((job.kind.replace('_', " "), doing))
        });
    let wait = busy
        .as_ref()
        .map(|(kind, _)| format!("Wait until {kind} finishes."));
    let operate_error = action_error(operate);
    let destroy_error = action_error(destroy);
    let action_wait = wait.clone();
    let action_button = move |action: VmAction, label: &'static str| {
        let vm_id = vm.id.to_string();
        let allowed = state.map_or(Err("Unknown state.".to_owned()), |s| {
            action.allowed_for(s, vm.breakout)
        });
        let wait = action_wait.clone();
        let reason = move || refused().or_else(|| wait.clone().or_else(|| allowed.clone().err()));
        let reason_id = format!("reason-{}", action.as_str());
        let disabled = reason.clone();
        view! {
            <ActionForm action=operate attr:class="inline-form"><FormToken />
                <input type="hidden" name="id" value=vm_id />
                <input type="hidden" name="action" value=action.as_str() />
                <button type="submit" class="button button-secondary" disabled=move || disabled().is_some()
                    aria-describedby=reason_id.clone()>{label}</button>
                <span class="disabled-reason" id=reason_id>{reason}</span>
            </ActionForm>
        }
    };
    let breakout = detail.vm.breakout;
    let progress_first = busy.is_some();
    let steps_view = detail.job.clone().map(|job| {
        let done: Vec<String> = detail.events.iter().filter(|e| e.status == "done").map(|e| e.step.clone()).collect();
        let undone: Vec<String> = detail.events.iter().filter(|e| e.status == "undone").map(|e| e.step.clone()).collect();
        // The step a running job is working on: the first one not yet done.
        let current = job.steps.iter().flatten().map(|s| &s.step).find(|step| !done.contains(step)).cloned();
        let title = format!("{} — {}", job.kind.replace('_', " "), job.state);
        view! {
            <section class="card" aria-label="Progress">
                <h2>"Progress: " {title}</h2>
                <ol class="steps">
                    {job.steps.iter().flatten().map(|s| {
                        let (step, label) = (&s.step, &s.label);
                        let status = if job.failed_step.as_deref() == Some(step.as_str()) {
                            "failed"
                        } else if undone.contains(step) {
                            "undone"
                        } else if done.contains(step) {
                            "done"
                        } else if job.state == "running" && current.as_deref() == Some(step.as_str()) {
                            "in progress"
                        } else {
                            "waiting"
                        };
                        // A VM made without breakout passes its breakout step doing nothing.
                        let (label, status) = if step == "breakout" && job.kind == "vm_create" && !breakout && status == "done" {
                            ("Internet breakout: none (private only)".to_owned(), "skipped")
                        } else {
                            (label.clone(), status)
                        };
                        view! { <li class=format!("step step-{}", status.replace(' ', "-"))><span>{label}</span><span class="step-status">{status}</span></li> }
                    }).collect_view()}
                </ol>
                {job.error.clone().map(|error| view! { <div class="alert alert-error" role="alert">{error}</div> })}
            </section>
        }
    });
    let name = detail.vm.name.clone();
    let destroy_reason = {
        let allowed = state.map_or(Err("Unknown state.".to_owned()), |s| {
            VmAction::Destroy.allowed_in(s)
        });
        let wait = wait.clone();
        move || refused().or_else(|| wait.clone().or_else(|| allowed.clone().err()))
    };
    let destroy_disabled = destroy_reason.clone();
    let resize_error = action_error(resize);
    let resize_reason = {
        let allowed = state.map_or(Err("Unknown state.".to_owned()), |s| {
            VmAction::Resize.allowed_in(s)
        });
        let wait = wait.clone();
        move || refused().or_else(|| wait.clone().or_else(|| allowed.clone().err()))
    };
    let resize_disabled = resize_reason.clone();
    let history = detail.history.clone();
    let (console_live, set_console_live) = signal(false);
    let (resize_vm, destroy_vm) = (detail.vm.id.to_string(), detail.vm.id.to_string());
    let current = (detail.vm.vcpus, detail.vm.memory_mib, detail.vm.disk_gib);
    let is_current = move |size: &meridian_core::resource::VmSize| {
        (
            i64::from(size.vcpus.get()),
            i64::from(size.memory_mib.get()),
            i64::from(size.disk_gib.get()),
        ) == current
    };
    view! {
        <leptos_meta::Title text=format!("VM {}", detail.vm.name) />
        <header class="page-header page-header-actions">
            <h1>"VM " {detail.vm.name.clone()}</h1>
            {match busy {
                Some((_, doing)) => view! { <span class="badge badge-state badge-pending" role="status">{doing}</span> }.into_any(),
                None => view! { <StateBadge state=detail.vm.state.clone() /> }.into_any(),
            }}
        </header>
        {progress_first.then(|| steps_view.clone())}
        <section class="card" aria-label="VM properties">
            <Properties label="VM properties" rows=vec![
                ("State", detail.vm.state.clone()),
                ("Zone", zone_label(&detail.vm.zone)),
                ("Template", detail.vm.template.clone()),
                ("Size", format!("{} vCPU, {} GiB RAM, {} GiB disk", detail.vm.vcpus, detail.vm.memory_mib / 1024, detail.vm.disk_gib)),
                ("Private IP", detail.vm.private_ip.clone().unwrap_or_else(|| "—".into())),
                ("Public IP", detail.vm.public_ip.clone().unwrap_or_else(|| if detail.vm.breakout { "Being assigned".into() } else { "None (private only)".into() })),
                ("Cost", vm_cost(&detail.vm)),
                ("Host", if detail.vm.dedicated { "Dedicated".into() } else { "Shared".into() }),
                ("Guest image", guest_image(detail.simulated, detail.image.as_deref())),
            ] />
            <p>"In VDC " <a href=format!("/vdcs/{}", detail.vm.vdc_id)>{detail.vdc_name.clone()}</a></p>
        </section>
        <section class="card" aria-labelledby="connect-heading">
            <h2 id="connect-heading">"Connect"</h2>
            {connect_view(&detail.vm, detail.login_user.as_deref())}
        </section>
        <section class="card" aria-label="Actions">
            <h2>"Actions"</h2>
            <div class="actions">
                {action_button(VmAction::Start, "Start")}
                {action_button(VmAction::Stop, "Stop")}
                {action_button(VmAction::Reboot, "Reboot")}
                {if detail.vm.breakout {
                    action_button(VmAction::CloseBreakout, "Remove public IP")
                } else {
                    action_button(VmAction::OpenBreakout, "Add public IP")
                }}
            </div>
            <FormAlert server=operate_error />
            <ActionForm action=resize attr:class="resize-form" attr:aria-label="Resize VM"><FormToken />
                <input type="hidden" name="id" value=resize_vm />
                <SelectField label="New size" name="size" id="resize-size" with_form_errors=true server=resize_error>
                    {meridian_core::resource::SIZES.iter().map(|s| view! {
                        // The current size comes first selected: resizing starts from what it is.
                        <option value=s.code selected=is_current(&s.size)>{format!("{} ({}) — {} vCPU, {} GiB RAM, {} GiB disk", s.code, s.name,
                            s.size.vcpus.get(), s.size.memory_mib.get() / 1024, s.size.disk_gib.get())}</option>
                    }).collect_view()}
                </SelectField>
                <button type="submit" class="button button-secondary" disabled=move || resize_disabled().is_some()>"Resize"</button>
                <span class="disabled-reason">{resize_reason}</span>
            </ActionForm>
            <ActionForm action=destroy attr:class="destroy-form" attr:aria-label="Destroy VM"><FormToken />
                <input type="hidden" name="id" value=destroy_vm />
                <TextField label="Type the VM's name to destroy it" name="confirm_name" id="confirm-name"
                    placeholder=name.clone() with_form_errors=true server=destroy_error />
                <button type="submit" class="button button-danger" disabled=move || destroy_disabled().is_some()>"Destroy VM"</button>
                <span class="disabled-reason">{destroy_reason}</span>
            </ActionForm>
        </section>
        <VmGraphs vm_id=detail.vm.id.to_string() />
        {(!progress_first).then(|| steps_view.clone())}
        <section class="card" aria-label="Events">
            <h2>"Events"</h2>
            {if history.is_empty() {
                view! { <p>"Nothing has happened to this VM yet."</p> }.into_any()
            } else {
                view! {
                    <table tabindex="0" class="table" aria-label="VM events">
                        <thead><tr><th scope="col">"When"</th><th scope="col">"Operation"</th><th scope="col">"Outcome"</th></tr></thead>
                        <tbody>
                            {history.into_iter().map(|(at, what, outcome)| view! {
                                <tr><td>{meridian_core::calendar::format_utc(at)}</td><td>{what}</td><td>{outcome}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section class="card" aria-label="Console">
            <h2>"Console" {detail.simulated.then_some(" (simulated)")}</h2>
            {(!detail.simulated).then(|| view! {
                <SerialTerminal vm_id=detail.vm.id.to_string() may_type=detail.may_type
                    backlog=detail.console.clone() set_live=set_console_live />
            })}
            // The last lines as the server read them: all there is of a simulated console, and
            // what a real one shows until its live terminal takes over.
            <pre class="console" tabindex="0" aria-label="Console output" hidden=move || console_live.get()>
                {detail.console.join("\n")}
            </pre>
        </section>
    }
}

/// The VM's CPU and network over the last hour or day, charted on the server, with the figures
/// as text.
#[component]
fn VmGraphs(vm_id: String) -> impl IntoView {
    let window = RwSignal::new("hour".to_owned());
    let figure = Resource::new(move || (vm_id.clone(), window.get()), |(id, w)| vm_metrics(id, w));
    view! {
        <section class="card" aria-labelledby="graphs-heading">
            <h2 id="graphs-heading">"CPU and network"</h2>
            <div class="field">
                <label for="graphs-window">"Over"</label>
                <select id="graphs-window" prop:value=move || window.get() on:change=move |ev| window.set(event_target_value(&ev))>
                    <option value="hour">"The last hour (per minute)"</option>
                    <option value="day">"The last day (per hour)"</option>
                </select>
            </div>
            <ListState load=move || figure.get() loading="Loading the graphs…" items=vm_graphs />
        </section>
    }
}

fn vm_graphs(figure: VmMetricsFigure) -> impl IntoView {
    let VmMetricsFigure {
        window,
        simulated,
        summary,
        cpu_svg,
        network_svg,
        rows,
    } = figure;
    let label = if simulated { " (simulated)" } else { "" };
    let chart = move |title: String, svg: Option<String>| {
        svg.map(|svg| {
            view! {
                <figure class="chart">
                    <div class="chart-svg" role="img" aria-label=title.clone() inner_html=svg></div>
                    <figcaption>{title}</figcaption>
                </figure>
            }
        })
    };
    let per = if window == "day" { "hour" } else { "minute" };
    view! {
        <p>{summary}</p>
        {chart(format!("CPU{label}, % of the VM's vCPUs, per {per}"), cpu_svg)}
        {chart(format!("Network{label}: bytes a second received and sent, per {per}"), network_svg)}
        {(!rows.is_empty()).then(|| view! {
            <details>
                <summary>"The figures"</summary>
                <table tabindex="0" class="table" aria-label="CPU and network figures">
                    <thead><tr><th scope="col">"From"</th><th scope="col">"CPU"</th><th scope="col">"Received"</th><th scope="col">"Sent"</th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! { <tr><td>{r.period}</td><td>{r.cpu}</td><td>{r.received}</td><td>{r.sent}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            </details>
        })}
    }
}

/// How to reach the VM over SSH: which address from where, as which user, with which key.
fn connect_view(vm: &crate::api::vm::Vm, login_user: Option<&str>) -> impl IntoView + use<> {
    let user = login_user.unwrap_or("<user>").to_owned();
    let (address, from) = match (&vm.public_ip, &vm.private_ip) {
        (Some(public), _) => (Some(public.clone()), "from anywhere (its public IP)"),
        (None, Some(private)) => (
            Some(private.clone()),
            "from your other VMs, in any zone (its private IP; it has no public IP)",
        ),
        (None, None) => (None, ""),
    };
    let user_note = match login_user {
        Some(user) => {
            format!("Log in as {user} with an SSH key chosen when it was created; there is no password.")
        }
        None => "Its template's cloud-config decides the user and keys.".to_owned(),
    };
    match address {
        Some(address) => view! {
            <p>"Connect " {from} ":"</p>
            <pre class="command" tabindex="0" aria-label="SSH command"><code>{format!("ssh {user}@{address}")}</code></pre>
            <p class="muted">{user_note}" Without a key, use the console below."</p>
        }
        .into_any(),
        None => view! { <p class="muted">"It has no address yet: one is assigned while it is created."</p> }
            .into_any(),
    }
}

/// What the properties say of the guest image: the one the host booted, or why there is none.
fn guest_image(simulated: bool, image: Option<&str>) -> String {
    match (simulated, image) {
        (true, _) => "None: this VM is simulated".to_owned(),
        (false, Some(image)) => image.to_owned(),
        (false, None) => "Not known yet (its host has not said)".to_owned(),
    }
}

/// What the VM costs at its size, with its disk, public address and dedicated host: the create
/// form's words.
fn vm_cost(vm: &crate::api::vm::Vm) -> String {
    match (
        meridian_core::resource::Vcpus::new(u32::try_from(vm.vcpus).unwrap_or(0)),
        meridian_core::resource::MemoryMib::new(u32::try_from(vm.memory_mib).unwrap_or(0)),
        meridian_core::resource::DiskGib::new(u32::try_from(vm.disk_gib).unwrap_or(0)),
    ) {
        (Ok(vcpus), Ok(memory), Ok(disk)) => meridian_core::pricing::vm_price_text(
            1,
            &meridian_core::resource::VmSize::new(vcpus, memory, disk),
            meridian_core::pricing::Extras {
                public_ip: vm.public_ip.is_some(),
                dedicated: vm.dedicated,
            },
        ),
        _ => "—".to_owned(),
    }
}
