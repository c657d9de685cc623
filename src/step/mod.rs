//! What every failover step shares: how it ends ([`Done`], [`StepError`]), the context it
//! runs in ([`StepContext`]), and how it waits ([`Poll`]). The steps themselves live with their
//! component (`pilotlight/<component>/failover.rs`); [`crate::failover::steps::run`] picks one.
//! Below both the components and the engine, so that components contribute steps without
//! importing the engine that runs them.

use std::time::{Duration, Instant};

use crate::{
    api::{AuroraSpec, ComputeSpec, FailoverType, PilotLight, PilotLightSpec, StepKind},
    aws::{AwsError, RegionalClients},
    context::Core,
};

pub mod journal;

use journal::Journal;

/// How a step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Done {
    Succeeded(String),
    /// An optional effect could not be had; the request goes on without it (a Warning).
    Skipped(String),
    /// The old region does not answer; tried again until it does.
    Deferred(String),
}

/// What a step does next, decided by a pure function of one observation (unit-tested without a
/// network); the step's loop carries it out, journaling a call before and after, and looks
/// again.
#[derive(Clone, Debug, PartialEq)]
pub enum Next<C> {
    /// Make this call: the effect is not there yet.
    Call(C),
    /// Look again later; says what is awaited.
    Wait(String),
    /// The effect is there.
    Done(String),
    /// The step cannot succeed.
    Fail(String),
}

/// Why a step failed, and whether trying it again may help.
#[derive(Clone, Debug, PartialEq)]
pub struct StepError {
    pub message: String,
    pub retryable: bool,
    /// The failing call got no answer at all (connection refused or dropped, timed out), as
    /// opposed to an answer that was an error: a 5xx is tried again like throttling.
    pub unreachable: bool,
    /// AWS throttled the call even after the SDK's retries: tried again without counting
    /// against the step's attempts (the rate budgets keep this rare).
    pub throttled: bool,
}

impl From<AwsError> for StepError {
    fn from(e: AwsError) -> Self {
        Self {
            retryable: e.is_retryable(),
            unreachable: e.got_no_answer(),
            throttled: e.kind == crate::aws::AwsErrorKind::Throttled,
            message: e.to_string(),
        }
    }
}

impl From<kube::Error> for StepError {
    fn from(e: kube::Error) -> Self {
        Self {
            message: format!("Kubernetes API: {e}"),
            retryable: true,
            unreachable: false,
            throttled: false,
        }
    }
}

pub(crate) fn refused(message: String) -> StepError {
    StepError {
        message,
        retryable: false,
        unreachable: false,
        throttled: false,
    }
}

/// Polls a condition adaptively: at once, then at an interval that grows with the time already
/// waited (an eighth of it, between a floor and 5 s). Short operations are seen finishing within
/// a fraction of their duration; long ones cost at most one call per 5 s.
pub(crate) struct Poll {
    started: Instant,
    timeout: Duration,
    floor: Duration,
}

impl Poll {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            started: Instant::now(),
            timeout,
            floor: Duration::from_millis(100),
        }
    }

    /// Never polls more often than every `floor`.
    pub(crate) fn at_most_every(self, floor: Duration) -> Self {
        Self { floor, ..self }
    }

    /// Sleeps until the next look; fails with `what` once the timeout has passed.
    pub(crate) async fn next(&self, what: impl FnOnce() -> String) -> Result<(), StepError> {
        let waited = self.started.elapsed();
        if waited >= self.timeout {
            return Err(refused(format!(
                "gave up after {}s: {}",
                self.timeout.as_secs(),
                what()
            )));
        }
        let interval = (waited / 8).clamp(self.floor, Duration::from_secs(5).max(self.floor));
        tokio::time::sleep(interval).await;
        Ok(())
    }
}

/// Which way a request moves the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Direction<'a> {
    /// The region that serves before.
    pub from: &'a str,
    /// The region that serves after (for a drill: the standby region it rehearses).
    pub to: &'a str,
}

impl<'a> Direction<'a> {
    pub fn of(spec: &'a PilotLightSpec, type_: FailoverType) -> Self {
        let (primary, standby) = (spec.regions.primary.as_str(), spec.regions.standby.as_str());
        match type_ {
            FailoverType::Failback => Self {
                from: standby,
                to: primary,
            },
            _ => Self {
                from: primary,
                to: standby,
            },
        }
    }

    pub fn to_standby(&self, spec: &PilotLightSpec) -> bool {
        self.to == spec.regions.standby.as_str()
    }
}

/// Everything a step needs.
pub struct StepContext<'a> {
    pub ctx: &'a Core,
    pub pl: &'a PilotLight,
    pub type_: FailoverType,
    pub direction: Direction<'a>,
    pub journal: &'a Journal,
    pub kind: StepKind,
}

impl StepContext<'_> {
    pub(crate) fn clients(&self, region: &str) -> std::sync::Arc<RegionalClients> {
        self.ctx.aws.failover(region)
    }

    pub(crate) fn aurora(&self) -> Result<&AuroraSpec, StepError> {
        self.pl
            .spec
            .database
            .as_ref()
            .and_then(|d| d.aurora.as_ref())
            .ok_or_else(|| refused("spec.database.aurora is not set".into()))
    }

    pub(crate) fn rds(&self) -> Result<&crate::api::RdsReplicaSpec, StepError> {
        self.pl
            .spec
            .database
            .as_ref()
            .and_then(|d| d.rds.as_ref())
            .ok_or_else(|| refused("spec.database.rds is not set".into()))
    }

    pub(crate) fn compute(&self) -> Result<&ComputeSpec, StepError> {
        self.pl
            .spec
            .compute
            .as_ref()
            .ok_or_else(|| refused("spec.compute is not set".into()))
    }

    /// Journals that the step is about to make `call`.
    pub(crate) async fn before_call(&self, call: String) -> Result<(), StepError> {
        self.journal.calling(self.kind, call).await.map_err(Into::into)
    }

    /// Shows why the step waits in its message (written only when it changes): a wait that is
    /// the user's to end (a planned move's replica catching up) must say so.
    pub(crate) async fn waiting(&self, message: &str) -> Result<(), StepError> {
        let current = self
            .journal
            .snapshot()
            .steps
            .into_iter()
            .find(|s| s.name == self.kind.name());
        if current.and_then(|s| s.message).as_deref() == Some(message) {
            return Ok(());
        }
        let message = message.to_owned();
        self.journal
            .step(self.kind, |s| s.message = Some(message))
            .await
            .map_err(Into::into)
    }

    /// Journals that `call` returned, with the operation to wait for, if any.
    pub(crate) async fn after_call(&self, message: String, operation: Option<String>) -> Result<(), StepError> {
        self.journal
            .called(self.kind, message, operation)
            .await
            .map_err(Into::into)
    }

    /// The cluster that becomes the writer, and its region.
    pub(crate) fn promoted_cluster(&self) -> Result<(&str, &str), StepError> {
        let aurora = self.aurora()?;
        Ok(if self.direction.to_standby(&self.pl.spec) {
            (self.direction.to, aurora.standby_cluster_identifier.as_str())
        } else {
            (self.direction.to, aurora.primary_cluster_identifier.as_str())
        })
    }

    /// The Auto Scaling Group that serves in `region`.
    pub(crate) fn group_in(&self, region: &str) -> Result<String, StepError> {
        let compute = self.compute()?;
        if region == self.pl.spec.regions.standby.as_str() {
            Ok(compute.auto_scaling_group.name.clone())
        } else {
            compute
                .primary_auto_scaling_group_name
                .clone()
                .ok_or_else(|| refused("spec.compute.primaryAutoScalingGroupName is not set".into()))
        }
    }

    /// The region whose group this step scales: a drill and a failover scale the standby; a
    /// failback scales the primary up and the standby down.
    pub(crate) fn compute_region(&self) -> &str {
        match self.kind {
            StepKind::ScaleDownCompute => self.pl.spec.regions.standby.as_str(),
            StepKind::FenceOldPrimary => self.direction.from,
            _ => self.direction.to,
        }
    }
}

/// A deferrable step whose region does not answer is recorded as pending instead of failing:
/// at once when a call got no answer at all, after the step's retries when its answers were
/// errors (`retries_left` false).
/// `from` is the region the request moves away from.
pub(crate) fn deferral(kind: StepKind, from: &str, e: &StepError, retries_left: bool) -> Option<Done> {
    let gives_up = e.unreachable || (e.retryable && !retries_left);
    if !(kind.deferrable() && gives_up) {
        return None;
    }
    let silent = match kind {
        StepKind::UpdateWriterRecord => format!("Route 53's control plane ({})", crate::aws::GLOBAL_REGION),
        _ => from.to_owned(),
    };
    Some(Done::Deferred(format!(
        "{silent} does not answer; retrying until it does ({})",
        e.message
    )))
}

#[cfg(test)]
mod tests;
