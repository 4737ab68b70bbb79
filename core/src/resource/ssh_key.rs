//! SSH public keys: parsing an OpenSSH line, the accepted algorithms and fingerprints.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use thiserror::Error;

/// Longest public-key line accepted; a 16384-bit RSA key is under 3 KiB.
pub const SSH_KEY_MAX_BYTES: usize = 16 * 1024;

/// Smallest RSA modulus accepted, in bits (NIST SP 800-57: 1024-bit RSA is no longer acceptable).
pub const RSA_MIN_BITS: usize = 2048;

/// An SSH public-key algorithm Meridian accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SshKeyType {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ssh-rsa`.
    Rsa,
    /// `ecdsa-sha2-nistp256`.
    EcdsaP256,
    /// `ecdsa-sha2-nistp384`.
    EcdsaP384,
    /// `ecdsa-sha2-nistp521`.
    EcdsaP521,
    /// `sk-ssh-ed25519@openssh.com` (a FIDO security key).
    SkEd25519,
}

impl SshKeyType {
    /// Every accepted type.
    pub const ALL: [SshKeyType; 6] = [
        SshKeyType::Ed25519,
        SshKeyType::Rsa,
        SshKeyType::EcdsaP256,
        SshKeyType::EcdsaP384,
        SshKeyType::EcdsaP521,
        SshKeyType::SkEd25519,
    ];

    /// The OpenSSH name, as it appears at the start of the key line and inside the key blob.
    pub fn as_str(self) -> &'static str {
        match self {
            SshKeyType::Ed25519 => "ssh-ed25519",
            SshKeyType::Rsa => "ssh-rsa",
            SshKeyType::EcdsaP256 => "ecdsa-sha2-nistp256",
            SshKeyType::EcdsaP384 => "ecdsa-sha2-nistp384",
            SshKeyType::EcdsaP521 => "ecdsa-sha2-nistp521",
            SshKeyType::SkEd25519 => "sk-ssh-ed25519@openssh.com",
        }
    }

    /// The curve name and encoded point length of an ECDSA type (RFC 5656: uncompressed points).
    fn ecdsa_curve(self) -> Option<(&'static str, usize)> {
        match self {
            SshKeyType::EcdsaP256 => Some(("nistp256", 65)),
            SshKeyType::EcdsaP384 => Some(("nistp384", 97)),
            SshKeyType::EcdsaP521 => Some(("nistp521", 133)),
            _ => None,
        }
    }
}

impl fmt::Display for SshKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed OpenSSH public key: `<type> <base64 blob> [comment]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SshPublicKey {
    key_type: SshKeyType,
    blob: Vec<u8>,
    comment: Option<String>,
}

/// Why a public key was refused. The messages aim at the usual paste mistakes.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SshKeyError {
    /// Nothing was pasted.
    #[error("Paste a public key.")]
    Empty,
    /// Longer than [`SSH_KEY_MAX_BYTES`].
    #[error("A public key is at most 16 KiB long.")]
    TooLong,
    /// A private key was pasted.
    #[error("This is a private key: keep it secret. Paste the public key instead (the .pub file).")]
    PrivateKey,
    /// An RFC 4716 (`---- BEGIN SSH2 PUBLIC KEY ----`) key.
    #[error("This key is in SSH2 format; convert it with ssh-keygen -i -f key.pub and paste the result.")]
    Ssh2Format,
    /// More than one line.
    #[error("Paste one key, on a single line.")]
    MultipleLines,
    /// Not of the shape `<type> <data> [comment]`.
    #[error("A public key looks like: ssh-ed25519 AAAAC3Nza… you@laptop")]
    Malformed,
    /// A key type Meridian does not accept.
    #[error("Key type {0:?} is not supported; use ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521.")]
    UnsupportedType(String),
    /// The data is not base64.
    #[error("The key data is not valid base64; copy the whole line from the .pub file again.")]
    BadBase64,
    /// The data is for another key type than the line says.
    #[error(
        "The key data does not belong to a {declared} key; copy the whole line from the .pub file again."
    )]
    TypeMismatch {
        /// The type named at the start of the line.
        declared: SshKeyType,
    },
    /// The data is cut short or has extra bytes.
    #[error("The key data is incomplete or damaged; copy the whole line from the .pub file again.")]
    Corrupt,
    /// An RSA key below [`RSA_MIN_BITS`].
    #[error("This RSA key has {bits} bits; use at least 2048, or an ed25519 key (ssh-keygen -t ed25519).")]
    RsaTooSmall {
        /// The modulus size.
        bits: usize,
    },
}

/// Reads the SSH wire encoding (RFC 4251 §5): strings are a big-endian u32 length and the bytes.
struct WireReader<'a> {
    rest: &'a [u8],
}

impl<'a> WireReader<'a> {
    fn string(&mut self) -> Result<&'a [u8], SshKeyError> {
        let (len, rest) = self.rest.split_first_chunk::<4>().ok_or(SshKeyError::Corrupt)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| SshKeyError::Corrupt)?;
        if rest.len() < len {
            return Err(SshKeyError::Corrupt);
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(value)
    }

    fn finish(&self) -> Result<(), SshKeyError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(SshKeyError::Corrupt)
        }
    }
}

/// The size in bits of a positive `mpint` (RFC 4251 §5), or `None` if it is negative or zero.
fn mpint_bits(mpint: &[u8]) -> Option<usize> {
    if mpint.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let significant = mpint.iter().position(|&b| b != 0).map(|i| &mpint[i..])?;
    let top = significant.first()?;
    let top_bits = usize::try_from(u8::BITS - top.leading_zeros()).ok()?;
    Some((significant.len() - 1) * 8 + top_bits)
}

impl SshPublicKey {
    /// Parses one line in OpenSSH `authorized_keys` format (without options).
    ///
    /// Beyond the shape of the line, the base64 data must decode to a well-formed key of the
    /// declared type: the blob starts with the same type name, ed25519 keys hold 32 bytes, ECDSA keys
    /// name their curve and hold an uncompressed point of the right length, RSA keys have at least
    /// [`RSA_MIN_BITS`] bits, and nothing follows. That catches truncated and mixed-up pastes.
    pub fn parse(raw: &str) -> Result<Self, SshKeyError> {
        if raw.len() > SSH_KEY_MAX_BYTES {
            return Err(SshKeyError::TooLong);
        }
        let line = raw.trim();
        if line.is_empty() {
            return Err(SshKeyError::Empty);
        }
        if line.contains("PRIVATE KEY") {
            return Err(SshKeyError::PrivateKey);
        }
        if line.contains("BEGIN SSH2 PUBLIC KEY") {
            return Err(SshKeyError::Ssh2Format);
        }
        if line.contains(['\n', '\r']) {
            return Err(SshKeyError::MultipleLines);
        }
        let (type_name, rest) = line
            .split_once(char::is_whitespace)
            .ok_or(SshKeyError::Malformed)?;
        let rest = rest.trim_start();
        let (data, comment) = match rest.split_once(char::is_whitespace) {
            Some((data, comment)) => (data, comment.trim()),
            None => (rest, ""),
        };
        let key_type = SshKeyType::ALL
            .into_iter()
            .find(|t| t.as_str() == type_name)
            .ok_or_else(|| SshKeyError::UnsupportedType(type_name.chars().take(40).collect()))?;
        if crate::text::has_hidden(comment) {
            return Err(SshKeyError::Malformed);
        }
        let blob = STANDARD.decode(data).map_err(|_| SshKeyError::BadBase64)?;
        Self::check_blob(key_type, &blob)?;
        Ok(Self {
            key_type,
            blob,
            comment: (!comment.is_empty()).then(|| comment.to_owned()),
        })
    }

    fn check_blob(key_type: SshKeyType, blob: &[u8]) -> Result<(), SshKeyError> {
        let mut reader = WireReader { rest: blob };
        let mismatch = SshKeyError::TypeMismatch { declared: key_type };
        if reader.string().map_err(|_| mismatch.clone())? != key_type.as_str().as_bytes() {
            return Err(mismatch);
        }
        match key_type {
            SshKeyType::Ed25519 | SshKeyType::SkEd25519 => {
                if reader.string()?.len() != 32 {
                    return Err(SshKeyError::Corrupt);
                }
                if key_type == SshKeyType::SkEd25519 {
                    // The FIDO application, normally "ssh:".
                    reader.string()?;
                }
            }
            SshKeyType::Rsa => {
                let exponent = reader.string()?;
                let modulus = reader.string()?;
                mpint_bits(exponent).ok_or(SshKeyError::Corrupt)?;
                let bits = mpint_bits(modulus).ok_or(SshKeyError::Corrupt)?;
                if bits < RSA_MIN_BITS {
                    return Err(SshKeyError::RsaTooSmall { bits });
                }
            }
            SshKeyType::EcdsaP256 | SshKeyType::EcdsaP384 | SshKeyType::EcdsaP521 => {
                let (curve, point_len) = key_type.ecdsa_curve().ok_or(SshKeyError::Corrupt)?;
                if reader.string()? != curve.as_bytes() {
                    return Err(SshKeyError::Corrupt);
                }
                let point = reader.string()?;
                if point.len() != point_len || point.first() != Some(&0x04) {
                    return Err(SshKeyError::Corrupt);
                }
            }
        }
        reader.finish()
    }

    /// The key's algorithm.
    pub fn key_type(&self) -> SshKeyType {
        self.key_type
    }

    /// The comment after the key data, usually `user@host`.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The SHA-256 fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&self.blob)))
    }

    /// The key as one `authorized_keys` line.
    pub fn to_openssh(&self) -> String {
        let mut line = format!("{} {}", self.key_type, STANDARD.encode(&self.blob));
        if let Some(comment) = &self.comment {
            line.push(' ');
            line.push_str(comment);
        }
        line
    }
}

impl fmt::Display for SshPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_openssh())
    }
}

impl TryFrom<String> for SshPublicKey {
    type Error = SshKeyError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SshPublicKey> for String {
    fn from(key: SshPublicKey) -> Self {
        key.to_openssh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire_string(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
        out.extend_from_slice(bytes);
    }

    fn ed25519_line(comment: &str) -> String {
        let mut blob = Vec::new();
        wire_string(&mut blob, b"ssh-ed25519");
        wire_string(&mut blob, &[7u8; 32]);
        format!("ssh-ed25519 {} {comment}", STANDARD.encode(&blob))
    }

    fn rsa_line(modulus_bytes: usize) -> String {
        let mut blob = Vec::new();
        wire_string(&mut blob, b"ssh-rsa");
        wire_string(&mut blob, &[0x01, 0x00, 0x01]);
        // A positive mpint whose top bit is set needs a leading zero byte.
        let mut modulus = vec![0x00, 0xc5];
        modulus.extend(std::iter::repeat_n(0x5a, modulus_bytes - 1));
        wire_string(&mut blob, &modulus);
        format!("ssh-rsa {} rsa@example", STANDARD.encode(&blob))
    }

    #[test]
    fn constructed_ed25519_and_rsa_keys_parse() {
        let key = SshPublicKey::parse(&ed25519_line("ada@laptop")).unwrap();
        assert_eq!(key.key_type(), SshKeyType::Ed25519);
        assert_eq!(key.comment(), Some("ada@laptop"));
        assert!(key.fingerprint().starts_with("SHA256:"));
        assert_eq!(key.fingerprint().len(), "SHA256:".len() + 43);
        assert_eq!(key.to_openssh(), ed25519_line("ada@laptop"));
        // The comment may contain spaces; extra whitespace between fields is tolerated.
        let spaced = ed25519_line("Ada Lovelace's laptop").replacen(' ', "   ", 1);
        assert_eq!(
            SshPublicKey::parse(&spaced).unwrap().comment(),
            Some("Ada Lovelace's laptop")
        );
        let no_comment = ed25519_line("");
        assert_eq!(SshPublicKey::parse(&no_comment).unwrap().comment(), None);
        // The comment is shown as the key's label: nothing in it may hide or reverse text.
        for hidden in ["ada\u{202E}pot", "ada\u{200B}", "\u{2066}ada", "ada\u{FEFF}"] {
            assert_eq!(
                SshPublicKey::parse(&ed25519_line(hidden)),
                Err(SshKeyError::Malformed),
                "{hidden:?}"
            );
        }

        let rsa = SshPublicKey::parse(&rsa_line(256)).unwrap();
        assert_eq!(rsa.key_type(), SshKeyType::Rsa);
        assert_eq!(
            SshPublicKey::parse(&rsa_line(128)),
            Err(SshKeyError::RsaTooSmall { bits: 1024 })
        );
    }

    #[test]
    fn fingerprints_match_ssh_keygen() {
        // Keys made with ssh-keygen; the fingerprints are what `ssh-keygen -lf` printed for them.
        let cases = [
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINm8o/SzVuSceOe2PFIz\
                 yYA2EpkAotfu/P0twhk/UVpA ada@example",
                "SHA256:wlY1NNTci5w1wHCspfqyw1TiD3X6NNTLZR2nS/V+ex0",
            ),
            (
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDBuWSlcPo+aniaUtkgBap9iWg/UHXa1tTnnhyZwJLb\
                 yGRK3FSSOCOV7XPs69jpc/mpDKokEghJ0IzNuBC02RzVVxraiFUCQgHw8falvmT8OkZb1/YeDQuuGlsF\
                 /gHs/qLEbNnP+y5zRBR9grLHN3pldAOU9ICZK8c2edHuM4duP1JOO83Vht2ulpiop3aFzqB6CsJnmscz\
                 /6z+q5NZrN4LUPsSrsADr4ex1vPGY4IDH9XlJazwMIAD+Af9MXPZrOM2XVGNTDNjAnhtiz4fjvGwRj+p\
                 xR4BY1IN3DzdDWcSob43tdmODE7X4yl+0OV7G9Y62uA5NXoYXIblbUqM6qrX rsa@example",
                "SHA256:BJAgjRACz8fxFhPRigxxNMcpvK2bAEdqrCKbOSemujI",
            ),
            (
                "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCVYCRTj\
                 zegD30PlKvUi543+UZAaM0p/Q8lDlHR8c0ZR5JP9rAuDPmmY3Y0EQOC81hIn5r2xztYBYTJ+yb9g+/k=",
                "SHA256:V2FdA1aaTNEgRdvfzDQ5vQromTjzlOMww0LA5q8jifM",
            ),
        ];
        for (line, fingerprint) in cases {
            let key = SshPublicKey::parse(line).unwrap();
            assert_eq!(key.fingerprint(), fingerprint);
            assert_eq!(key.to_openssh(), line);
        }
    }

    #[test]
    fn paste_mistakes_are_named() {
        let good = ed25519_line("ada@laptop");
        let data = good.split(' ').nth(1).unwrap();
        assert_eq!(SshPublicKey::parse("  "), Err(SshKeyError::Empty));
        assert_eq!(
            SshPublicKey::parse("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"),
            Err(SshKeyError::PrivateKey)
        );
        assert_eq!(
            SshPublicKey::parse("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----"),
            Err(SshKeyError::Ssh2Format)
        );
        assert_eq!(
            SshPublicKey::parse(&format!("{good}\n{good}")),
            Err(SshKeyError::MultipleLines)
        );
        assert_eq!(SshPublicKey::parse(data), Err(SshKeyError::Malformed));
        assert_eq!(
            SshPublicKey::parse(&format!("ssh-dss {data}")),
            Err(SshKeyError::UnsupportedType("ssh-dss".into()))
        );
        // Declared as RSA, but the blob says ed25519.
        assert_eq!(
            SshPublicKey::parse(&format!("ssh-rsa {data}")),
            Err(SshKeyError::TypeMismatch {
                declared: SshKeyType::Rsa
            })
        );
        // One character changed in the middle: still base64, but the type string is damaged.
        let corrupted = good.replacen("AAAAC3", "AAAAC4", 1);
        assert_eq!(
            SshPublicKey::parse(&corrupted),
            Err(SshKeyError::TypeMismatch {
                declared: SshKeyType::Ed25519
            })
        );
        // Cut short by a few characters (a truncated copy): the padding no longer lines up.
        assert_eq!(
            SshPublicKey::parse(&good[..good.len() - 20]),
            Err(SshKeyError::BadBase64)
        );
        // Cut short on a 4-character boundary: valid base64, but the key bytes are missing.
        let mut blob = STANDARD.decode(data).unwrap();
        blob.truncate(blob.len() - 3);
        let short = format!("ssh-ed25519 {}", STANDARD.encode(&blob));
        assert_eq!(SshPublicKey::parse(&short), Err(SshKeyError::Corrupt));
        // Extra bytes after the key.
        let mut long_blob = STANDARD.decode(data).unwrap();
        long_blob.extend_from_slice(&[0, 0, 0, 0]);
        let long = format!("ssh-ed25519 {}", STANDARD.encode(&long_blob));
        assert_eq!(SshPublicKey::parse(&long), Err(SshKeyError::Corrupt));
        assert_eq!(
            SshPublicKey::parse("ssh-ed25519 not*base64"),
            Err(SshKeyError::BadBase64)
        );
        let huge = format!("ssh-ed25519 {}", "A".repeat(SSH_KEY_MAX_BYTES));
        assert_eq!(SshPublicKey::parse(&huge), Err(SshKeyError::TooLong));
    }

    #[test]
    fn ssh_keys_serialize_as_their_line() {
        let line = ed25519_line("ada@laptop");
        let key = SshPublicKey::parse(&line).unwrap();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{line}\""));
        assert_eq!(serde_json::from_str::<SshPublicKey>(&json).unwrap(), key);
        assert!(serde_json::from_str::<SshPublicKey>("\"ssh-ed25519 AAAA\"").is_err());
    }
}
