//! Form tokens: the same-origin proof every page carries in its forms, for the browsers that send
//! neither `Origin` nor `Sec-Fetch-Site` with a cross-site POST. A token is an HMAC of the session
//! id under a key derived from the server's master secret (which servers sharing a database share),
//! so another site, which cannot read the page, cannot make one; nothing is stored.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The session cookie's name: the session a token belongs to.
pub const SESSION_COOKIE: &str = "meridian.sid";

/// The form field a page's forms carry the token in.
pub const FORM_FIELD: &str = "form_token";

/// The request header a script sends the token in instead.
pub const HEADER: &str = "x-meridian-form-token";

fn key(master: &[u8]) -> Hmac<Sha256> {
    let mut derive = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes a key of any length");
    derive.update(b"meridian form token\0");
    Hmac::<Sha256>::new_from_slice(&derive.finalize().into_bytes()).expect("HMAC takes a key of any length")
}

/// The token for the session `session_id`.
pub fn form_token(master: &[u8], session_id: &str) -> String {
    let mut mac = key(master);
    mac.update(session_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether `presented` is the token of `session_id` (compared in constant time).
pub fn form_token_valid(master: &[u8], session_id: &str, presented: &str) -> bool {
    let Ok(presented) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(presented.trim()) else {
        return false;
    };
    let mut mac = key(master);
    mac.update(session_id.as_bytes());
    mac.verify_slice(&presented).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_for_its_session_under_its_secret_only() {
        let token = form_token(b"secret", "session-1");
        assert!(form_token_valid(b"secret", "session-1", &token));
        assert!(
            !form_token_valid(b"secret", "session-2", &token),
            "another session's"
        );
        assert!(
            !form_token_valid(b"other", "session-1", &token),
            "another server's secret"
        );
        assert!(!form_token_valid(b"secret", "session-1", ""));
        assert!(!form_token_valid(b"secret", "session-1", "not base64 at all!"));
        assert!(!form_token_valid(
            b"secret",
            "session-1",
            &token[..token.len() - 2]
        ));
    }
}
