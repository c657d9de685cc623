//! Admission: whether a FailoverRequest may start, must wait for approval, or is rejected.
//! [`admit`] observes (the PilotLight, the other requests, the region a planned move needs,
//! who asked), [`decide`] judges (pure), and [`admit`] carries the verdict out.

use kube::{Api, ResourceExt, api::ListParams, runtime::controller::Action, runtime::events::EventType};
use tracing::info;

use super::{
    FailoverContext, ended,
    estimate::{self, LagEvidence},
    executor, has_finalizer, pilotlight, plan, publish, requests_api, set_finalizer,
};
use crate::step::{
    Direction,
    journal::{self, now},
};
use crate::{
    api::{
        CREATED_BY, EVACUATION_LABEL, Evacuation, FailoverRequest, FailoverRequestStatus, FailoverType, ORIGIN,
        ORIGIN_DETECTION, ORIGIN_SCHEDULE, PilotLight, RequestPhase, StepKind, StepStatus,
    },
    aws::{
        AwsError,
        cloudwatch::{self, LagMetric},
    },
    context::Core,
    error::{Error, Result},
};

/// What admission looks at, gathered by [`admit`].
pub struct Facts<'a> {
    pub request: &'a FailoverRequest,
    /// The PilotLight it names, if it exists.
    pub pilotlight: Option<&'a PilotLight>,
    /// Why another request holds the PilotLight, if one does.
    pub holder: Option<String>,
    /// For a Switchover or Failback: the error of the region it moves away from, if that region
    /// does not answer.
    pub unreachable_source: Option<String>,
    pub origin: plan::Origin,
    /// Who approved it through the Evacuation that made it (see [`Evacuation::approver_of`]).
    pub evacuation_approver: Option<String>,
}

/// What to do with a request that has not started.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Reject(String),
    /// A dry run: the plan is written and nothing else happens.
    DryRun(Vec<StepStatus>),
    /// Wait in AwaitingApproval with this message.
    AwaitApproval {
        plan: Vec<StepStatus>,
        message: String,
    },
    /// Start now; `approved` when an approval was needed (the RTO counts from it).
    Start {
        plan: Vec<StepStatus>,
        approved: bool,
    },
}

/// The admission decision, from what [`admit`] observed. `plan` is the plan already written
/// (kept while a request waits), or empty.
pub fn decide(facts: &Facts<'_>, plan: &[StepStatus]) -> Verdict {
    let request = facts.request;
    let type_ = request.spec.type_;
    let Some(pl) = facts.pilotlight else {
        return Verdict::Reject(format!(
            "PilotLight {} does not exist in namespace {}",
            request.spec.pilot_light_ref.name,
            request.namespace().unwrap_or_default()
        ));
    };
    if let Some(holder) = &facts.holder {
        return Verdict::Reject(holder.clone());
    }
    if let Some(why) = plan::refusal(pl, type_, request.spec.force) {
        return Verdict::Reject(why);
    }
    if let Some(error) = &facts.unreachable_source {
        let from = Direction::of(&pl.spec, type_).from;
        return Verdict::Reject(format!(
            "a {type_:?} needs {from}, which does not answer ({error}); a Failover works without it"
        ));
    }
    if request.spec.prewarm && pl.spec.compute.is_none() {
        return Verdict::Reject(format!(
            "spec.prewarm warms the standby compute, and PilotLight {} has no spec.compute",
            pl.name_any()
        ));
    }
    let plan = if plan.is_empty() {
        plan::plan_request(&pl.spec, &request.spec)
    } else {
        plan.to_vec()
    };
    if request.spec.dry_run {
        return Verdict::DryRun(plan);
    }
    let needs_approval = plan::needs_approval(pl, type_, facts.origin);
    if needs_approval && !approved(request) && facts.evacuation_approver.is_none() {
        let message = match (&request.spec.approved_by, creator(request)) {
            (Some(by), Some(creator)) if *by == creator => format!(
                "Awaiting approval: {by} created this request and approved it themselves, which does not count; spec.approvedBy cannot change, so cancel it (kubectl pilotlight cancel) and create a new one for another person to approve"
            ),
            _ => "Awaiting approval: another person must set spec.approvedBy to their user name".to_owned(),
        };
        return Verdict::AwaitApproval { plan, message };
    }
    Verdict::Start {
        plan,
        approved: needs_approval,
    }
}

/// Admission: observe, [`decide`], then carry the verdict out.
pub async fn admit(ctx: &FailoverContext, request: &FailoverRequest, status: FailoverRequestStatus) -> Result<Action> {
    if ctx.stop_requested(request) {
        return cancel_unstarted(ctx, request, status).await;
    }
    let key = format!(
        "{}/{}",
        request.namespace().unwrap_or_default(),
        request.spec.pilot_light_ref.name
    );
    let admitting = ctx.core.admission_lock(&key).lock_owned().await;
    let api = requests_api(ctx, request);
    let (pl, holder, origin) = tokio::try_join!(pilotlight(ctx, request), holder_of(&api, request), async {
        Ok(origin(ctx, request).await)
    })?;
    let unreachable_source = match &pl {
        Some(pl) if matches!(request.spec.type_, FailoverType::Switchover | FailoverType::Failback) => {
            probe(ctx, Direction::of(&pl.spec, request.spec.type_).from)
                .await
                .err()
                .map(|e| e.to_string())
        }
        _ => None,
    };
    let facts = Facts {
        request,
        pilotlight: pl.as_ref(),
        holder,
        unreachable_source,
        origin,
        evacuation_approver: evacuation_approver(ctx, request).await?,
    };
    let verdict = decide(&facts, &status.steps);
    let evacuation_approver = facts.evacuation_approver;
    match verdict {
        Verdict::Reject(why) => reject(ctx, request, status, why).await,
        Verdict::DryRun(plan) => dry_run(ctx, request, pl.as_ref(), status, plan).await,
        Verdict::AwaitApproval { plan, message } => await_approval(ctx, request, status, plan, message).await,
        Verdict::Start { plan, approved } => {
            let pl = pl.expect("a verdict to start has a PilotLight");
            let approver = approved.then(|| {
                (request.spec.approved_by.clone())
                    .or(evacuation_approver)
                    .unwrap_or_default()
            });
            start(ctx, request, &pl, status, plan, approver, admitting).await
        }
    }
}

async fn cancel_unstarted(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    mut status: FailoverRequestStatus,
) -> Result<Action> {
    status.phase = Some(RequestPhase::Cancelled);
    status.completed_at = Some(now());
    status.message = Some("Cancelled before it started; nothing was changed".into());
    journal::write(&requests_api(ctx, request), &request.name_any(), &status).await?;
    set_finalizer(ctx, request, false).await?;
    publish(
        ctx,
        request,
        EventType::Normal,
        "Cancelled",
        status.message.clone().unwrap_or_default(),
    );
    ended(ctx, request, &status);
    ctx.converge_when_seen(request, RequestPhase::Cancelled);
    Ok(Action::await_change())
}

fn step_names(steps: &[StepStatus]) -> String {
    steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}

async fn dry_run(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    pl: Option<&PilotLight>,
    mut status: FailoverRequestStatus,
    mut plan: Vec<StepStatus>,
) -> Result<Action> {
    let traffic = pl.and_then(|pl| {
        let spec = pl.spec.traffic.as_ref()?;
        let to_standby = Direction::of(&pl.spec, request.spec.type_).to_standby(&pl.spec);
        Some(crate::pilotlight::traffic::failover::describe(
            spec,
            &pl.spec.regions,
            to_standby,
        ))
    });
    let prewarmed = pl.and_then(prewarm_done);
    for step in &mut plan {
        step.message = Some(match (&traffic, step.name == StepKind::SwitchTraffic.name()) {
            (Some(how), true) => format!("dry run: not executed; would {how}"),
            _ if step.name == StepKind::ScaleUpCompute.name() && prewarmed.is_some() => {
                format!("dry run: not executed; {}", prewarmed.clone().unwrap_or_default())
            }
            _ => "dry run: not executed".into(),
        });
    }
    let traffic = plan
        .iter()
        .any(|s| s.name == StepKind::SwitchTraffic.name())
        .then_some(traffic)
        .flatten()
        .map(|how| format!("; SwitchTraffic would {how}"))
        .unwrap_or_default();
    status.message = Some(format!(
        "Dry run: the plan has {} steps ({}){traffic}; nothing was changed",
        plan.len(),
        step_names(&plan)
    ));
    status.steps = plan;
    status.phase = Some(RequestPhase::Succeeded);
    status.completed_at = Some(now());
    journal::write(&requests_api(ctx, request), &request.name_any(), &status).await?;
    publish(
        ctx,
        request,
        EventType::Normal,
        "DryRun",
        status.message.clone().unwrap_or_default(),
    );
    ended(ctx, request, &status);
    Ok(Action::await_change())
}

/// What a live prewarm has already done of ScaleUpCompute, for the dry run.
fn prewarm_done(pl: &PilotLight) -> Option<String> {
    use crate::api::PrewarmState::{CoolingDown, Warm};
    let p = pl.status.as_ref()?.prewarm.as_ref()?;
    let want = pl.spec.compute.as_ref()?.auto_scaling_group.failover.desired_capacity;
    matches!(p.state, Warm | CoolingDown).then(|| match p.capacity >= want {
        true => format!(
            "already done by the prewarm since {} ({} instances): it would only verify the group",
            p.since.0, p.capacity
        ),
        false => format!(
            "the prewarm since {} has {} of the {want} instances: it would scale up the rest",
            p.since.0, p.capacity
        ),
    })
}

async fn await_approval(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    mut status: FailoverRequestStatus,
    plan: Vec<StepStatus>,
    message: String,
) -> Result<Action> {
    if status.phase != Some(RequestPhase::AwaitingApproval) || status.message.as_ref() != Some(&message) {
        status.steps = plan;
        status.phase = Some(RequestPhase::AwaitingApproval);
        status.message = Some(message.clone());
        status.observed_generation = request.metadata.generation;
        let api = requests_api(ctx, request);
        tokio::try_join!(
            async {
                journal::write(&api, &request.name_any(), &status)
                    .await
                    .map_err(Error::from)
            },
            set_finalizer(ctx, request, true)
        )?;
        publish(ctx, request, EventType::Normal, "AwaitingApproval", message);
        ctx.converge_when_seen(request, RequestPhase::AwaitingApproval);
    }
    Ok(Action::await_change())
}

/// Starts the plan. The recovery time counts from creation, or from the approval when one was
/// needed. The Running phase is written (with the finalizer) while the steps make their first
/// reads; the PilotLight's admission lock is held until it is, and no step calls anything
/// mutating before it is.
async fn start(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    pl: &PilotLight,
    mut status: FailoverRequestStatus,
    plan: Vec<StepStatus>,
    approver: Option<String>,
    admitting: tokio::sync::OwnedMutexGuard<()>,
) -> Result<Action> {
    let type_ = request.spec.type_;
    let direction = Direction::of(&pl.spec, type_);
    status.steps = plan;
    let data_loss = match type_ {
        FailoverType::Switchover | FailoverType::Failback => {
            estimate::planned_move(type_, pl.spec.database.as_ref().is_some_and(|d| d.rds.is_some()))
        }
        FailoverType::Failover | FailoverType::Drill => {
            estimate::data_loss(type_, &lag_evidence(ctx, pl).await, now().0.as_second())
        }
    };
    status.data_loss_window_seconds = data_loss.seconds;
    status.data_loss = Some(data_loss);
    status.phase = Some(RequestPhase::Running);
    status.started_at = Some(if approver.is_some() {
        now()
    } else {
        request.metadata.creation_timestamp.clone().unwrap_or_else(now)
    });
    status.observed_generation = request.metadata.generation;
    status.message = Some(match &approver {
        Some(by) => format!("Running; approved by {by}"),
        None => "Running".to_owned(),
    });
    publish(
        ctx,
        request,
        EventType::Normal,
        "Started",
        format!(
            "{type_:?} of {} from {} to {} started{}: {}",
            request.spec.pilot_light_ref.name,
            direction.from,
            direction.to,
            match &approver {
                Some(by) => format!(" (approved by {by})"),
                None => String::new(),
            },
            step_names(&status.steps)
        ),
    );
    executor::execute(ctx, request, pl, status, Some(admitting)).await
}

/// The approver of the Evacuation that made `request`, when it made it and is approved. Read
/// fresh (a list by name: the operator lists and watches Evacuations and needs no `get`).
async fn evacuation_approver(ctx: &Core, request: &FailoverRequest) -> Result<Option<String>> {
    let Some(name) = request.labels().get(EVACUATION_LABEL) else {
        return Ok(None);
    };
    let by_name = ListParams::default().fields(&format!("metadata.name={name}"));
    let evacuations = Api::<Evacuation>::all(ctx.client.clone()).list(&by_name).await?;
    Ok(evacuations.items.first().and_then(|e| e.approver_of(request)))
}

/// Who asked: the operator itself only when the request says so and records the operator as
/// its creator (which the approval policy makes truthful); anyone else is a person.
async fn origin(ctx: &Core, request: &FailoverRequest) -> plan::Origin {
    let claimed = match request.annotations().get(ORIGIN).map(String::as_str) {
        Some(ORIGIN_DETECTION) => plan::Origin::Detection,
        Some(ORIGIN_SCHEDULE) => plan::Origin::Schedule,
        _ => return plan::Origin::Person,
    };
    match (creator(request), ctx.identity().await) {
        (Some(creator), Ok(me)) if creator == me => claimed,
        _ => plan::Origin::Person,
    }
}

fn creator(request: &FailoverRequest) -> Option<String> {
    request.annotations().get(CREATED_BY).cloned()
}

/// Approved by someone, and not by its creator (the admission policy refuses that too; this
/// holds where the policy is not installed).
fn approved(request: &FailoverRequest) -> bool {
    match (&request.spec.approved_by, creator(request)) {
        (Some(by), Some(creator)) => *by != creator,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Another request that holds the PilotLight, read from the API server under the admission lock.
async fn holder_of(api: &Api<FailoverRequest>, request: &FailoverRequest) -> Result<Option<String>> {
    let others = api.list(&ListParams::default()).await?;
    Ok(holder(&others.items, request))
}

/// The request among `others` that holds `request`'s PilotLight: one already awaiting approval
/// or running, or an older one not yet admitted; and why, in words. Dry runs change nothing:
/// they neither hold a PilotLight nor wait for one (the plan of a move awaiting approval can be
/// looked at).
pub fn holder(others: &[FailoverRequest], request: &FailoverRequest) -> Option<String> {
    if request.spec.dry_run {
        return None;
    }
    let me = (request.metadata.creation_timestamp.clone(), request.name_any());
    let holder = others
        .iter()
        .filter(|r| r.name_any() != request.name_any() && !r.spec.dry_run)
        .filter(|r| r.spec.pilot_light_ref.name == request.spec.pilot_light_ref.name)
        .filter(|r| r.is_active())
        .filter(|r| r.metadata.deletion_timestamp.is_none() && !r.spec.cancel)
        .filter(|r| {
            matches!(r.phase(), Some(RequestPhase::AwaitingApproval | RequestPhase::Running))
                || (r.metadata.creation_timestamp.clone(), r.name_any()) < me
        })
        .min_by_key(|r| (r.metadata.creation_timestamp.clone(), r.name_any()))?;
    let phase = holder.phase().unwrap_or(RequestPhase::Pending);
    Some(format!(
        "FailoverRequest {} ({:?}) is already {} for PilotLight {}; one request at a time: wait for it to end, or cancel it (kubectl pilotlight cancel {}), then create this one again",
        holder.name_any(),
        holder.spec.type_,
        match phase {
            RequestPhase::Pending => "waiting to be admitted".to_owned(),
            other => format!("{other:?}"),
        },
        request.spec.pilot_light_ref.name,
        holder.name_any()
    ))
}

async fn reject(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    mut status: FailoverRequestStatus,
    why: String,
) -> Result<Action> {
    status.phase = Some(RequestPhase::Rejected);
    status.completed_at = Some(now());
    status.message = Some(format!("Rejected: {why}"));
    status.observed_generation = request.metadata.generation;
    journal::write(&requests_api(ctx, request), &request.name_any(), &status).await?;
    if has_finalizer(request) {
        set_finalizer(ctx, request, false).await?;
    }
    info!(reason = %why, "rejected");
    publish(ctx, request, EventType::Warning, "Rejected", why);
    ended(ctx, request, &status);
    ctx.converge_when_seen(request, RequestPhase::Rejected);
    Ok(Action::await_change())
}

/// A cheap call to `region`'s EC2 API: does the region answer at all?
async fn probe(ctx: &Core, region: &str) -> std::result::Result<(), AwsError> {
    ctx.aws
        .failover(region)
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("ec2", "DescribeAvailabilityZones", region, e))
}

/// What is known of the standby's replication lag as a plan starts: read fresh from CloudWatch
/// in the standby region (which answers in a primary-region outage), and the sample
/// convergence last wrote to the status.
async fn lag_evidence(ctx: &Core, pl: &PilotLight) -> LagEvidence {
    let database = pl.spec.database.as_ref();
    let status = pl.status.as_ref().and_then(|s| s.database.as_ref());
    let (metric, region, id) = match (
        database.and_then(|d| d.aurora.as_ref()),
        database.and_then(|d| d.rds.as_ref()),
    ) {
        (Some(aurora), _) => (
            LagMetric::AuroraGlobal,
            pl.spec.regions.standby.to_string(),
            aurora.standby_cluster_identifier.to_string(),
        ),
        // The replica convergence last saw, else the spec's in the standby region.
        (None, Some(rds)) => match status.and_then(|d| d.rds.as_ref()).and_then(|r| r.replica.as_ref()) {
            Some(replica) => (
                LagMetric::ReadReplica,
                replica.region.clone(),
                replica.identifier.clone(),
            ),
            None => (
                LagMetric::ReadReplica,
                pl.spec.regions.standby.to_string(),
                rds.replica_instance_identifier.to_string(),
            ),
        },
        (None, None) => return LagEvidence::NoDatabase,
    };
    let region = region.as_str();
    let read = cloudwatch::lags(&ctx.aws.failover(region), metric, std::slice::from_ref(&id))
        .await
        .map(|lags| lags.get(&id).copied())
        .map_err(|e| e.to_string());
    let last_observed = pl.status.as_ref().and_then(|s| s.database.as_ref()).and_then(|d| {
        Some(cloudwatch::LagSample {
            milliseconds: d.replication_lag_ms?,
            at_epoch_seconds: d.replication_lag_observed_at.as_ref()?.0.as_second(),
        })
    });
    LagEvidence::Samples {
        metric: format!("{} of {id} in {region}", metric.name()),
        read,
        last_observed,
    }
}

#[cfg(test)]
mod tests;
