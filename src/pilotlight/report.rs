//! How one component is doing, and how component reports roll up into `Ready` and `phase`.

use crate::{
    api::{ConditionStatus, Phase},
    aws::{AwsError, AwsErrorKind},
    config::Settings,
};

/// Health of one component, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ComponentHealth {
    /// Converged and within thresholds.
    Healthy,
    /// Being created or changed; expected to become healthy by itself.
    Converging,
    /// Converged but outside a threshold, or not replicating as it should.
    Degraded,
    /// AWS could not be reached (outage, throttling): state unknown, retrying with backoff.
    Unreachable,
    /// A person has to fix the spec or AWS; retrying soon will not help.
    Misconfigured,
}

/// A component's condition: health plus a reason and a message that tell a person what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentReport {
    pub health: ComponentHealth,
    pub reason: &'static str,
    pub message: String,
    /// The check repaired something a person or another tool changed (a Warning change).
    pub repaired: bool,
}

impl ComponentReport {
    pub fn healthy(reason: &'static str, message: String) -> Self {
        Self {
            health: ComponentHealth::Healthy,
            reason,
            message,
            repaired: false,
        }
    }
    pub fn converging(reason: &'static str, message: String) -> Self {
        Self {
            health: ComponentHealth::Converging,
            reason,
            message,
            repaired: false,
        }
    }
    pub fn degraded(reason: &'static str, message: String) -> Self {
        Self {
            health: ComponentHealth::Degraded,
            reason,
            message,
            repaired: false,
        }
    }
    pub fn misconfigured(reason: &'static str, message: String) -> Self {
        Self {
            health: ComponentHealth::Misconfigured,
            reason,
            message,
            repaired: false,
        }
    }

    /// A failed AWS call as a report: outages and throttling are transient, anything AWS
    /// refused needs a person.
    pub fn from_aws_error(error: &AwsError) -> Self {
        let (health, reason, advice) = match error.kind {
            AwsErrorKind::Unavailable => (
                ComponentHealth::Unreachable,
                "RegionUnreachable",
                "retrying with backoff",
            ),
            AwsErrorKind::Throttled => (ComponentHealth::Unreachable, "Throttled", "retrying with backoff"),
            AwsErrorKind::Conflict => (ComponentHealth::Converging, "AwsStateConflict", "looking again shortly"),
            AwsErrorKind::NotFound => (
                ComponentHealth::Misconfigured,
                "AwsResourceNotFound",
                "check the names in the spec",
            ),
            AwsErrorKind::Rejected => (
                ComponentHealth::Misconfigured,
                "AwsRequestRejected",
                "fix the spec or the AWS account, then the operator retries",
            ),
        };
        Self {
            health,
            reason,
            message: format!("{error}; {advice}"),
            repaired: false,
        }
    }

    pub fn condition_status(&self) -> ConditionStatus {
        match self.health {
            ComponentHealth::Healthy => ConditionStatus::True,
            ComponentHealth::Unreachable => ConditionStatus::Unknown,
            _ => ConditionStatus::False,
        }
    }

    /// When to look again at a component that is not healthy; `None` for a healthy one, which
    /// follows [`crate::config::CheckIntervals`].
    pub fn requeue(&self, settings: &Settings) -> Option<std::time::Duration> {
        match self.health {
            ComponentHealth::Healthy => None,
            ComponentHealth::Converging | ComponentHealth::Unreachable => Some(settings.converging_interval),
            ComponentHealth::Degraded => Some(settings.degraded_interval),
            ComponentHealth::Misconfigured => Some(settings.misconfigured_interval),
        }
    }

    /// The `Ready` condition: healthy when every component is; otherwise the worst component's
    /// reason and message, prefixed with its condition type.
    pub fn ready<T: AsRef<str>>(reports: &[(T, ComponentReport)]) -> ComponentReport {
        match reports.iter().max_by_key(|(_, r)| r.health) {
            Some((type_, worst)) if worst.health != ComponentHealth::Healthy => ComponentReport {
                health: worst.health,
                reason: worst.reason,
                message: format!("{}: {}", type_.as_ref(), worst.message),
                repaired: false,
            },
            _ => {
                let names: Vec<&str> = reports.iter().map(|(t, _)| t.as_ref()).collect();
                let message = if names.is_empty() {
                    "no components configured".to_owned()
                } else {
                    format!("all components converged: {}", names.join(", "))
                };
                ComponentReport::healthy("Ready", message)
            }
        }
    }

    /// One report for several parts of a component: the worst part, or when all are healthy,
    /// their messages joined.
    pub fn combine(parts: Vec<ComponentReport>) -> ComponentReport {
        match parts.iter().max_by_key(|r| r.health) {
            Some(worst) if worst.health != ComponentHealth::Healthy => worst.clone(),
            Some(first) => ComponentReport {
                health: ComponentHealth::Healthy,
                reason: first.reason,
                message: parts.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; "),
                repaired: false,
            },
            None => ComponentReport::healthy("NothingConfigured", "nothing configured".into()),
        }
    }

    /// The one-word phase for `kubectl get`.
    pub fn phase<T>(reports: &[(T, ComponentReport)]) -> Phase {
        match reports.iter().map(|(_, r)| r.health).max() {
            None | Some(ComponentHealth::Healthy) => Phase::Ready,
            Some(ComponentHealth::Converging) => Phase::Converging,
            Some(ComponentHealth::Degraded | ComponentHealth::Unreachable) => Phase::Degraded,
            Some(ComponentHealth::Misconfigured) => Phase::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_takes_the_worst_component() {
        let reports = [
            ("A", ComponentReport::healthy("Ok", "fine".into())),
            ("B", ComponentReport::converging("Creating", "creating x".into())),
        ];
        let ready = ComponentReport::ready(&reports);
        assert_eq!(ready.health, ComponentHealth::Converging);
        assert_eq!(ready.reason, "Creating");
        assert_eq!(ready.message, "B: creating x");
        assert_eq!(ComponentReport::phase(&reports), Phase::Converging);
    }

    #[test]
    fn combining_parts_keeps_the_worst_or_joins_healthy_messages() {
        let ok = |m: &str| ComponentReport::healthy("Replicating", m.into());
        let combined = ComponentReport::combine(vec![ok("a"), ok("b")]);
        assert_eq!(
            (combined.health, combined.message.as_str()),
            (ComponentHealth::Healthy, "a; b")
        );
        let combined = ComponentReport::combine(vec![ok("a"), ComponentReport::misconfigured("X", "x".into())]);
        assert_eq!(
            (combined.health, combined.reason),
            (ComponentHealth::Misconfigured, "X")
        );
    }

    #[test]
    fn all_healthy_is_ready() {
        let reports = [("A", ComponentReport::healthy("Ok", "fine".into()))];
        let ready = ComponentReport::ready(&reports);
        assert_eq!(ready.condition_status(), ConditionStatus::True);
        assert_eq!(ready.message, "all components converged: A");
        assert_eq!(ComponentReport::phase(&reports), Phase::Ready);
    }

    #[test]
    fn unreachable_is_unknown_and_degraded() {
        let r = ComponentReport::from_aws_error(&AwsError {
            service: "rds",
            operation: "DescribeDBClusters",
            region: "us-west-2".into(),
            kind: AwsErrorKind::Unavailable,
            code: None,
            message: "endpoint unreachable".into(),
        });
        assert_eq!(r.condition_status(), ConditionStatus::Unknown);
        assert_eq!(r.reason, "RegionUnreachable");
        assert!(r.message.contains("us-west-2"), "{}", r.message);
        assert_eq!(ComponentReport::phase(&[("A", r)]), Phase::Degraded);
    }
}
