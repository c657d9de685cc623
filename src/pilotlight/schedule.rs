//! When each component of each PilotLight is checked against AWS.
//!
//! Steady-state AWS cost is set here. A healthy component is checked once per its own interval
//! (the database more often than DNS), and those checks are aligned to shared wall-clock
//! boundaries plus a small per-object offset, so PilotLights check together and shared reads
//! (Route 53) serve many of them with one call. Anything not healthy, and every spec change,
//! is checked at once with fresh reads.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::{ComponentHealth, ComponentReport};
use crate::config::{Component, Settings};

/// What to do with a component in this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum Due {
    /// Check it; `fresh` asks for reads not shared with other PilotLights.
    Check { fresh: bool },
    /// Not due: its last report stands.
    Skip(ComponentReport),
}

#[derive(Clone, Debug)]
struct Checked {
    at: SystemTime,
    generation: Option<i64>,
    report: ComponentReport,
    /// Checks in a row that repaired drift.
    repairs: u32,
}

/// Repairs in a row after which drift counts as persistent: someone keeps undoing the operator.
const PERSISTENT_DRIFT: u32 = 3;

/// The last check of every component of every PilotLight, in memory: after a restart every
/// component is checked once.
#[derive(Default)]
pub struct Scheduler {
    /// Object key (`namespace/name`) -> its components' last checks.
    checks: Mutex<HashMap<String, HashMap<Component, Checked>>>,
}

impl Scheduler {
    pub fn due(
        &self,
        key: &str,
        component: Component,
        generation: Option<i64>,
        settings: &Settings,
        now: SystemTime,
    ) -> Due {
        let checks = self.checks.lock().expect("scheduler lock poisoned");
        match checks.get(key).and_then(|components| components.get(&component)) {
            Some(c) if c.generation == generation && now < due_at(key, component, c, settings) => {
                Due::Skip(c.report.clone())
            }
            Some(c) if c.generation == generation && c.report.health == ComponentHealth::Healthy => {
                Due::Check { fresh: false }
            }
            _ => Due::Check { fresh: true },
        }
    }

    /// Records a check and returns its report, turned into `DriftPersists` (Degraded, so the
    /// next repair waits the degraded interval instead of fighting every few seconds) when this
    /// is the third check in a row that had to repair something.
    pub fn record(
        &self,
        key: &str,
        component: Component,
        generation: Option<i64>,
        report: ComponentReport,
        now: SystemTime,
    ) -> ComponentReport {
        let mut checks = self.checks.lock().expect("scheduler lock poisoned");
        let components = checks.entry(key.to_owned()).or_default();
        let repairs = match components.get(&component) {
            Some(previous) if report.repaired => previous.repairs + 1,
            None if report.repaired => 1,
            _ => 0,
        };
        let report = if repairs >= PERSISTENT_DRIFT {
            ComponentReport {
                repaired: true,
                ..ComponentReport::degraded(
                    "DriftPersists",
                    format!(
                        "repaired {repairs} checks in a row: another tool, policy or person keeps changing what the spec says; find it and stop it (the operator keeps repairing, at the degraded interval). Last repair: {}",
                        report.message
                    ),
                )
            }
        } else {
            report
        };
        components.insert(
            component,
            Checked {
                at: now,
                generation,
                report: report.clone(),
                repairs,
            },
        );
        report
    }

    /// Time until the first of `key`'s components is due.
    pub fn next_check(&self, key: &str, settings: &Settings, now: SystemTime) -> Option<Duration> {
        let checks = self.checks.lock().expect("scheduler lock poisoned");
        checks
            .get(key)?
            .iter()
            .map(|(component, c)| {
                due_at(key, *component, c, settings)
                    .duration_since(now)
                    .unwrap_or(Duration::ZERO)
            })
            .min()
    }

    /// Drops `key`'s components (deleted object, or components removed from its spec).
    pub fn forget(&self, key: &str, keep: &[Component]) {
        let mut checks = self.checks.lock().expect("scheduler lock poisoned");
        if let Some(components) = checks.get_mut(key) {
            components.retain(|component, _| keep.contains(component));
            if components.is_empty() {
                checks.remove(key);
            }
        }
    }
}

fn due_at(key: &str, component: Component, checked: &Checked, settings: &Settings) -> SystemTime {
    match checked.report.requeue(settings) {
        Some(delay) => checked.at + delay,
        None => aligned_after(checked.at, settings.check_intervals.of(component), offset(key)),
    }
}

/// Spreads aligned checks over up to 30 s (a tenth of short intervals), so a burst of PilotLights
/// does not hit AWS in the same instant; shared reads outlive the spread.
fn offset(key: &str) -> impl Fn(Duration) -> Duration {
    let hash = stable_hash(key);
    move |interval: Duration| {
        let spread = (interval / 10).min(Duration::from_secs(30)).as_millis().max(1) as u64;
        Duration::from_millis(hash % spread)
    }
}

/// FNV-1a: a hash that stays the same across Rust releases and processes (unlike std's), for
/// names AWS keeps (caller references) and for offsets every replica agrees on.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The first boundary (a multiple of `interval` since the epoch, plus the offset) at least half an
/// interval after `at`: on average one check per interval, never two in a row.
fn aligned_after(at: SystemTime, interval: Duration, offset: impl Fn(Duration) -> Duration) -> SystemTime {
    let interval_ms = interval.as_millis().max(1);
    let earliest = at.duration_since(UNIX_EPOCH).unwrap_or_default() + interval / 2;
    let offset_ms = offset(interval).as_millis();
    let earliest_ms = earliest.as_millis();
    let boundary = (earliest_ms.saturating_sub(offset_ms)).div_ceil(interval_ms) * interval_ms + offset_ms;
    UNIX_EPOCH + Duration::from_millis(boundary as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::default()
    }

    fn healthy() -> ComponentReport {
        ComponentReport::healthy("Ok", "fine".into())
    }

    #[test]
    fn aligned_checks_share_a_boundary_and_are_never_back_to_back() {
        let interval = Duration::from_secs(900);
        let no_offset = |_: Duration| Duration::ZERO;
        let t = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        // Checked at 100 s and at 400 s past a boundary: both next check at the same boundary.
        assert_eq!(aligned_after(t(9_000 + 100), interval, no_offset), t(9_900));
        assert_eq!(aligned_after(t(9_000 + 400), interval, no_offset), t(9_900));
        // Checked just before a boundary: the next one is skipped.
        assert_eq!(aligned_after(t(9_000 + 890), interval, no_offset), t(10_800));
        let off = |_: Duration| Duration::from_secs(7);
        assert_eq!(aligned_after(t(9_000 + 100), interval, off), t(9_907));
    }

    #[test]
    fn offsets_stay_within_the_spread() {
        for key in ["a/b", "default/app", "ns/some-long-name"] {
            assert!(offset(key)(Duration::from_secs(3600)) < Duration::from_secs(30));
            assert!(offset(key)(Duration::from_secs(20)) < Duration::from_secs(2));
        }
    }

    #[test]
    fn healthy_components_wait_for_their_interval_and_spec_changes_do_not() {
        let s = settings();
        let scheduler = Scheduler::default();
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            scheduler.due("ns/a", Component::Traffic, Some(1), &s, now),
            Due::Check { fresh: true }
        );
        scheduler.record("ns/a", Component::Traffic, Some(1), healthy(), now);
        let soon = now + Duration::from_secs(600);
        assert_eq!(
            scheduler.due("ns/a", Component::Traffic, Some(1), &s, soon),
            Due::Skip(healthy())
        );
        assert_eq!(
            scheduler.due("ns/a", Component::Traffic, Some(2), &s, soon),
            Due::Check { fresh: true },
            "a spec change is checked at once"
        );
        let later = now + Duration::from_secs(2 * 3600);
        assert_eq!(
            scheduler.due("ns/a", Component::Traffic, Some(1), &s, later),
            Due::Check { fresh: false },
            "a periodic healthy check may share reads"
        );
        let next = scheduler.next_check("ns/a", &s, now).unwrap();
        assert!(
            next >= Duration::from_secs(1800) && next <= Duration::from_secs(5400),
            "{next:?}"
        );
    }

    #[test]
    fn drift_repaired_three_checks_in_a_row_is_reported_as_persistent() {
        let scheduler = Scheduler::default();
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let repair = ComponentReport {
            repaired: true,
            ..ComponentReport::converging("RepairingDrift", "rule disabled".into())
        };
        let record = |r: ComponentReport| scheduler.record("ns/a", Component::Storage, Some(1), r, now);
        assert_eq!(record(repair.clone()).reason, "RepairingDrift");
        assert_eq!(record(repair.clone()).reason, "RepairingDrift");
        let third = record(repair.clone());
        assert_eq!(
            (third.reason, third.health),
            ("DriftPersists", ComponentHealth::Degraded)
        );
        assert!(third.message.contains("rule disabled"), "{}", third.message);
        // A check that finds nothing to repair ends it.
        assert_eq!(record(healthy()).reason, "Ok");
        assert_eq!(record(repair).reason, "RepairingDrift");
    }

    #[test]
    fn unhealthy_components_come_back_at_their_requeue_with_fresh_reads() {
        let s = settings();
        let scheduler = Scheduler::default();
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let converging = ComponentReport::converging("Creating", "x".into());
        scheduler.record("ns/a", Component::Compute, Some(1), converging, now);
        assert_eq!(scheduler.next_check("ns/a", &s, now), Some(s.converging_interval));
        assert_eq!(
            scheduler.due("ns/a", Component::Compute, Some(1), &s, now + s.converging_interval),
            Due::Check { fresh: true }
        );
        scheduler.forget("ns/a", &[]);
        assert_eq!(scheduler.next_check("ns/a", &s, now), None);
    }
}
