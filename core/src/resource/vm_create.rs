//! The VM create form as the browser sends it, and the validated request it parses into.

use super::{BuiltinTemplate, Name, QuotaUsage, UserData, VmSize, parse_template_choice};
use crate::field::FieldErrors;
use crate::id::{SshKeyId, TemplateId};
use crate::placement::latency::LatencyBudget;
use crate::zone::ZoneId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The VM create form exactly as a browser sends it: every field text, missing fields empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmCreateForm {
    /// The VM's name.
    pub name: String,
    /// A zone id such as `lon1`.
    pub zone: String,
    /// A built-in template slug or a template id.
    pub template: String,
    /// A size code (`m`) or name (`Kestrel`).
    pub size: String,
    /// Checkbox: give the VM a public IPv4 address (internet breakout). `on`/`true`/`1` or empty.
    pub breakout: String,
    /// SSH key ids, one per entry (one per ticked checkbox); blank entries are ignored.
    pub ssh_key_ids: Vec<String>,
    /// Optional cloud-config.
    pub user_data: String,
    /// Optional anti-affinity group name; the group is created on first use.
    pub anti_affinity_group: String,
    /// Checkbox: place the VM on a host that runs no other tenant's VMs.
    pub dedicated: String,
    /// Optional latency budget: the round trip allowed, in ms, from `latency_of`.
    pub latency_ms: String,
    /// What the budget is measured from: a zone id, or `vm:<id>` for one of the tenant's VMs.
    pub latency_of: String,
}

/// A validated request to create a VM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmCreate {
    /// The VM's name, also its hostname.
    pub name: Name,
    /// Where it runs.
    pub zone: ZoneId,
    /// What it boots. Built-in templates are known here; a tenant template id must still be looked
    /// up by the control plane.
    pub template: TemplateId,
    /// Its shape.
    pub size: VmSize,
    /// Whether it gets a public IPv4 address.
    pub breakout: bool,
    /// Keys installed for the template's default user, without duplicates, in the order given.
    pub ssh_key_ids: Vec<SshKeyId>,
    /// Cloud-config for first boot (in addition to a tenant template's own).
    pub user_data: Option<UserData>,
    /// The anti-affinity group to join, by name.
    pub anti_affinity_group: Option<Name>,
    /// Whether it needs a host of its own tenant only.
    pub dedicated: bool,
    /// The round trip its zone must be within, from a zone or another VM.
    pub latency: Option<LatencyBudget>,
}

/// A checkbox value that is neither ticked nor unticked.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Tick the box or leave it empty.")]
pub struct CheckboxError;

/// Reads a checkbox: browsers send `on` when ticked and nothing when not; APIs may send `true`/`false`.
fn parse_checkbox(raw: &str) -> Result<bool, CheckboxError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "off" | "false" | "0" | "no" => Ok(false),
        "on" | "true" | "1" | "yes" => Ok(true),
        _ => Err(CheckboxError),
    }
}

/// An SSH key id that does not parse.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Choose SSH keys from the list.")]
pub struct SshKeyChoiceError;

fn parse_ssh_key_ids(raw: &[String]) -> Result<Vec<SshKeyId>, SshKeyChoiceError> {
    let mut ids = Vec::new();
    for entry in raw
        .iter()
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
    {
        let id: SshKeyId = entry.parse().map_err(|_| SshKeyChoiceError)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// An empty field is `None`; anything else must parse.
fn optional<T, E>(raw: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

/// A zone field: empty gets "choose" rather than "there is no zone \"\"".
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ZoneChoiceError {
    /// Nothing was chosen.
    #[error("Choose a zone.")]
    Empty,
    /// Not a zone of the catalogue.
    #[error(transparent)]
    Unknown(#[from] crate::zone::UnknownZone),
}

fn parse_zone_choice(raw: &str) -> Result<ZoneId, ZoneChoiceError> {
    if raw.trim().is_empty() {
        Err(ZoneChoiceError::Empty)
    } else {
        Ok(ZoneId::parse(raw)?)
    }
}

impl VmCreate {
    /// Validates every field of the form at once so all problems show together. The keys of the
    /// returned [`FieldErrors`] are the [`VmCreateForm`] field names; a template whose image does not
    /// fit the size's disk is reported on `size`.
    pub fn parse(raw: &VmCreateForm) -> Result<VmCreate, FieldErrors> {
        Self::parse_parts(raw, parse_checkbox(&raw.breakout), parse_checkbox(&raw.dedicated))
    }

    /// Validates a create whose flags arrived typed (an API's JSON booleans): the form's text
    /// fields are checked exactly as [`VmCreate::parse`] checks them, its two checkboxes ignored.
    pub fn parse_with_flags(
        text: &VmCreateForm,
        breakout: bool,
        dedicated: bool,
    ) -> Result<VmCreate, FieldErrors> {
        Self::parse_parts(text, Ok(breakout), Ok(dedicated))
    }

    fn parse_parts(
        raw: &VmCreateForm,
        breakout: Result<bool, CheckboxError>,
        dedicated: Result<bool, CheckboxError>,
    ) -> Result<VmCreate, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", Name::parse(&raw.name));
        let zone = errors.check("zone", parse_zone_choice(&raw.zone));
        let template = errors.check("template", parse_template_choice(&raw.template));
        let size = errors.check("size", VmSize::named(&raw.size));
        let breakout = errors.check("breakout", breakout);
        let ssh_key_ids = errors.check("ssh_key_ids", parse_ssh_key_ids(&raw.ssh_key_ids));
        let user_data = errors.check("user_data", optional(&raw.user_data, UserData::parse));
        let anti_affinity_group = errors.check(
            "anti_affinity_group",
            optional(&raw.anti_affinity_group, Name::parse),
        );
        let dedicated = errors.check("dedicated", dedicated);
        let latency = LatencyBudget::parse_fields(&raw.latency_ms, &raw.latency_of, &mut errors);
        if let (Some(template), Some(size)) = (template, size)
            && let Some(builtin) = BuiltinTemplate::find(template)
        {
            errors.check("size", builtin.check_disk(size.disk_gib));
        }
        match (
            name,
            zone,
            template,
            size,
            breakout,
            ssh_key_ids,
            user_data,
            anti_affinity_group,
            dedicated,
        ) {
            (
                Some(name),
                Some(zone),
                Some(template),
                Some(size),
                Some(breakout),
                Some(ssh_key_ids),
                Some(user_data),
                Some(anti_affinity_group),
                Some(dedicated),
            ) if errors.is_empty() => Ok(VmCreate {
                name,
                zone,
                template,
                size,
                breakout,
                ssh_key_ids,
                user_data,
                anti_affinity_group,
                dedicated,
                latency,
            }),
            _ => Err(errors),
        }
    }

    /// What the new VM adds to the tenant's usage, for [`Quota::check`](super::Quota::check).
    pub fn quota_request(&self) -> QuotaUsage {
        QuotaUsage::for_vm(&self.size, self.breakout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> VmCreateForm {
        VmCreateForm {
            name: "web-1".into(),
            zone: "lon1".into(),
            template: "debian-12".into(),
            size: "m".into(),
            breakout: "on".into(),
            ssh_key_ids: vec![
                "00000000-0000-4000-8000-000000000001".into(),
                String::new(),
                "00000000-0000-4000-8000-000000000001".into(),
            ],
            user_data: String::new(),
            anti_affinity_group: "web".into(),
            dedicated: String::new(),
            latency_ms: String::new(),
            latency_of: String::new(),
        }
    }

    #[test]
    fn a_good_form_parses() {
        let vm = VmCreate::parse(&form()).unwrap();
        assert_eq!(vm.name.as_str(), "web-1");
        assert_eq!(vm.zone.as_str(), "lon1");
        assert_eq!(
            BuiltinTemplate::find(vm.template).map(|t| t.slug),
            Some("debian-12")
        );
        assert_eq!(vm.size, VmSize::named("Kestrel").unwrap());
        assert!(vm.breakout && !vm.dedicated);
        assert_eq!(vm.ssh_key_ids.len(), 1, "duplicates and blanks are dropped");
        assert_eq!(vm.user_data, None);
        assert_eq!(vm.anti_affinity_group.as_ref().map(Name::as_str), Some("web"));
        assert_eq!(vm.quota_request(), QuotaUsage::for_vm(&vm.size, true));
        // It survives a trip through a job row.
        let json = serde_json::to_string(&vm).unwrap();
        assert_eq!(serde_json::from_str::<VmCreate>(&json).unwrap(), vm);
    }

    #[test]
    fn a_bad_form_reports_every_field_by_its_name() {
        let raw = VmCreateForm {
            name: "Web 1".into(),
            zone: "lon9".into(),
            template: String::new(),
            size: "huge".into(),
            breakout: "maybe".into(),
            ssh_key_ids: vec!["not-an-id".into()],
            user_data: "#!/bin/sh".into(),
            anti_affinity_group: "-web".into(),
            dedicated: "sure".into(),
            latency_ms: "fast".into(),
            latency_of: "fra1".into(),
        };
        let errors = VmCreate::parse(&raw).unwrap_err();
        for field in [
            "name",
            "zone",
            "template",
            "size",
            "breakout",
            "ssh_key_ids",
            "user_data",
            "anti_affinity_group",
            "dedicated",
            "latency_ms",
        ] {
            assert!(errors.get(field).is_some(), "{field}: {errors}");
        }
        assert_eq!(errors.get("zone"), Some("There is no zone \"lon9\"."));
        assert_eq!(errors.get("template"), Some("Choose a template."));
        let empty = VmCreate::parse(&VmCreateForm::default()).unwrap_err();
        assert_eq!(empty.get("zone"), Some("Choose a zone."));
        assert_eq!(empty.get("size"), Some("Choose a size."));
        assert_eq!(empty.get("breakout"), None, "an unticked box is fine");
    }

    #[test]
    fn form_fields_deserialize_with_missing_keys() {
        let raw: VmCreateForm = serde_json::from_str(r#"{"name":"db","zone":"fra1"}"#).unwrap();
        assert_eq!(raw.size, "");
        assert!(raw.ssh_key_ids.is_empty());
    }
}
