//! Log-in throttling rules: which budgets an attempt spends, how many attempts each allows in a
//! sliding window, how long to wait once one is spent, and the signed "known device" token that
//! lets an account's owner past the budgets an attacker can spend.
//!
//! An attacker must not get a lock-out button: guesses on an account from one address spend that
//! (account, address) pair's budget, which its owner elsewhere does not share. The account's own
//! budget, which guesses from every address spend, is much larger; and a browser that logged in
//! to the account before (it holds a known-device token) spends only its own budget. The counts
//! live in the database (every server shares them); this module only decides. Keys are hashed
//! before they are stored, so the table holds no e-mail or address. The clock is passed in.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::IpAddr;

/// The rule for one kind of budget: at most `limit` attempts in any `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Attempts allowed in the window.
    pub limit: u32,
    /// The window, in milliseconds.
    pub window_ms: i64,
}

const FIFTEEN_MINUTES: i64 = 15 * 60 * 1000;

/// Per (account, address) pair: a person mistyping stays well inside; a guesser at one address
/// does not, and spends nobody else's budget.
pub const PER_PAIR: Limit = Limit {
    limit: 10,
    window_ms: FIFTEEN_MINUTES,
};

/// Per address, whatever the account: generous enough for an office behind one NAT, far too few
/// for guessing many accounts.
pub const PER_ADDRESS: Limit = Limit {
    limit: 30,
    window_ms: FIFTEEN_MINUTES,
};

/// Per account, from every address: stops a guesser spread over many addresses. Five times the
/// pair's, so that no one address can spend it, and a known device is not held by it.
pub const PER_ACCOUNT: Limit = Limit {
    limit: 50,
    window_ms: FIFTEEN_MINUTES,
};

// No one address can spend an account's budget alone.
const _: () = assert!(PER_ACCOUNT.limit >= 5 * PER_PAIR.limit);

/// Per (account, known device): the owner's own budget on a browser that logged in before.
pub const PER_DEVICE: Limit = Limit {
    limit: 10,
    window_ms: FIFTEEN_MINUTES,
};

/// Per signed-in user, the current-password check of a password change (a stolen session must
/// not become a way to guess the password).
pub const PASSWORD_CHANGE: Limit = Limit {
    limit: 10,
    window_ms: FIFTEEN_MINUTES,
};

/// Per address, sign-ups (each makes a tenant and hashes a password): room for an office's
/// colleagues (or a test suite: the browser tests make about 35 tenants from one address)
/// signing up behind one address, not for mass-made tenants.
pub const SIGNUP: Limit = Limit {
    limit: 50,
    window_ms: 60 * 60 * 1000,
};

/// The longest window of any rule: attempts older than this count for nothing.
pub const LONGEST_WINDOW_MS: i64 = SIGNUP.window_ms;

/// How long a known-device token lasts.
pub const DEVICE_TOKEN_MAX_AGE_MS: i64 = 180 * 24 * 60 * 60 * 1000;

/// One budget an attempt spends: a hashed key and its rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// SHA-256 (hex) of what the budget is for, e.g. the account and the address.
    pub key: String,
    /// How many attempts it allows.
    pub limit: Limit,
}

impl Budget {
    fn new(parts: &[&str], limit: Limit) -> Self {
        Self {
            key: crate::api_key::sha256_hex(parts.join("\0").as_bytes()),
            limit,
        }
    }

    /// Log-ins on `account` from `address`.
    pub fn pair(account: &str, address: &str) -> Self {
        Self::new(&["pair", account, &address_key(address)], PER_PAIR)
    }

    /// Log-ins from `address`, whatever the account.
    pub fn address(address: &str) -> Self {
        Self::new(&["address", &address_key(address)], PER_ADDRESS)
    }

    /// Log-ins on `account`, from anywhere.
    pub fn account(account: &str) -> Self {
        Self::new(&["account", account], PER_ACCOUNT)
    }

    /// Log-ins on `account` from the known device `device`.
    pub fn device(account: &str, device: &str) -> Self {
        Self::new(&["device", account, device], PER_DEVICE)
    }

    /// Current-password checks by the signed-in `user`.
    pub fn password_change(user: &str) -> Self {
        Self::new(&["password_change", user], PASSWORD_CHANGE)
    }

    /// Sign-ups from `address`.
    pub fn signup(address: &str) -> Self {
        Self::new(&["signup", &address_key(address)], SIGNUP)
    }
}

/// The budgets a log-in on `account` spends. From a known device (a token for this account),
/// only the device's own: the owner is not held by what attackers spent elsewhere. Otherwise the
/// pair's, the address's and the account's; without an address (a test, a command), the account's.
pub fn login_budgets(account: &str, address: Option<&str>, known_device: Option<&str>) -> Vec<Budget> {
    match (known_device, address) {
        (Some(device), _) => vec![Budget::device(account, device)],
        (None, Some(address)) => vec![
            Budget::pair(account, address),
            Budget::address(address),
            Budget::account(account),
        ],
        (None, None) => vec![Budget::account(account)],
    }
}

/// What a client address is throttled as: an IPv4 address itself, an IPv6 address its /64 (one
/// subscriber's network: anyone holding one has all of it). Text that is no address is itself.
pub fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => address.to_owned(),
    }
}

/// A refused attempt: how long until one more is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter {
    /// Whole seconds, at least one.
    pub seconds: u64,
}

/// Whether a budget with `count` attempts in its window (the oldest at `oldest_ms`) allows
/// `count` to stand at `now_ms`: over its limit, how long until the oldest leaves the window.
pub fn over_limit(limit: Limit, count: u64, oldest_ms: i64, now_ms: i64) -> Result<(), RetryAfter> {
    if count <= u64::from(limit.limit) {
        return Ok(());
    }
    let wait_ms = (oldest_ms + limit.window_ms - now_ms).max(1);
    Err(RetryAfter {
        seconds: (wait_ms as u64).div_ceil(1000),
    })
}

/// The longer of two waits (an attempt refused by several budgets waits for the last).
pub fn longest(a: Option<RetryAfter>, b: RetryAfter) -> RetryAfter {
    match a {
        Some(a) if a.seconds >= b.seconds => a,
        _ => b,
    }
}

/// The key known-device tokens are signed with, derived from the server's master secret (which
/// servers sharing a database share), so every server accepts every other's tokens.
pub fn device_key(master: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes a key of any length");
    mac.update(b"meridian known device\0");
    mac.finalize().into_bytes().into()
}

fn device_mac(key: &[u8; 32], account: &str, device: &str, issued_ms: i64) -> String {
    use base64::Engine as _;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("d1\0{account}\0{device}\0{issued_ms}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// A token saying "`device` logged in to `account` at `issued_ms`": `d1.DEVICE.ISSUED.MAC`.
/// It names no account: it proves one only to whoever asks about that account.
pub fn device_token(key: &[u8; 32], account: &str, device: &str, issued_ms: i64) -> String {
    format!(
        "d1.{device}.{issued_ms}.{}",
        device_mac(key, account, device, issued_ms)
    )
}

/// The device a token names, if it was signed for `account` with `key` and is younger than
/// [`DEVICE_TOKEN_MAX_AGE_MS`] at `now_ms`.
pub fn device_token_verify(key: &[u8; 32], account: &str, token: &str, now_ms: i64) -> Option<String> {
    let mut parts = token.split('.');
    let (Some("d1"), Some(device), Some(issued), Some(mac), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let issued_ms: i64 = issued.parse().ok()?;
    let fresh = issued_ms <= now_ms && now_ms - issued_ms < DEVICE_TOKEN_MAX_AGE_MS;
    let wellformed = device.len() == 32 && device.bytes().all(|b| b.is_ascii_hexdigit());
    let expected = device_mac(key, account, device, issued_ms);
    // Compared in constant time: the MAC is the whole secret.
    let same = expected.len() == mac.len()
        && expected
            .bytes()
            .zip(mac.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    (fresh && wellformed && same).then(|| device.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Limit = Limit {
        limit: 3,
        window_ms: 60_000,
    };

    #[test]
    fn a_budget_past_its_limit_waits_until_its_oldest_attempt_leaves_the_window() {
        assert_eq!(over_limit(RULE, 3, 0, 30_000), Ok(()));
        assert_eq!(over_limit(RULE, 4, 0, 30_000), Err(RetryAfter { seconds: 30 }));
        assert_eq!(over_limit(RULE, 4, 0, 59_999), Err(RetryAfter { seconds: 1 }));
        assert_eq!(
            over_limit(RULE, 4, 0, 70_000),
            Err(RetryAfter { seconds: 1 }),
            "never zero"
        );
        assert_eq!(
            longest(Some(RetryAfter { seconds: 5 }), RetryAfter { seconds: 9 }),
            RetryAfter { seconds: 9 }
        );
    }

    #[test]
    fn an_attackers_address_spends_a_budget_the_owner_elsewhere_does_not_share() {
        let attacker = login_budgets("user:a@x", Some("203.0.113.9"), None);
        let owner = login_budgets("user:a@x", Some("198.51.100.7"), None);
        assert_eq!(attacker.len(), 3);
        assert_ne!(attacker[0], owner[0], "pairs apart");
        assert_ne!(attacker[1], owner[1], "addresses apart");
        assert_eq!(attacker[2], owner[2], "the account's own budget is shared");
        let known = login_budgets("user:a@x", Some("203.0.113.9"), Some("d"));
        assert_eq!(known, vec![Budget::device("user:a@x", "d")], "only the device's");
        assert!(!attacker[0].key.contains("a@x"), "keys are hashed");
    }

    #[test]
    fn an_ipv6_client_is_throttled_as_its_whole_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            Budget::address("2001:db8:1:2::1"),
            Budget::address("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(
            Budget::address("2001:db8:1:2::1"),
            Budget::address("2001:db8:1:3::1")
        );
        assert_eq!(address_key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(address_key("192.0.2.1"), "192.0.2.1");
    }

    #[test]
    fn a_device_token_proves_only_its_own_account_with_the_servers_key_while_fresh() {
        let key = device_key(b"master");
        let device = "0123456789abcdef0123456789abcdef";
        let token = device_token(&key, "user:a@x", device, 1_000);
        assert_eq!(
            device_token_verify(&key, "user:a@x", &token, 2_000),
            Some(device.to_owned())
        );
        assert_eq!(
            device_token_verify(&key, "user:b@x", &token, 2_000),
            None,
            "other account"
        );
        assert_eq!(
            device_token_verify(&device_key(b"other"), "user:a@x", &token, 2_000),
            None,
            "other server secret"
        );
        assert_eq!(
            device_token_verify(&key, "user:a@x", &token, 1_000 + DEVICE_TOKEN_MAX_AGE_MS),
            None,
            "too old"
        );
        let forged = token.replace(".1000.", ".1001.");
        assert_eq!(
            device_token_verify(&key, "user:a@x", &forged, 2_000),
            None,
            "altered"
        );
        assert_eq!(device_token_verify(&key, "user:a@x", "d1...", 2_000), None);
        assert_eq!(device_token_verify(&key, "user:a@x", "", 2_000), None);
    }
}
