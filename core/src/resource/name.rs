//! A resource name: one DNS label, the name of VMs, templates and groups.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Longest resource name: one DNS label (RFC 1035), so a VM's name can be its hostname.
pub const NAME_MAX_CHARS: usize = 63;

/// A resource name (VM, template, group): a DNS label of lowercase letters, digits and hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a resource name was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum NameError {
    /// Nothing was typed.
    #[error("Enter a name.")]
    Empty,
    /// Longer than a DNS label.
    #[error("Use at most 63 characters.")]
    TooLong,
    /// Contains something other than `a-z`, `0-9` and `-`.
    #[error("Use lowercase letters, digits and hyphens only, like web-1.")]
    BadCharacter,
    /// Starts with a digit or a hyphen.
    #[error("Start the name with a lowercase letter.")]
    BadStart,
    /// Ends with a hyphen, which DNS does not allow.
    #[error("A name cannot end with a hyphen.")]
    EndsWithHyphen,
}

impl Name {
    /// Parses a name typed by a person. Surrounding whitespace is dropped; nothing is lower-cased
    /// silently, so the name stored is the name the person saw.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            Err(NameError::Empty)
        } else if name.chars().count() > NAME_MAX_CHARS {
            Err(NameError::TooLong)
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Err(NameError::BadCharacter)
        } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            Err(NameError::BadStart)
        } else if name.ends_with('-') {
            Err(NameError::EndsWithHyphen)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        for good in ["a", "web-1", "db", "a1b2-c3", &"x".repeat(63)] {
            assert_eq!(Name::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(Name::parse("  web-1 ").unwrap().as_str(), "web-1");
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse("   "), Err(NameError::Empty));
        assert_eq!(Name::parse(&"x".repeat(64)), Err(NameError::TooLong));
        for bad in ["Web-1", "web_1", "web.1", "wéb", "web 1", "web/1"] {
            assert_eq!(Name::parse(bad), Err(NameError::BadCharacter), "{bad}");
        }
        assert_eq!(Name::parse("1web"), Err(NameError::BadStart));
        assert_eq!(Name::parse("-web"), Err(NameError::BadStart));
        assert_eq!(Name::parse("web-"), Err(NameError::EndsWithHyphen));
        // Names of VDCs, VMs, templates, stacks, API keys and SSH keys: ASCII only, so nothing
        // invisible or direction-changing gets in.
        for hidden in [
            "web\u{202E}1",
            "web\u{200B}1",
            "web\u{2066}",
            "\u{FEFF}web",
            "web\u{85}1",
        ] {
            assert_eq!(Name::parse(hidden), Err(NameError::BadCharacter), "{hidden:?}");
        }
        assert!(
            NameError::BadCharacter
                .to_string()
                .contains("lowercase letters, digits and hyphens")
        );
    }

    #[test]
    fn names_are_checked_when_deserialized() {
        let name: Name = serde_json::from_str("\"web-1\"").unwrap();
        assert_eq!(name.as_str(), "web-1");
        assert!(serde_json::from_str::<Name>("\"Web 1\"").is_err());
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"web-1\"");
    }
}
