//! The RPO and RTO a request reports (pure): from what is known of the replication lag when the
//! plan starts, and from the journal when it ends. Always an [`Estimate`], never absent.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::{
    api::{Estimate, EstimateBasis, FailoverType, RequestPhase, StepKind, StepState, StepStatus},
    aws::cloudwatch::LagSample,
    config::FRESH_LAG_SAMPLE,
};

/// What is known of the standby's replication lag as a plan starts.
#[derive(Debug, Clone, PartialEq)]
pub enum LagEvidence {
    /// The spec has no database whose lag pilot-light measures.
    NoDatabase,
    Samples {
        /// The metric, for people: `AuroraGlobalDBReplicationLag of app-west in us-west-2`.
        metric: String,
        /// Read from CloudWatch now (`Err`: why it could not be).
        read: Result<Option<LagSample>, String>,
        /// The sample convergence last wrote to the PilotLight's status.
        last_observed: Option<LagSample>,
    },
}

/// The RPO of a Switchover or Failback: nothing can be lost. With RDS read replicas (`rds`)
/// that holds only if writes stopped first: RDS has no managed switchover.
pub fn planned_move(type_: FailoverType, rds: bool) -> Estimate {
    Estimate {
        basis: EstimateBasis::Zero,
        seconds: Some(0.0),
        sample_age_seconds: None,
        reason: match rds {
            false => format!(
                "a {type_:?} moves the writer only once the secondary has caught up (Aurora switchover): nothing is lost"
            ),
            true => format!(
                "a {type_:?} promotes the read replica only once its ReplicaLag is 0; RDS has no zero-loss switchover, so this holds only if writes to the old writer stopped before that sample (stopping them is yours to do)"
            ),
        },
    }
}

/// The RPO of a Failover (or, for a Drill, of a failover at that moment) starting at `now`
/// (seconds since the epoch), from what is known of the lag.
pub fn data_loss(type_: FailoverType, lag: &LagEvidence, now: i64) -> Estimate {
    let prefix = if type_ == FailoverType::Drill {
        "a drill loses nothing; a failover at its start would have lost this: "
    } else {
        ""
    };
    let LagEvidence::Samples {
        metric,
        read,
        last_observed,
    } = lag
    else {
        return Estimate::unknown(format!(
            "{prefix}spec.database names no Aurora global database, whose replication lag is what pilot-light \
             measures the RPO from"
        ));
    };
    let latest = [read.as_ref().ok().copied().flatten(), *last_observed]
        .into_iter()
        .flatten()
        .max_by_key(|s| s.at_epoch_seconds);
    let Some(sample) = latest else {
        let why = match read {
            Err(e) => format!("CloudWatch did not answer ({e}) and convergence never saw a sample"),
            Ok(_) => "CloudWatch has no sample of the last 10 minutes and convergence never saw one".to_owned(),
        };
        return Estimate::unknown(format!("{prefix}no {metric} sample: {why}"));
    };
    let age = (now - sample.at_epoch_seconds).max(0) as f64;
    let lag = sample.milliseconds / 1000.0;
    if age <= FRESH_LAG_SAMPLE.as_secs_f64() {
        Estimate {
            basis: EstimateBasis::Measured,
            seconds: Some(lag),
            sample_age_seconds: Some(age),
            reason: format!("{prefix}{metric}: {lag:.1}s in a sample {age:.0}s old"),
        }
    } else {
        Estimate {
            basis: EstimateBasis::Bound,
            seconds: Some(lag + age),
            sample_age_seconds: Some(age),
            reason: format!(
                "{prefix}no {metric} sample in the last {}s (replication may have stopped): at most the last \
                 sample's {lag:.1}s plus the {age:.0}s since it",
                FRESH_LAG_SAMPLE.as_secs()
            ),
        }
    }
}

/// The RTO once the plan ended in `phase`: from `started_at` (creation, or approval) until
/// traffic was switched; without a traffic step, until the last step that restores service
/// (promotion, healthy targets, smoke test) finished. Known whenever that happened, even if a
/// later step failed.
pub fn recovery_time(phase: RequestPhase, steps: &[StepStatus], started_at: Option<&Time>) -> Estimate {
    let finished = |kind: StepKind| {
        steps
            .iter()
            .find(|s| s.name == kind.name() && s.state == StepState::Succeeded)
            .and_then(|s| s.finished_at.clone())
            .map(|t| (kind, t))
    };
    let restoring = [
        StepKind::PromoteDatabase,
        StepKind::WaitTargetsHealthy,
        StepKind::SmokeTest,
    ];
    let has_traffic_step = steps.iter().any(|s| s.name == StepKind::SwitchTraffic.name());
    let end = if has_traffic_step {
        finished(StepKind::SwitchTraffic)
    } else if phase == RequestPhase::Succeeded {
        restoring.into_iter().filter_map(finished).max_by_key(|(_, t)| t.0)
    } else {
        None
    };
    // A warm drill measures from warm: its clock starts when PrewarmCompute finished.
    let warm = finished(StepKind::PrewarmCompute);
    let Some(started) = warm.as_ref().map(|(_, t)| t).or(started_at) else {
        return Estimate::unknown("the plan never started");
    };
    let Some((kind, end)) = end else {
        return Estimate::unknown(match phase {
            RequestPhase::Cancelled => "cancelled before service was restored in the other region",
            _ if has_traffic_step => "traffic was never switched: the request ended before SwitchTraffic succeeded",
            _ => "the request ended before service was restored in the other region",
        });
    };
    let millis = end.0.as_millisecond() - started.0.as_millisecond();
    Estimate {
        basis: EstimateBasis::Measured,
        seconds: Some((millis.max(0) as f64) / 1000.0),
        sample_age_seconds: None,
        reason: match warm {
            Some(_) => format!("from warm (PrewarmCompute finished) until {kind:?} finished"),
            None => format!("from the start (creation, or approval) until {kind:?} finished"),
        },
    }
}

#[cfg(test)]
mod tests;
