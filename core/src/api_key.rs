//! API keys and CloudStack request signatures: what a key looks like, how its secret is derived
//! from the server's master secret, and how a signed CloudStack request is checked.
//!
//! The secret is never stored. It is `HMAC-SHA256(master secret, api key)`, so the server can
//! recompute it to check an HMAC-signed CloudStack request, while the database holds only its
//! SHA-256 (enough to check a REST bearer token, useless to a thief without the master secret).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use thiserror::Error;

/// What every API key starts with, so a leaked one is recognisable in logs and by scanners.
pub const KEY_PREFIX: &str = "mk_";

/// An API key from 16 random bytes: `mk_` and 32 lowercase hex digits.
pub fn key_from_bytes(random: [u8; 16]) -> String {
    let mut key = String::with_capacity(KEY_PREFIX.len() + 32);
    key.push_str(KEY_PREFIX);
    for byte in random {
        let _ = write!(key, "{byte:02x}");
    }
    key
}

/// Whether `text` has the shape of an API key (checked before any lookup).
pub fn is_key(text: &str) -> bool {
    text.strip_prefix(KEY_PREFIX).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The secret of `key` under the server's `master` secret: 43 URL-safe base64 characters.
pub fn secret_derive(master: &[u8], key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes a key of any length");
    mac.update(b"meridian api key secret\0");
    mac.update(key.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// What the database keeps of a secret: its SHA-256, in hex.
pub fn secret_hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// SHA-256 of `bytes` (also what an idempotent create's resource id is derived from).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// SHA-256 of `bytes`, in lower-case hex (also what an idempotent request is recognised by).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Why a CloudStack request's signature was refused.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum SignatureError {
    /// No `signature` parameter.
    #[error("The request is not signed: add apiKey and signature.")]
    Missing,
    /// The signature is not the HMAC-SHA1 of the request under the key's secret.
    #[error("The signature does not match: check the secret key.")]
    Mismatch,
    /// `signatureVersion=3` with an `expires` time that has passed.
    #[error("The request has expired (its expires time is in the past).")]
    Expired,
    /// `signatureVersion=3` without a readable `expires` time.
    #[error("signatureVersion=3 needs expires as an ISO 8601 time, like 2026-11-27T10:00:00+0000.")]
    BadExpires,
    /// `signatureVersion=3` with an `expires` time more than [`EXPIRES_MAX_MS`] ahead.
    #[error(
        "The request's expires time is more than 15 minutes ahead: sign each request shortly before sending it."
    )]
    ExpiresTooFar,
}

/// How far ahead a signed request's `expires` may be: 15 minutes, the bound CloudStack itself
/// applies when it enforces timestamps (`enforce.post.requests.and.timestamps`). A signed URL
/// that leaks is good for that long at most.
pub const EXPIRES_MAX_MS: i64 = 15 * 60 * 1000;

/// A request whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// SHA-256 of the signature's bytes, in hex: what identifies this signed request (to refuse
    /// it a second time).
    pub digest: String,
    /// Until when it is good (Unix ms), for `signatureVersion=3`; `None` for a signature that
    /// carries no time.
    pub expires_ms: Option<i64>,
}

/// Characters CloudStack clients leave unencoded when they build the string they sign. Clients
/// differ: `cs` quotes with `*` safe, libcloud with `[]*` safe, and CloudStack's own Java
/// `URLEncoder` leaves `~` encoded. A request is accepted if it matches any of them.
const UNRESERVED_VARIANTS: [&str; 3] = ["-_.~*", "-_.~*[]", "-_.*"];

/// Percent-encodes `value`, leaving ASCII letters, digits and `safe` as they are.
fn percent_encode(value: &str, safe: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || safe.as_bytes().contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The string a CloudStack client signs: every parameter but `signature`, sorted by lower-cased
/// name, as `name=value` joined with `&`, values percent-encoded with `safe` left as is, the
/// whole lower-cased.
fn string_to_sign(params: &[&(String, String)], safe: &str) -> String {
    params
        .iter()
        .map(|(key, value)| format!("{key}={}", percent_encode(value, safe)))
        .collect::<Vec<_>>()
        .join("&")
        .to_lowercase()
}

/// Signs `params` with `secret` the way CloudStack clients do (for Meridian's own tests and tools).
pub fn cloudstack_sign(params: &[(String, String)], secret: &str) -> String {
    let mut signed: Vec<&(String, String)> = params
        .iter()
        .filter(|(key, _)| !key.eq_ignore_ascii_case("signature"))
        .collect();
    signed.sort_by_key(|(key, _)| key.to_ascii_lowercase());
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(string_to_sign(&signed, UNRESERVED_VARIANTS[0]).as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a CloudStack request: `params` are every decoded query and form parameter,
/// `signature` included; `secret` the key's secret; `now_ms` the time now (Unix ms).
///
/// The string signed is every parameter but `signature`, sorted by name, as `name=value`
/// joined with `&`, values percent-encoded, the whole lower-cased; the signature is its
/// HMAC-SHA1 under the secret, base64. With `signatureVersion=3` the signed `expires` time must
/// not have passed, nor be more than [`EXPIRES_MAX_MS`] ahead.
pub fn cloudstack_verify(
    params: &[(String, String)],
    secret: &str,
    now_ms: i64,
) -> Result<VerifiedSignature, SignatureError> {
    let value = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let signature = value("signature").ok_or(SignatureError::Missing)?;
    let signature = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Mismatch)?;
    let signed: Vec<&(String, String)> = params
        .iter()
        .filter(|(key, _)| !key.eq_ignore_ascii_case("signature"))
        .collect();
    let mut by_lower = signed.clone();
    by_lower.sort_by_key(|(key, _)| key.to_ascii_lowercase());
    let mut by_name = signed;
    by_name.sort_by(|a, b| a.0.cmp(&b.0));
    let mut candidates: Vec<String> = Vec::with_capacity(6);
    for order in [&by_lower, &by_name] {
        for safe in UNRESERVED_VARIANTS {
            let text = string_to_sign(order, safe);
            if !candidates.contains(&text) {
                candidates.push(text);
            }
        }
    }
    let matches = candidates.iter().any(|text| {
        let mut mac =
            Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
        mac.update(text.as_bytes());
        // Constant time: a near miss tells an attacker nothing.
        mac.verify_slice(&signature).is_ok()
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    let mut expires_ms = None;
    if value("signatureVersion") == Some("3") {
        let expires = value("expires")
            .and_then(crate::calendar::parse_iso)
            .ok_or(SignatureError::BadExpires)?;
        if expires < now_ms {
            return Err(SignatureError::Expired);
        }
        if expires > now_ms.saturating_add(EXPIRES_MAX_MS) {
            return Err(SignatureError::ExpiresTooFar);
        }
        expires_ms = Some(expires);
    }
    Ok(VerifiedSignature {
        digest: sha256_hex(&signature),
        expires_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signs the way the `cs` client does: sorted by name, `*` safe, lower-cased.
    fn sign_like_cs(params: &[(&str, &str)], secret: &str) -> String {
        let mut sorted = params.to_vec();
        sorted.sort();
        let text = sorted
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v, "-_.~*")))
            .collect::<Vec<_>>()
            .join("&")
            .to_lowercase();
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(text.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    fn with_signature(params: &[(&str, &str)], signature: &str) -> Vec<(String, String)> {
        params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([("signature".to_owned(), signature.to_owned())])
            .collect()
    }

    const NOW: i64 = 1_795_700_991_000;

    fn check(params: &[(String, String)], secret: &str, now_ms: i64) -> Result<(), SignatureError> {
        cloudstack_verify(params, secret, now_ms).map(|_| ())
    }

    #[test]
    fn a_request_signed_with_the_secret_passes_and_any_change_fails() {
        let params = [
            ("apiKey", "mk_0123"),
            ("command", "deployVirtualMachine"),
            ("name", "web 1*"),
            ("response", "json"),
            ("zoneid", "fra"),
        ];
        let good = sign_like_cs(&params, "s3cret");
        assert_eq!(check(&with_signature(&params, &good), "s3cret", NOW), Ok(()));
        assert_eq!(
            check(&with_signature(&params, &good), "another", NOW),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = with_signature(&params, &good);
        tampered[4].1 = "lax".into();
        assert_eq!(check(&tampered, "s3cret", NOW), Err(SignatureError::Mismatch));
        assert_eq!(
            check(&with_signature(&params, "not base64!"), "s3cret", NOW),
            Err(SignatureError::Mismatch)
        );
        let unsigned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(check(&unsigned, "s3cret", NOW), Err(SignatureError::Missing));
    }

    #[test]
    fn the_libcloud_and_java_encodings_are_accepted_too() {
        // libcloud sorts lower-cased names and leaves [] unencoded; Java encodes ~.
        let params = [
            ("apiKey", "k"),
            ("command", "listZones"),
            ("tags[0].key", "a~b[c]"),
        ];
        for safe in ["-_.~*[]", "-_.*"] {
            let text = params
                .iter()
                .map(|(k, v)| format!("{}={}", k.to_lowercase(), percent_encode(v, safe)))
                .collect::<Vec<_>>()
                .join("&")
                .to_lowercase();
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"s").unwrap();
            mac.update(text.as_bytes());
            let signature = STANDARD.encode(mac.finalize().into_bytes());
            assert_eq!(
                check(&with_signature(&params, &signature), "s", NOW),
                Ok(()),
                "{safe}"
            );
        }
    }

    #[test]
    fn meridians_own_signer_is_accepted() {
        let params = with_signature(&[("command", "listZones"), ("apiKey", "k"), ("name", "a b")], "");
        let signed: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "signature")
            .cloned()
            .chain([("signature".to_owned(), cloudstack_sign(&params, "s"))])
            .collect();
        assert_eq!(check(&signed, "s", NOW), Ok(()));
    }

    #[test]
    fn version_3_requests_expire() {
        let fresh = [
            ("command", "listZones"),
            ("expires", "2026-11-26T14:00:00+0000"),
            ("signatureVersion", "3"),
        ];
        let stale = [
            ("command", "listZones"),
            ("expires", "2026-11-26T13:00:00+0000"),
            ("signatureVersion", "3"),
        ];
        let unreadable = [
            ("command", "listZones"),
            ("expires", "soon"),
            ("signatureVersion", "3"),
        ];
        let sign = |p: &[(&str, &str)]| with_signature(p, &sign_like_cs(p, "s"));
        assert_eq!(check(&sign(&fresh), "s", NOW), Ok(()));
        assert_eq!(check(&sign(&stale), "s", NOW), Err(SignatureError::Expired));
        assert_eq!(
            check(&sign(&unreadable), "s", NOW),
            Err(SignatureError::BadExpires)
        );
        // The time a signed request is good until is what it says, and at most 15 minutes on.
        let verified = cloudstack_verify(&sign(&fresh), "s", NOW).unwrap();
        assert_eq!(
            verified.expires_ms,
            crate::calendar::parse_iso("2026-11-26T14:00:00+0000")
        );
        let far = [
            ("command", "listZones"),
            ("expires", "2026-11-26T14:05:00+0000"),
            ("signatureVersion", "3"),
        ];
        assert_eq!(check(&sign(&far), "s", NOW), Err(SignatureError::ExpiresTooFar));
        let year = [
            ("command", "listZones"),
            ("expires", "2027-11-26T14:00:00+0000"),
            ("signatureVersion", "3"),
        ];
        assert_eq!(check(&sign(&year), "s", NOW), Err(SignatureError::ExpiresTooFar));
    }

    #[test]
    fn a_signature_is_known_by_its_bytes_and_an_unversioned_one_has_no_time() {
        let params = [("apiKey", "k"), ("command", "stopVirtualMachine"), ("id", "1")];
        let signature = sign_like_cs(&params, "s");
        let verified = cloudstack_verify(&with_signature(&params, &signature), "s", NOW).unwrap();
        assert_eq!(verified.expires_ms, None);
        // The same bytes, written with surrounding spaces, are the same signature.
        let spaced =
            cloudstack_verify(&with_signature(&params, &format!(" {signature} ")), "s", NOW).unwrap();
        assert_eq!(spaced.digest, verified.digest);
        assert_eq!(verified.digest.len(), 64);
    }

    #[test]
    fn keys_have_one_shape_and_secrets_differ_per_key_and_master() {
        let key = key_from_bytes([0xab; 16]);
        assert_eq!(key, format!("mk_{}", "ab".repeat(16)));
        assert!(is_key(&key));
        for bad in [
            "",
            "mk_",
            "mk_ABABABABABABABABABABABABABABABAB",
            "xx_abababababababababababababababab",
            &format!("{key}0"),
        ] {
            assert!(!is_key(bad), "{bad:?}");
        }
        let secret = secret_derive(b"master one", &key);
        assert_eq!(secret.len(), 43);
        assert_eq!(secret, secret_derive(b"master one", &key));
        assert_ne!(secret, secret_derive(b"master two", &key));
        assert_ne!(secret, secret_derive(b"master one", &key_from_bytes([1; 16])));
        assert_eq!(secret_hash(&secret).len(), 64);
        assert_ne!(secret_hash(&secret), secret_hash("other"));
    }
}
