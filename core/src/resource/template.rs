//! Templates: the built-in images, tenant templates and cloud-config user data.

use super::{DiskGib, Name};
use crate::field::FieldErrors;
use crate::id::{TemplateId, TenantId};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

/// The operating system family of a template: decides the default user and how cloud-config is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OsFamily {
    /// Flatcar Container Linux, the continuation of CoreOS Container Linux. It reads cloud-config
    /// through `coreos-cloudinit`, which supports a subset of cloud-init's keys.
    CoreOs,
    /// Ubuntu (cloud-init).
    Ubuntu,
    /// Debian (cloud-init).
    Debian,
    /// Rocky Linux, RHEL-compatible (cloud-init).
    Rocky,
}

impl OsFamily {
    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            OsFamily::CoreOs => "CoreOS",
            OsFamily::Ubuntu => "Ubuntu",
            OsFamily::Debian => "Debian",
            OsFamily::Rocky => "Rocky Linux",
        }
    }
}

/// A template Meridian ships. Their ids are fixed so stored VMs keep pointing at them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BuiltinTemplate {
    /// Fixed id; tenant templates get random (version 4) UUIDs, which can never equal these.
    pub id: TemplateId,
    /// Short key for forms and APIs, e.g. `ubuntu-24-04`.
    pub slug: &'static str,
    /// Name shown to people.
    pub name: &'static str,
    /// Operating system family.
    pub os_family: OsFamily,
    /// The user the SSH keys are installed for.
    pub default_user: &'static str,
    /// Smallest boot disk the image fits on.
    pub min_disk_gib: DiskGib,
    /// The image the driver boots from.
    pub image: &'static str,
}

/// The built-in template ids: `6d657269-6469-616e-…` spells "meridian", the last digit numbers them.
const fn builtin_id(n: u128) -> TemplateId {
    TemplateId(Uuid::from_u128(0x6d65_7269_6469_616e_0000_0000_0000_0000 | n))
}

/// Every built-in template, in the order the create form lists them.
pub static BUILTIN_TEMPLATES: [BuiltinTemplate; 4] = [
    BuiltinTemplate {
        id: builtin_id(1),
        slug: "coreos-docker",
        name: "Flatcar Container Linux (CoreOS) with Docker",
        os_family: OsFamily::CoreOs,
        default_user: "core",
        min_disk_gib: DiskGib::SMALLEST,
        image: "flatcar-stable",
    },
    BuiltinTemplate {
        id: builtin_id(2),
        slug: "ubuntu-24-04",
        name: "Ubuntu 24.04 LTS",
        os_family: OsFamily::Ubuntu,
        default_user: "ubuntu",
        min_disk_gib: DiskGib::SMALLEST,
        image: "ubuntu-24.04-server-cloudimg-amd64",
    },
    BuiltinTemplate {
        id: builtin_id(3),
        slug: "debian-12",
        name: "Debian 12 (bookworm)",
        os_family: OsFamily::Debian,
        default_user: "debian",
        min_disk_gib: DiskGib::SMALLEST,
        image: "debian-12-genericcloud-amd64",
    },
    BuiltinTemplate {
        id: builtin_id(4),
        slug: "rocky-9",
        name: "Rocky Linux 9",
        os_family: OsFamily::Rocky,
        default_user: "rocky",
        min_disk_gib: DiskGib::SMALLEST,
        image: "Rocky-9-GenericCloud-Base",
    },
];

/// A disk too small for the template's image.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{template} needs at least {min} of disk; choose a larger size.")]
pub struct DiskTooSmall {
    /// The template's name.
    pub template: String,
    /// Its minimum disk.
    pub min: DiskGib,
}

impl BuiltinTemplate {
    /// The built-in template with this id.
    pub fn find(id: TemplateId) -> Option<&'static BuiltinTemplate> {
        BUILTIN_TEMPLATES.iter().find(|t| t.id == id)
    }

    /// The built-in template with this slug.
    pub fn by_slug(slug: &str) -> Option<&'static BuiltinTemplate> {
        BUILTIN_TEMPLATES.iter().find(|t| t.slug == slug)
    }

    /// Checks that a boot disk is big enough for this image.
    pub fn check_disk(&self, disk: DiskGib) -> Result<(), DiskTooSmall> {
        if disk >= self.min_disk_gib {
            Ok(())
        } else {
            Err(DiskTooSmall {
                template: self.name.to_owned(),
                min: self.min_disk_gib,
            })
        }
    }
}

/// Why a template choice was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TemplateChoiceError {
    /// Nothing was chosen.
    #[error("Choose a template.")]
    Empty,
    /// Neither a built-in slug nor a template id.
    #[error("There is no template {0:?}.")]
    Unknown(String),
}

/// Reads a template choice from a form: a built-in slug (`debian-12`) or any template id.
///
/// A UUID that is not built in is accepted here because tenant templates live in the database; the
/// control plane checks that it exists and belongs to the tenant (and answers 404 otherwise).
pub fn parse_template_choice(raw: &str) -> Result<TemplateId, TemplateChoiceError> {
    let wanted = raw.trim();
    if wanted.is_empty() {
        return Err(TemplateChoiceError::Empty);
    }
    if let Some(builtin) = BuiltinTemplate::by_slug(wanted) {
        return Ok(builtin.id);
    }
    wanted
        .parse::<TemplateId>()
        .map_err(|_| TemplateChoiceError::Unknown(wanted.to_owned()))
}

/// Largest user data accepted: cloud-init's own limit on most platforms is 16 KiB.
pub const USER_DATA_MAX_BYTES: usize = 16 * 1024;

/// The first line every cloud-config document starts with.
pub const CLOUD_CONFIG_HEADER: &str = "#cloud-config";

/// Cloud-config user data, checked lightly.
///
/// What is checked: the first line is exactly `#cloud-config`; the text is at most
/// [`USER_DATA_MAX_BYTES`] bytes; no line is indented with a tab (YAML forbids tabs in indentation and
/// this is the mistake people paste most); no control characters other than tab, CR and LF. The YAML
/// is not parsed: keeping a YAML parser out of the browser bundle matters more than catching every
/// mistake, and cloud-init reports the rest in the VM's console log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserData(String);

/// Why user data was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum UserDataError {
    /// Larger than [`USER_DATA_MAX_BYTES`].
    #[error("User data is limited to 16 KiB.")]
    TooLarge,
    /// Does not start with `#cloud-config`.
    #[error("Start user data with the line #cloud-config.")]
    MissingHeader,
    /// A line is indented with a tab.
    #[error("Line {line} is indented with a tab; YAML needs spaces.")]
    TabIndent {
        /// 1-based line number.
        line: usize,
    },
    /// A line holds an invisible control character.
    #[error("Line {line} contains a control character.")]
    ControlCharacter {
        /// 1-based line number.
        line: usize,
    },
}

impl UserData {
    /// Checks cloud-config text. Surrounding whitespace is dropped, since a blank first line would
    /// hide the header from cloud-init.
    pub fn parse(raw: &str) -> Result<Self, UserDataError> {
        let text = raw.trim();
        if text.len() > USER_DATA_MAX_BYTES {
            return Err(UserDataError::TooLarge);
        }
        let mut lines = text.lines();
        if lines.next().map(str::trim_end) != Some(CLOUD_CONFIG_HEADER) {
            return Err(UserDataError::MissingHeader);
        }
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
            if line[..indent].contains('\t') {
                return Err(UserDataError::TabIndent { line: line_number });
            }
            if line.chars().any(|c| c.is_control() && c != '\t' && c != '\r') {
                return Err(UserDataError::ControlCharacter { line: line_number });
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// The text, starting with `#cloud-config`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserData {
    type Error = UserDataError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<UserData> for String {
    fn from(user_data: UserData) -> Self {
        user_data.0
    }
}

/// A template a tenant made: a built-in base image plus their own cloud-config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantTemplate {
    /// Its id.
    pub id: TemplateId,
    /// The tenant that owns it.
    pub tenant_id: TenantId,
    /// Its name, unique within the tenant.
    pub name: Name,
    /// The built-in template whose image it boots.
    pub base: TemplateId,
    /// Cloud-config applied at first boot.
    pub user_data: UserData,
}

impl TenantTemplate {
    /// The built-in template it is based on (`None` only if the catalogue lost an entry).
    pub fn base_template(&self) -> Option<&'static BuiltinTemplate> {
        BuiltinTemplate::find(self.base)
    }
}

/// The validated input for creating a tenant template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateCreate {
    /// Its name.
    pub name: Name,
    /// The built-in template it is based on.
    pub base: &'static BuiltinTemplate,
    /// Its cloud-config.
    pub user_data: UserData,
}

impl TemplateCreate {
    /// Validates the template form; field names are `name`, `base` and `user_data`.
    pub fn parse(name: &str, base: &str, user_data: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", Name::parse(name));
        // Only built-ins can be a base: templates of templates would make "what does this VM run"
        // a chain to follow.
        let base = errors.check(
            "base",
            parse_template_choice(base).and_then(|id| {
                BuiltinTemplate::find(id).ok_or_else(|| TemplateChoiceError::Unknown(base.trim().to_owned()))
            }),
        );
        let user_data = errors.check("user_data", UserData::parse(user_data));
        match (name, base, user_data) {
            (Some(name), Some(base), Some(user_data)) => Ok(Self {
                name,
                base,
                user_data,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::SIZES;

    #[test]
    fn builtin_templates_have_unique_fixed_ids_and_slugs() {
        for (i, template) in BUILTIN_TEMPLATES.iter().enumerate() {
            assert_eq!(BuiltinTemplate::find(template.id), Some(template));
            assert_eq!(BuiltinTemplate::by_slug(template.slug), Some(template));
            assert_eq!(parse_template_choice(template.slug), Ok(template.id));
            assert_eq!(parse_template_choice(&template.id.to_string()), Ok(template.id));
            assert!(
                BUILTIN_TEMPLATES[i + 1..]
                    .iter()
                    .all(|t| t.id != template.id && t.slug != template.slug)
            );
            // Every catalogue size fits every built-in image.
            assert!(SIZES.iter().all(|s| template.check_disk(s.size.disk_gib).is_ok()));
        }
        assert_eq!(
            BUILTIN_TEMPLATES[1].id.to_string(),
            "6d657269-6469-616e-0000-000000000002"
        );
        assert_eq!(parse_template_choice(" "), Err(TemplateChoiceError::Empty));
        assert!(parse_template_choice("windows-2022").is_err());
        // A tenant template id is accepted here and looked up by the control plane.
        let tenant_template = "0b7e8f1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b";
        assert!(parse_template_choice(tenant_template).is_ok());
    }

    #[test]
    fn a_small_disk_is_refused_for_a_big_image() {
        let big = BuiltinTemplate {
            min_disk_gib: DiskGib::new(50).unwrap(),
            ..BUILTIN_TEMPLATES[0]
        };
        let err = big.check_disk(DiskGib::new(20).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Flatcar Container Linux (CoreOS) with Docker needs at least 50 GiB of disk; \
             choose a larger size."
        );
        assert!(big.check_disk(DiskGib::new(50).unwrap()).is_ok());
    }

    #[test]
    fn user_data_is_checked_lightly() {
        let good = "#cloud-config\npackages:\n  - nginx\nruncmd:\n  - [systemctl, enable, --now, nginx]\n";
        assert_eq!(UserData::parse(good).unwrap().as_str(), good.trim());
        assert!(UserData::parse("\n  #cloud-config\r\nusers: []\r\n").is_ok());
        assert!(UserData::parse("#cloud-config").is_ok());
        assert_eq!(UserData::parse(""), Err(UserDataError::MissingHeader));
        assert_eq!(
            UserData::parse("#!/bin/sh\necho hi"),
            Err(UserDataError::MissingHeader)
        );
        assert_eq!(
            UserData::parse("#cloud-configx\n"),
            Err(UserDataError::MissingHeader)
        );
        assert_eq!(
            UserData::parse("#cloud-config\npackages:\n\t- nginx\n"),
            Err(UserDataError::TabIndent { line: 3 })
        );
        assert_eq!(
            UserData::parse("#cloud-config\npackages:\n  \t- nginx\n")
                .unwrap_err()
                .to_string(),
            "Line 3 is indented with a tab; YAML needs spaces."
        );
        // A tab inside a value is legal YAML.
        assert!(UserData::parse("#cloud-config\nwrite_files:\n  - content: \"a\tb\"\n").is_ok());
        assert_eq!(
            UserData::parse("#cloud-config\nx: \u{1b}[31m\n"),
            Err(UserDataError::ControlCharacter { line: 2 })
        );
        let big = format!("#cloud-config\n# {}\n", "x".repeat(USER_DATA_MAX_BYTES));
        assert_eq!(UserData::parse(&big), Err(UserDataError::TooLarge));
    }

    #[test]
    fn tenant_templates_take_a_builtin_base() {
        let ok = TemplateCreate::parse("web", "ubuntu-24-04", "#cloud-config\npackages: [nginx]").unwrap();
        assert_eq!(ok.base.slug, "ubuntu-24-04");
        let errors =
            TemplateCreate::parse("Web", "0b7e8f1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b", "echo hi").unwrap_err();
        assert!(errors.get("name").is_some());
        assert!(errors.get("base").is_some());
        assert_eq!(
            errors.get("user_data"),
            Some("Start user data with the line #cloud-config.")
        );
        let template = TenantTemplate {
            id: TemplateId(Uuid::from_u128(7)),
            tenant_id: TenantId(Uuid::from_u128(8)),
            name: ok.name,
            base: ok.base.id,
            user_data: ok.user_data,
        };
        assert_eq!(template.base_template().map(|t| t.default_user), Some("ubuntu"));
    }
}
