//! Prewarming the standby compute while people decide (`spec.failover.prewarm`): what the
//! standby group should be now, and the `status.prewarm` record. Pure: the caller observes
//! detection's `primaryHealth`, the open requests and the clock; compute convergence then
//! scales the group like any other intended state.

use std::time::Duration;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::CapacityUse;
use crate::api::{ConditionStatus, PrewarmSpec, PrewarmState, PrewarmStatus, PrewarmTrigger};

/// On-demand Linux list prices (USD per instance-hour) used for the cost estimate; the same
/// table is in docs/prewarm.md (a unit test keeps them equal). An estimate: no Savings Plans,
/// Spot, EBS or data transfer.
pub const PRICES: &[(&str, f64)] = &[
    ("t3.medium", 0.0416),
    ("t3.large", 0.0832),
    ("c5.large", 0.085),
    ("c5.xlarge", 0.17),
    ("c5.2xlarge", 0.34),
    ("c5.4xlarge", 0.68),
    ("c6i.xlarge", 0.17),
    ("c6g.xlarge", 0.136),
    ("m5.large", 0.096),
    ("m5.xlarge", 0.192),
    ("m5.2xlarge", 0.384),
    ("m6i.xlarge", 0.192),
    ("m6g.xlarge", 0.154),
    ("r5.large", 0.126),
    ("r5.xlarge", 0.252),
];

/// The price of one instance-hour of `instance_type`, if the table has it.
pub fn hourly_price(instance_type: &str) -> Option<f64> {
    PRICES.iter().find(|(t, _)| *t == instance_type).map(|(_, p)| *p)
}

/// A scale-back this recent is still announced as the end of a prewarm, not as drift.
const ENDED_RECENTLY: Duration = Duration::from_secs(10 * 60);

/// What asks for a prewarm right now.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    pub trigger: PrewarmTrigger,
    /// The request's name, or the spell's start.
    pub key: String,
    /// For people: "FailoverRequest x awaits approval", "primary us-east-1 unhealthy since ...".
    pub why: String,
}

/// Everything [`decide`] looks at.
pub struct Inputs<'a> {
    pub spec: &'a PrewarmSpec,
    /// `spec.compute.autoScalingGroup.failover.desiredCapacity`, the default capacity.
    pub failover_capacity: i32,
    pub instance_type: &'a str,
    /// Detection's unhealthy spell: since when (`onSuspicion`).
    pub suspicion: Option<(Timestamp, &'a str)>,
    /// Detection says the primary is healthy again: since when.
    pub recovered_since: Option<Timestamp>,
    /// A Failover or Switchover request waiting for approval (`onRequest`).
    pub awaiting: Option<&'a str>,
    /// A request runs against the PilotLight: it takes a warm standby over.
    pub running: Option<&'a str>,
    pub previous: Option<&'a PrewarmStatus>,
    pub now: Timestamp,
}

/// What [`decide`] concluded.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// How compute convergence treats the standby group.
    pub capacity: CapacityUse,
    /// The new `status.prewarm` (`None`: never prewarmed).
    pub status: Option<PrewarmStatus>,
    /// The `Prewarmed` condition.
    pub condition: (ConditionStatus, &'static str, String),
    /// The prewarm started or ended in this decision: `(from, to)`, for Events and metrics.
    pub transition: Option<(Option<PrewarmState>, PrewarmState)>,
}

/// The cause that wants the standby warm now, if any: a request awaiting approval first, then
/// the primary's unhealthy spell.
pub fn cause(inputs: &Inputs<'_>) -> Option<Cause> {
    if inputs.spec.on_request
        && let Some(name) = inputs.awaiting
    {
        return Some(Cause {
            trigger: PrewarmTrigger::Request,
            key: name.to_owned(),
            why: format!("FailoverRequest {name} awaits approval"),
        });
    }
    if inputs.spec.on_suspicion
        && let Some((since, region)) = inputs.suspicion
    {
        return Some(Cause {
            trigger: PrewarmTrigger::Suspicion,
            key: since.to_string(),
            why: format!("primary region {region} unhealthy since {since}"),
        });
    }
    None
}

/// Whether the standby should be warm, and the record of the prewarm.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let now = inputs.now;
    let cause = cause(inputs);
    let previous = inputs.previous;
    let live = previous.filter(|p| matches!(p.state, PrewarmState::Warm | PrewarmState::CoolingDown));
    let capacity = inputs.spec.capacity.unwrap_or(inputs.failover_capacity);
    if let Some(p) = live {
        if let Some(request) = inputs.running {
            let message = format!("FailoverRequest {request} took the warm standby over");
            return end(p, PrewarmState::Used, message, now);
        }
        if now >= p.expires_at.0 {
            let message = format!(
                "scaled back after spec.failover.prewarm.maxDuration ({}) although {}; a failover now starts from zero",
                inputs.spec.max_duration,
                cause
                    .as_ref()
                    .map_or("its cause is still there".to_owned(), |c| c.why.clone())
            );
            return end(p, PrewarmState::Expired, message, now);
        }
        if let Some(c) = &cause {
            let next = PrewarmStatus {
                state: PrewarmState::Warm,
                trigger: c.trigger,
                cause: c.key.clone(),
                cools_down_at: None,
                message: format!("{}: standby kept at {} instances", c.why, p.capacity),
                ..p.clone()
            };
            return warm(next, None, now);
        }
        if p.trigger == PrewarmTrigger::Suspicion
            && let Some(recovered) = inputs.recovered_since
        {
            let until = recovered
                .checked_add(inputs.spec.cooldown.to_duration().unwrap_or_default())
                .unwrap_or(recovered);
            if now < until {
                let next = PrewarmStatus {
                    state: PrewarmState::CoolingDown,
                    cools_down_at: Some(Time(until)),
                    message: format!(
                        "the primary recovered at {recovered}; the standby stays warm until {until} (spec.failover.prewarm.cooldown)"
                    ),
                    ..p.clone()
                };
                return warm(next, None, now);
            }
            let message = format!("the primary recovered at {recovered} and stayed healthy for the cool-down");
            return end(p, PrewarmState::ScaledBack, message, now);
        }
        let message = match p.trigger {
            PrewarmTrigger::Request => format!(
                "FailoverRequest {} no longer awaits approval (rejected, cancelled or deleted)",
                p.cause
            ),
            PrewarmTrigger::Suspicion => "detection no longer sees the primary unhealthy".to_owned(),
        };
        return end(p, PrewarmState::ScaledBack, message, now);
    }
    let expired_for_this_cause =
        previous.is_some_and(|p| p.state == PrewarmState::Expired && cause.as_ref().is_some_and(|c| c.key == p.cause));
    if let Some(c) = cause.filter(|_| !expired_for_this_cause && inputs.running.is_none()) {
        let expires = now
            .checked_add(inputs.spec.max_duration.to_duration().unwrap_or_default())
            .unwrap_or(now);
        let next = PrewarmStatus {
            state: PrewarmState::Warm,
            trigger: c.trigger,
            cause: c.key,
            since: Time(now),
            capacity,
            instance_type: inputs.instance_type.to_owned(),
            expires_at: Time(expires),
            cools_down_at: None,
            ended_at: None,
            estimated_cost_usd: Some(0.0),
            message: format!("{}: scaling the standby to {capacity} instances", c.why),
        };
        return warm(next, Some(previous.map(|p| p.state)), now);
    }
    // Nothing wants it warm: the last record stays for people to read.
    let recently_ended = previous
        .and_then(|p| p.ended_at.as_ref())
        .is_some_and(|at| Duration::try_from(now.duration_since(at.0)).unwrap_or_default() < ENDED_RECENTLY);
    let condition = match previous {
        Some(p) => (
            ConditionStatus::False,
            ended_reason(p.state),
            format!("not prewarmed; the last prewarm {}", p.message),
        ),
        None => (
            ConditionStatus::False,
            "NotPrewarmed",
            "not prewarmed: nothing suspicious and no request awaits approval".to_owned(),
        ),
    };
    Decision {
        capacity: if recently_ended {
            CapacityUse::PrewarmEnded
        } else {
            CapacityUse::Dormant
        },
        status: previous.cloned(),
        condition,
        transition: None,
    }
}

fn ended_reason(state: PrewarmState) -> &'static str {
    match state {
        PrewarmState::Warm | PrewarmState::CoolingDown => "Prewarmed",
        PrewarmState::Used => "UsedByRequest",
        PrewarmState::ScaledBack => "ScaledBack",
        PrewarmState::Expired => "Expired",
    }
}

/// A prewarm that goes on (or starts: `started` holds the state before it).
fn warm(mut next: PrewarmStatus, started: Option<Option<PrewarmState>>, now: Timestamp) -> Decision {
    next.estimated_cost_usd = cost(&next, now);
    let reason = match next.state {
        PrewarmState::CoolingDown => "CoolingDown",
        _ => match next.trigger {
            PrewarmTrigger::Request => "AwaitingApproval",
            PrewarmTrigger::Suspicion => "OnSuspicion",
        },
    };
    let condition = (ConditionStatus::True, reason, describe(&next, now));
    Decision {
        capacity: CapacityUse::Prewarm(next.capacity),
        transition: started.map(|from| (from, next.state)),
        status: Some(next),
        condition,
    }
}

/// A prewarm that ends now with `state`: a request took it over (its steps own the group), or
/// it scales back.
fn end(p: &PrewarmStatus, state: PrewarmState, why: String, now: Timestamp) -> Decision {
    let mut next = PrewarmStatus {
        state,
        ended_at: Some(Time(now)),
        cools_down_at: None,
        message: why,
        ..p.clone()
    };
    next.estimated_cost_usd = cost(&next, now);
    let condition = (ConditionStatus::False, ended_reason(state), describe(&next, now));
    Decision {
        capacity: match state {
            PrewarmState::Used => CapacityUse::InUse,
            _ => CapacityUse::PrewarmEnded,
        },
        status: Some(next),
        condition,
        transition: Some((Some(p.state), state)),
    }
}

/// Instance-hours so far × the table's price (`None`: the type is not in the table).
fn cost(p: &PrewarmStatus, now: Timestamp) -> Option<f64> {
    let until = p.ended_at.as_ref().map_or(now, |t| t.0);
    let hours = until.duration_since(p.since.0).as_secs_f64().max(0.0) / 3600.0;
    hourly_price(&p.instance_type).map(|price| (hours * price * f64::from(p.capacity) * 100.0).round() / 100.0)
}

/// How soon convergence must look again while a prewarm is live: at its expiry or the end of
/// its cool-down, and at least every [`COST_UPDATE`] so the cost estimate moves.
pub fn next_look(p: &PrewarmStatus) -> Option<Duration> {
    if !matches!(p.state, PrewarmState::Warm | PrewarmState::CoolingDown) {
        return None;
    }
    let now = Timestamp::now();
    let until = |t: &Time| Duration::try_from(t.0.duration_since(now)).unwrap_or_default();
    let deadline = match &p.cools_down_at {
        Some(c) => until(c).min(until(&p.expires_at)),
        None => until(&p.expires_at),
    };
    Some(deadline.min(COST_UPDATE))
}

/// How often a live prewarm's cost estimate is brought up to date.
const COST_UPDATE: Duration = Duration::from_secs(30);

/// The condition message: since when, how many, why, and what it cost so far.
pub fn describe(p: &PrewarmStatus, now: Timestamp) -> String {
    let until = p.ended_at.as_ref().map_or(now, |t| t.0);
    let minutes = until.duration_since(p.since.0).as_secs_f64().max(0.0) / 60.0;
    let cost = match (p.estimated_cost_usd, hourly_price(&p.instance_type)) {
        (Some(usd), Some(price)) => format!(
            "estimated cost so far ${usd:.2} ({} × {} at ${price}/h, on-demand list price)",
            p.capacity, p.instance_type
        ),
        _ => format!(
            "no price for {} in docs/prewarm.md, so no cost estimate",
            p.instance_type
        ),
    };
    let window = match p.state {
        PrewarmState::Warm | PrewarmState::CoolingDown => format!("; scales back at {} at the latest", p.expires_at.0),
        _ => String::new(),
    };
    format!(
        "{}; {} instances since {} ({minutes:.1} min); {cost}{window}",
        p.message, p.capacity, p.since.0
    )
}

#[cfg(test)]
mod tests;
