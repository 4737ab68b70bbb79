//! A latency budget in a form: "within N ms of a zone or one of my VMs", what it says of each
//! zone (its round trip, or why it is ruled out: physics, today's routes, residency), and the
//! fields that set it.

use crate::api::vm::Vm;
use crate::components::form::{SelectField, TextField};
use leptos::prelude::*;
use meridian_core::backbone::{BACKBONE, Cut};
use meridian_core::placement::latency::{Anchor, zone_fit};
use meridian_core::residency::ResidencyPolicy;
use meridian_core::zone::{ZONES, ZoneId, zone_label};

/// The latency budget as typed, and what it says of each zone.
#[derive(Clone, Copy)]
pub struct Budget {
    /// The round trip typed, in ms.
    pub ms: RwSignal<String>,
    /// What it is measured from, as the select's value.
    pub of: RwSignal<String>,
    /// The tenant's VMs (a budget may be measured from one).
    pub vms: StoredValue<Vec<Vm>>,
    /// The residency policy, when it could be read.
    pub residency: StoredValue<Option<ResidencyPolicy>>,
}

impl Budget {
    /// A budget with nothing typed yet.
    pub fn new(vms: Vec<Vm>, residency: Option<ResidencyPolicy>) -> Self {
        Self {
            ms: RwSignal::new(String::new()),
            of: RwSignal::new(String::new()),
            vms: StoredValue::new(vms),
            residency: StoredValue::new(residency),
        }
    }

    /// The zone the budget is measured from and its round trip, once both are filled in well.
    pub fn parsed(self) -> Option<(ZoneId, f64)> {
        let ms = self
            .ms
            .get()
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|ms| *ms > 0.0 && *ms <= 1_000.0)?;
        let from = match Anchor::parse(&self.of.get()).ok()? {
            Anchor::Zone(zone) => zone,
            Anchor::Vm(id) => self.vms.with_value(|vms| {
                vms.iter()
                    .find(|vm| vm.id == id)
                    .and_then(|vm| ZoneId::parse(&vm.zone).ok())
            })?,
        };
        Some((from, ms))
    }

    /// Why `zone` may not be chosen (residency, then the budget), or its round trip from the
    /// budget's anchor when there is a budget.
    pub fn verdict(self, zone: ZoneId) -> Result<Option<f64>, String> {
        if let Some(Err(violation)) = self.residency.with_value(|p| p.as_ref().map(|p| p.check(zone))) {
            return Err(violation.to_string());
        }
        match self.parsed() {
            None => Ok(None),
            Some((from, ms)) => zone_fit(&BACKBONE, from, zone, ms, &Cut::none()).map(Some),
        }
    }
}

/// "Within N ms of a zone or one of my VMs": the zones that fit stay offered, and the others are
/// listed with the reason (physics, today's routes, residency).
#[component]
pub fn LatencyBudgetFields(
    /// The budget the fields edit.
    budget: Budget,
    /// The form's last server answer.
    server: Signal<Option<crate::error::AppError>>,
    /// Prefix of the fields' ids (one form per page uses each).
    id_prefix: &'static str,
    /// The zone chosen above.
    chosen: Signal<Option<ZoneId>>,
) -> impl IntoView {
    let ruled_out = move || {
        let (from, ms) = budget.parsed()?;
        let out: Vec<String> = ZONES
            .iter()
            .filter_map(|z| budget.verdict(z.id).err().map(|why| format!("{}: {why}", z.city)))
            .collect();
        Some((from, ms, out))
    };
    let on_choice = move || {
        let zone = chosen.get()?;
        budget.parsed()?;
        Some(match budget.verdict(zone) {
            Ok(Some(ms)) => format!("{} fits: {ms:.1} ms of round trip.", zone.zone().city),
            Ok(None) => String::new(),
            Err(why) => format!("{} does not fit. {why}", zone.zone().city),
        })
    };
    let vms = budget.vms.get_value();
    view! {
        // The round trip typed is read as it is typed (the field is the form's own text field).
        <details class="latency-budget" on:input=move |ev| {
            let input = event_target::<leptos::web_sys::HtmlInputElement>(&ev);
            if input.name() == "latency_ms" {
                budget.ms.set(input.value());
            }
        }>
            <summary>"Latency budget (optional)"</summary>
            <div class="form-grid">
                <TextField label="Round trip at most (ms)" name="latency_ms" id=format!("{id_prefix}-latency-ms") inputmode="decimal"
                    placeholder="10" server />
                <SelectField label="Measured from" name="latency_of" id=format!("{id_prefix}-latency-of") server
                    on_change=Callback::new(move |value: String| budget.of.set(value))>
                    <option value="">"Choose a zone or a VM"</option>
                    {(!vms.is_empty()).then(|| view! {
                        <optgroup label="Your VMs">
                            {vms.iter().map(|vm| view! {
                                <option value=format!("vm:{}", vm.id)>{format!("{} ({})", vm.name, zone_label(&vm.zone))}</option>
                            }).collect_view()}
                        </optgroup>
                    })}
                    <optgroup label="Zones">
                        {ZONES.iter().map(|z| view! { <option value=z.id.as_str()>{zone_label(z.id.as_str())}</option> }).collect_view()}
                    </optgroup>
                </SelectField>
            </div>
            <p class="field-hint" role="status">{on_choice}</p>
            {move || ruled_out().map(|(from, ms, out)| view! {
                <p>{format!("Zones ruled out for {ms} ms from {}:", from.zone().city)}</p>
                <ul aria-label="Zones ruled out">
                    {out.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                </ul>
            })}
        </details>
    }
}
