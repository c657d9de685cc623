//! What the primary region's signals mean, and what to do about them. Pure: the loop in
//! `mod.rs` observes and acts.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::{
    api::{DetectionMode, FailoverOutcome, FailoverType, PilotLight, RequestPhase},
    aws::{cloudwatch::AlarmState, route53::CheckerObservation},
    failover::plan,
};

/// Route 53 takes an endpoint to be healthy when more than this share of its checkers say so.
const HEALTHY_CHECKER_SHARE: f64 = 0.18;

/// The primary region's health as its signals tell it.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// `None`: no signal could be read.
    pub healthy: Option<bool>,
    /// Which checkers and alarms said what, for the condition and Events.
    pub evidence: Vec<String>,
}

/// Combines the health checkers' observations (`Err`: not readable, with why) and the alarms
/// named in the spec (`Err`: not readable). Unhealthy when Route 53 would fail the endpoint or
/// any alarm is in `ALARM`.
pub fn verdict(
    checkers: Result<&[CheckerObservation], &str>,
    alarm_names: &[String],
    alarms: Result<&[AlarmState], &str>,
) -> Verdict {
    let mut evidence = Vec::new();
    let mut healthy = None;
    match checkers {
        Ok([]) => evidence.push("the health check has no observations yet".to_owned()),
        Ok(observations) => {
            let failing: Vec<&str> = observations
                .iter()
                .filter(|o| !o.is_success())
                .map(|o| o.region.as_str())
                .collect();
            let passing = observations.len() - failing.len();
            let ok = passing as f64 > HEALTHY_CHECKER_SHARE * observations.len() as f64;
            healthy = Some(ok);
            evidence.push(if failing.is_empty() {
                format!("Route 53: {passing}/{} checkers report success", observations.len())
            } else {
                format!(
                    "Route 53: {}/{} checkers report failure ({})",
                    failing.len(),
                    observations.len(),
                    failing.join(", ")
                )
            });
        }
        Err(why) => evidence.push(format!("Route 53 health check not readable: {why}")),
    }
    if !alarm_names.is_empty() {
        match alarms {
            Ok(states) => {
                for name in alarm_names {
                    match states.iter().find(|a| &a.name == name) {
                        Some(a) if a.state == crate::aws::states::AlarmValue::Alarm => {
                            healthy = Some(false);
                            evidence.push(format!("alarm {name} is in ALARM: {}", a.reason));
                        }
                        Some(a) => {
                            healthy.get_or_insert(true);
                            evidence.push(format!("alarm {name} is {}", a.state));
                        }
                        None => evidence.push(format!("alarm {name} does not exist")),
                    }
                }
            }
            Err(why) => evidence.push(format!("alarms not readable: {why}")),
        }
    }
    Verdict { healthy, evidence }
}

/// What the detection loop does now for one PilotLight whose primary is unhealthy.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Healthy, or not known: nothing to do.
    Nothing,
    /// `Notify` mode: the condition, an Event and the metric say it; nothing else.
    Notify,
    /// Not unhealthy for long enough yet.
    Hold { remaining: Duration },
    /// A guard stops it; the reason is for people.
    Blocked(String),
    /// This spell already has its request.
    Created(String),
    /// Create a Failover request: waiting for approval (`Propose`) or not (`Automatic`).
    Create { automatic: bool },
}

/// Everything [`decide`] looks at.
pub struct Inputs<'a> {
    pub now: Timestamp,
    pub pl: &'a PilotLight,
    pub mode: DetectionMode,
    pub unhealthy_for: Duration,
    pub cooldown: Duration,
    /// The primary has been unhealthy since then (`None`: it is not unhealthy).
    pub unhealthy_since: Option<Timestamp>,
    /// The request created for this spell, if any.
    pub created: Option<&'a str>,
    /// Another request that is still open against the PilotLight: its name and type.
    pub open_request: Option<(&'a str, FailoverType)>,
}

/// The guards, in order: notify only; hold for `unhealthyFor`; one request per spell and one
/// open at a time (a drill included); the cool-down after any failover; and the admission rules
/// themselves (the standby must be Ready and not already serving).
pub fn decide(inputs: &Inputs) -> Decision {
    let Some(since) = inputs.unhealthy_since else {
        return Decision::Nothing;
    };
    if inputs.mode == DetectionMode::Notify {
        return Decision::Notify;
    }
    let unhealthy = Duration::try_from(inputs.now.duration_since(since)).unwrap_or_default();
    if unhealthy < inputs.unhealthy_for {
        return Decision::Hold {
            remaining: inputs.unhealthy_for - unhealthy,
        };
    }
    if let Some(name) = inputs.created {
        return Decision::Created(name.to_owned());
    }
    if let Some((name, type_)) = inputs.open_request {
        return Decision::Blocked(if type_ == FailoverType::Drill {
            format!("drill {name} is running; nothing is done automatically during a drill")
        } else {
            format!("FailoverRequest {name} is open; one request at a time")
        });
    }
    let status = inputs.pl.status.clone().unwrap_or_default();
    if let Some(until) = cooling_until(status.last_failover.as_ref(), inputs.cooldown)
        && inputs.now < until
    {
        return Decision::Blocked(format!(
            "cool-down after {} until {until} (spec.detection.cooldown)",
            status.last_failover.map(|o| o.request_name).unwrap_or_default()
        ));
    }
    if let Some(why) = plan::refusal(inputs.pl, FailoverType::Failover, false) {
        return Decision::Blocked(why);
    }
    Decision::Create {
        automatic: inputs.mode == DetectionMode::Automatic,
    }
}

/// End of the cool-down after the last failover, switchover or failback that ran.
fn cooling_until(last: Option<&FailoverOutcome>, cooldown: Duration) -> Option<Timestamp> {
    let last = last?;
    if !matches!(last.phase, RequestPhase::Succeeded | RequestPhase::Failed) {
        return None;
    }
    let completed = last.completed_at.as_ref()?.0;
    completed.checked_add(cooldown).ok()
}

#[cfg(test)]
mod tests;
