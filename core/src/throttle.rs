//! Log-in throttling: how many attempts one key (a client address, an account) may make in a
//! sliding window, and how long it must wait once it has made them.
//!
//! An attempt is counted when it starts, before the password is checked, so a burst of parallel
//! guesses cannot slip past the limit; a successful log-in takes its attempt back. The clock is
//! passed in (milliseconds), so the rules are tested without waiting.

use std::collections::{HashMap, VecDeque};

/// The rule for one kind of key: at most `limit` attempts in any `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Attempts allowed in the window.
    pub limit: u32,
    /// The window, in milliseconds.
    pub window_ms: i64,
}

/// Per address: generous enough for an office behind one NAT, far too few for guessing.
pub const PER_ADDRESS: Limit = Limit {
    limit: 30,
    window_ms: 15 * 60 * 1000,
};

/// Per account: a person mistyping stays well inside; a guesser spread over many addresses does not.
pub const PER_ACCOUNT: Limit = Limit {
    limit: 10,
    window_ms: 15 * 60 * 1000,
};

/// Keys kept at most; beyond this, keys whose attempts have all left the window are dropped, so a
/// flood of made-up addresses or e-mails cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

/// A refused attempt: how long until one more is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter {
    /// Whole seconds, at least one.
    pub seconds: u64,
}

/// Attempts per key inside the window, oldest first.
#[derive(Debug)]
pub struct Throttle {
    rule: Limit,
    attempts: HashMap<String, VecDeque<i64>>,
}

impl Throttle {
    /// An empty throttle with `rule`.
    pub fn new(rule: Limit) -> Self {
        Self {
            rule,
            attempts: HashMap::new(),
        }
    }

    /// Whether `key` may make an attempt at `now_ms`; if not, how long it must wait.
    pub fn check(&mut self, key: &str, now_ms: i64) -> Result<(), RetryAfter> {
        let Some(attempts) = self.attempts.get_mut(key) else {
            return Ok(());
        };
        let since = now_ms - self.rule.window_ms;
        while attempts.front().is_some_and(|&at| at <= since) {
            attempts.pop_front();
        }
        if attempts.len() < self.rule.limit as usize {
            return Ok(());
        }
        let oldest = attempts.front().copied().unwrap_or(now_ms);
        let wait_ms = (oldest + self.rule.window_ms - now_ms).max(1);
        Err(RetryAfter {
            seconds: (wait_ms as u64).div_ceil(1000),
        })
    }

    /// Counts an attempt by `key` at `now_ms`.
    pub fn record(&mut self, key: &str, now_ms: i64) {
        if self.attempts.len() >= MAX_KEYS && !self.attempts.contains_key(key) {
            let since = now_ms - self.rule.window_ms;
            self.attempts
                .retain(|_, attempts| attempts.back().is_some_and(|&at| at > since));
            // Still full of live keys: make room for a tenth more at once, so this full pass runs
            // once per many attempts rather than on each.
            let excess = self.attempts.len().saturating_sub(MAX_KEYS - MAX_KEYS / 10);
            let evicted: Vec<String> = self.attempts.keys().take(excess).cloned().collect();
            for key in evicted {
                self.attempts.remove(&key);
            }
        }
        self.attempts.entry(key.to_owned()).or_default().push_back(now_ms);
    }

    /// Takes back the latest attempt by `key` (it succeeded).
    pub fn forgive_one(&mut self, key: &str) {
        if let Some(attempts) = self.attempts.get_mut(key) {
            attempts.pop_back();
            if attempts.is_empty() {
                self.attempts.remove(key);
            }
        }
    }

    /// Forgets every attempt by `key` (its owner proved who they are).
    pub fn clear(&mut self, key: &str) {
        self.attempts.remove(key);
    }

    /// How many keys are tracked.
    pub fn keys(&self) -> usize {
        self.attempts.len()
    }
}

/// The two throttles a log-in passes: the client's address and the account named.
#[derive(Debug)]
pub struct LoginThrottle {
    by_address: Throttle,
    by_account: Throttle,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(PER_ADDRESS, PER_ACCOUNT)
    }
}

impl LoginThrottle {
    /// Throttles with the given rules.
    pub fn new(per_address: Limit, per_account: Limit) -> Self {
        Self {
            by_address: Throttle::new(per_address),
            by_account: Throttle::new(per_account),
        }
    }

    /// Admits an attempt from `address` (if known) on `account` and counts it, or says how long to
    /// wait: the longer wait when both are over their limit. A refused attempt is not counted.
    pub fn attempt(&mut self, address: Option<&str>, account: &str, now_ms: i64) -> Result<(), RetryAfter> {
        let by_address = address.map_or(Ok(()), |a| self.by_address.check(a, now_ms));
        let by_account = self.by_account.check(account, now_ms);
        match (by_address, by_account) {
            (Ok(()), Ok(())) => {
                if let Some(address) = address {
                    self.by_address.record(address, now_ms);
                }
                self.by_account.record(account, now_ms);
                Ok(())
            }
            (Err(a), Err(b)) => Err(if a.seconds >= b.seconds { a } else { b }),
            (Err(wait), Ok(())) | (Ok(()), Err(wait)) => Err(wait),
        }
    }

    /// The attempt succeeded: the account starts afresh and the address gets its attempt back.
    pub fn succeeded(&mut self, address: Option<&str>, account: &str) {
        if let Some(address) = address {
            self.by_address.forgive_one(address);
        }
        self.by_account.clear(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Limit = Limit {
        limit: 3,
        window_ms: 60_000,
    };

    #[test]
    fn the_attempt_past_the_limit_waits_until_the_oldest_leaves_the_window() {
        let mut throttle = Throttle::new(RULE);
        for at in [0, 10_000, 20_000] {
            assert_eq!(throttle.check("k", at), Ok(()));
            throttle.record("k", at);
        }
        assert_eq!(throttle.check("k", 30_000), Err(RetryAfter { seconds: 30 }));
        assert_eq!(throttle.check("k", 59_999), Err(RetryAfter { seconds: 1 }));
        assert_eq!(throttle.check("k", 60_000), Ok(()));
        assert_eq!(throttle.check("other", 30_000), Ok(()), "keys are apart");
    }

    #[test]
    fn a_success_gives_the_account_a_fresh_start_and_the_address_its_attempt_back() {
        let mut login = LoginThrottle::new(RULE, RULE);
        login.attempt(Some("10.0.0.1"), "a@x", 0).unwrap();
        login.attempt(Some("10.0.0.1"), "a@x", 1).unwrap();
        login.attempt(Some("10.0.0.1"), "a@x", 2).unwrap();
        assert!(login.attempt(Some("10.0.0.1"), "a@x", 3).is_err());
        login.succeeded(Some("10.0.0.1"), "a@x");
        assert_eq!(
            login.attempt(Some("10.0.0.1"), "b@x", 4),
            Ok(()),
            "the address had one back"
        );
        assert!(login.attempt(Some("10.0.0.1"), "c@x", 5).is_err(), "and only one");
        assert_eq!(
            login.attempt(Some("10.0.0.2"), "a@x", 6),
            Ok(()),
            "the account starts afresh"
        );
    }

    #[test]
    fn one_account_is_limited_from_every_address() {
        let mut login = LoginThrottle::new(Limit { limit: 100, ..RULE }, RULE);
        for i in 0..3 {
            login
                .attempt(Some(&format!("10.0.0.{i}")), "victim@x", i)
                .unwrap();
        }
        assert!(login.attempt(Some("10.9.9.9"), "victim@x", 10).is_err());
        assert_eq!(login.attempt(Some("10.9.9.9"), "someone@x", 10), Ok(()));
    }

    #[test]
    fn a_refused_attempt_does_not_extend_the_wait() {
        let mut login = LoginThrottle::new(RULE, RULE);
        for at in 0..3 {
            login.attempt(None, "a@x", at).unwrap();
        }
        for at in 3..1000 {
            assert!(login.attempt(None, "a@x", at).is_err());
        }
        assert_eq!(login.attempt(None, "a@x", 60_001), Ok(()));
    }

    #[test]
    fn made_up_keys_cannot_grow_memory_past_the_cap() {
        let mut throttle = Throttle::new(RULE);
        for i in 0..(MAX_KEYS + 500) {
            throttle.record(&format!("k{i}"), i as i64);
        }
        assert!(throttle.keys() <= MAX_KEYS, "{} keys", throttle.keys());
        let newest = format!("k{}", MAX_KEYS + 499);
        assert!(
            throttle.attempts.contains_key(&newest),
            "the newest attempt is counted"
        );
    }
}
