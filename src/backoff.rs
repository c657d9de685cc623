//! The one retry policy: exponential delays with "equal jitter" (half fixed, half random), so
//! that many objects or steps do not retry in lockstep. Reconciles and failover steps use it
//! with their own base and cap.

use std::{collections::HashMap, sync::Mutex, time::Duration};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The delay after the first failure (before jitter).
    pub base: Duration,
    /// The cap of the delay (before jitter).
    pub max: Duration,
}

impl Backoff {
    /// The delay after `failures` (>= 1) consecutive failures; `random` in [0, 1).
    pub fn delay(&self, failures: u32, random: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        exp.min(self.max).mul_f64(0.5 + random / 2.0)
    }

    /// [`Backoff::delay`] with a fresh random draw.
    pub fn jittered(&self, failures: u32) -> Duration {
        self.delay(failures, rand::random_range(0.0..1.0))
    }
}

/// Consecutive failures per object, for a controller's reconcile backoff.
pub struct Retries {
    policy: Backoff,
    failures: Mutex<HashMap<String, u32>>,
}

impl Retries {
    pub fn new(policy: Backoff) -> Self {
        Self {
            policy,
            failures: Mutex::default(),
        }
    }

    /// The delay before retrying `key` after one more failure.
    pub fn next(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock poisoned");
        let count = failures.entry(key.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        self.policy.jittered(*count)
    }

    /// `key` succeeded: its next failure starts from the base delay again.
    pub fn reset(&self, key: &str) {
        self.failures.lock().expect("backoff lock poisoned").remove(key);
    }

    #[cfg(test)]
    fn failures(&self, key: &str) -> u32 {
        self.failures.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps_with_jitter() {
        let b = Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(
            b.delay(1, 0.999_999),
            Duration::from_secs(2).mul_f64(0.5 + 0.999_999 / 2.0)
        );
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(4));
        assert_eq!(b.delay(10, 0.0), Duration::from_secs(30));
        assert_eq!(b.delay(40, 0.0), Duration::from_secs(30));
    }

    #[test]
    fn retries_count_per_key_and_reset() {
        let r = Retries::new(Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
        });
        for _ in 0..3 {
            r.next("a");
        }
        let third_plus_one = r.next("a");
        assert_eq!(r.failures("a"), 4);
        assert!(third_plus_one >= Duration::from_secs(4) && third_plus_one <= Duration::from_secs(8));
        assert!(r.next("b") <= Duration::from_secs(1), "another key starts afresh");
        r.reset("a");
        assert_eq!(r.failures("a"), 0);
        assert!(r.next("a") <= Duration::from_secs(1));
    }
}
