//! Plans: which steps a request runs, in which order, and the rules that admit a request. Pure.

use crate::api::{
    ConditionStatus, ConditionType, FAILOVER_IN_PROGRESS, FailoverRequestSpec, FailoverType, PilotLight,
    PilotLightSpec, StepKind, StepState, StepStatus,
};

/// The plan for `type_` against `spec`: steps only for configured components, each with the
/// steps it waits for. Independent branches (database promotion, compute scale-up) run in
/// parallel, so the recovery time is the longest branch, not the sum.
pub fn plan(spec: &PilotLightSpec, type_: FailoverType) -> Vec<StepStatus> {
    let steps = match type_ {
        FailoverType::Drill => drill_steps(spec),
        FailoverType::Failover | FailoverType::Switchover | FailoverType::Failback => move_steps(spec, type_),
    };
    steps.into_iter().map(|(kind, deps)| pending(kind, &deps)).collect()
}

/// The plan of `request` against `spec`: [`plan`]; a Drill with `spec.prewarm` warms the
/// standby first (PrewarmCompute) and measures from warm.
pub fn plan_request(spec: &PilotLightSpec, request: &FailoverRequestSpec) -> Vec<StepStatus> {
    let mut steps = plan(spec, request.type_);
    if request.type_ == FailoverType::Drill && request.prewarm && spec.compute.is_some() {
        let prewarm = StepKind::PrewarmCompute.name().to_owned();
        for step in steps.iter_mut().filter(|s| s.name == StepKind::ScaleUpCompute.name()) {
            step.depends_on.push(prewarm.clone());
        }
        steps.insert(0, pending(StepKind::PrewarmCompute, &[]));
    }
    steps
}

fn pending(kind: StepKind, deps: &[StepKind]) -> StepStatus {
    StepStatus {
        name: kind.name().to_owned(),
        state: StepState::Pending,
        depends_on: deps.iter().map(|d| d.name().to_owned()).collect(),
        started_at: None,
        finished_at: None,
        attempts: 0,
        message: None,
        operation: None,
    }
}

/// A drill: the standby's compute up, checked, and down again; nothing else moves.
fn drill_steps(spec: &PilotLightSpec) -> Vec<(StepKind, Vec<StepKind>)> {
    use StepKind::*;
    let compute = spec.compute.as_ref();
    let traffic = spec.traffic.is_some();
    let mut steps: Vec<(StepKind, Vec<StepKind>)> = Vec::new();
    if compute.is_some() {
        steps.push((ScaleUpCompute, vec![]));
        steps.push((WaitTargetsHealthy, vec![ScaleUpCompute]));
        let checked = if traffic || spec.failover.smoke_test.url.is_some() {
            steps.push((SmokeTest, vec![WaitTargetsHealthy]));
            SmokeTest
        } else {
            WaitTargetsHealthy
        };
        steps.push((ScaleDownCompute, vec![checked]));
        if spec.cache.is_some() {
            steps.push((CreateCache, vec![]));
            steps.push((DeleteCache, vec![CreateCache, checked]));
        }
    }
    steps
}

/// A move of the application to the other region: database, compute and traffic in parallel
/// where they can, the endpoints and the old primary's fencing after them.
fn move_steps(spec: &PilotLightSpec, type_: FailoverType) -> Vec<(StepKind, Vec<StepKind>)> {
    use StepKind::*;
    let database = spec.database.as_ref().filter(|d| d.aurora.is_some() || d.rds.is_some());
    let compute = spec.compute.as_ref();
    let traffic = spec.traffic.is_some();
    let buckets = spec.storage.as_ref().is_some_and(|s| !s.s3.is_empty());
    let primary_group = compute.and_then(|c| c.primary_auto_scaling_group_name.as_ref());
    let mut steps: Vec<(StepKind, Vec<StepKind>)> = Vec::new();
    let failback = type_ == FailoverType::Failback;
    // Failback brings up the primary region's own group, when the spec names it.
    let target_group = if failback {
        primary_group.is_some()
    } else {
        compute.is_some()
    };
    if database.is_some() {
        steps.push((PromoteDatabase, vec![]));
    }
    if target_group {
        steps.push((ScaleUpCompute, vec![]));
        steps.push((WaitTargetsHealthy, vec![ScaleUpCompute]));
    }
    let cache = spec.cache.as_ref().map(|c| &c.elasti_cache);
    if cache.is_some() && !failback {
        steps.push((CreateCache, vec![]));
    }
    // A required cache is part of serving: traffic waits for it.
    let serving: Vec<StepKind> = steps
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| {
            matches!(k, PromoteDatabase | WaitTargetsHealthy)
                || (*k == CreateCache && cache.is_some_and(|c| c.required))
        })
        .collect();
    if traffic {
        steps.push((SwitchTraffic, serving.clone()));
    }
    let switched = if traffic { vec![SwitchTraffic] } else { serving };
    if let Some(d) = database {
        steps.push((UpdateEndpoints, vec![PromoteDatabase]));
        if d.writer_endpoint_record().is_some() {
            steps.push((UpdateWriterRecord, vec![PromoteDatabase]));
        }
        if !failback && d.scales_up_after_promotion() {
            steps.push((ScaleUpDatabase, vec![PromoteDatabase]));
        }
    }
    if failback {
        if compute.is_some() {
            steps.push((ScaleDownCompute, switched.clone()));
        }
        if cache.is_some() {
            steps.push((DeleteCache, switched.clone()));
        }
    } else {
        if primary_group.is_some() {
            steps.push((FenceOldPrimary, switched.clone()));
        }
        if buckets {
            // Replication back to the old buckets changes nothing that serves, and the
            // new buckets take writes once the endpoints move: set it up at once.
            steps.push((ReverseReplication, vec![]));
        }
    }
    steps
}

/// The steps that can start now: steps journaled as Running (resumed after a restart), and
/// Pending steps whose dependencies all succeeded. After a failure or a cancel (`stopping`) no
/// new step starts except a Drill's cleanup, and that only once nothing else runs. (A move's
/// last steps clean up the region it left only once the other serves: after a failure they
/// must not run, or they would take down the region that still serves.)
pub fn startable(steps: &[StepStatus], stopping: bool, type_: FailoverType) -> Vec<String> {
    let state = |name: &str| steps.iter().find(|s| s.name == name).map(|s| s.state);
    let others_running = |me: &str| steps.iter().any(|s| s.name != me && s.state == StepState::Running);
    steps
        .iter()
        .filter(|s| match s.state {
            StepState::Running => true,
            StepState::Pending => {
                let always =
                    type_ == FailoverType::Drill && StepKind::from_name(&s.name).is_some_and(StepKind::always_runs);
                if stopping {
                    always && !others_running(&s.name)
                } else {
                    // A skipped optional step (the DR cache) does not hold up what follows it.
                    s.depends_on
                        .iter()
                        .all(|d| matches!(state(d), Some(StepState::Succeeded | StepState::Skipped)))
                }
            }
            _ => false,
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Who asked for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A person (or their tooling).
    Person,
    /// The operator's detection of a failing primary (`spec.detection`).
    Detection,
    /// The operator's drill schedule (`spec.drills`).
    Schedule,
}

/// Whether `type_` waits for a second person. A request from detection waits unless the
/// PilotLight's detection mode is `Automatic`: writing that mode is the approval.
pub fn needs_approval(pl: &PilotLight, type_: FailoverType, origin: Origin) -> bool {
    let policy = &pl.spec.failover;
    if origin == Origin::Detection && type_ != FailoverType::Drill {
        return pl.spec.detection.as_ref().map(|d| d.mode) != Some(crate::api::DetectionMode::Automatic);
    }
    match type_ {
        FailoverType::Drill => false,
        FailoverType::Failover => policy.approval.required || !policy.allow_data_loss_without_approval,
        FailoverType::Switchover | FailoverType::Failback => policy.approval.required,
    }
}

/// Why a request cannot start against `pl` as it is, judged from the PilotLight alone (the
/// region probe and other requests are checked by the executor).
pub fn refusal(pl: &PilotLight, type_: FailoverType, force: bool) -> Option<String> {
    let spec = &pl.spec;
    let status = pl.status.clone().unwrap_or_default();
    let active = status
        .active_region
        .clone()
        .unwrap_or_else(|| spec.regions.primary.to_string());
    let standby_active = active == spec.regions.standby.as_str();
    match type_ {
        FailoverType::Failback if !standby_active => {
            return Some(format!(
                "nothing to fail back: the primary region {active} is already active"
            ));
        }
        FailoverType::Failover | FailoverType::Switchover | FailoverType::Drill if standby_active => {
            return Some(format!(
                "the standby region {active} is already active; a {type_:?} needs the primary region to serve (use a Failback to return)"
            ));
        }
        _ => {}
    }
    if type_ == FailoverType::Drill && spec.compute.is_none() {
        return Some("a Drill needs spec.compute: there is nothing to scale up".into());
    }
    if plan(spec, type_).is_empty() {
        return Some(format!("spec configures nothing a {type_:?} would change"));
    }
    if type_ == FailoverType::Failover && !force {
        let not_ready: Vec<String> = status
            .conditions
            .iter()
            .filter(|c| ConditionType::COMPONENTS.iter().any(|t| t.as_str() == c.type_))
            // A cache that is not required does not stop a failover: it goes on without it.
            .filter(|c| {
                c.type_ != ConditionType::CacheReady.as_str()
                    || spec.cache.as_ref().is_some_and(|cache| cache.elasti_cache.required)
            })
            .filter(|c| c.status == ConditionStatus::False.as_str())
            // Left by a request that has ended (admission holds no other): not a verdict on the
            // standby, and the check that replaces it follows within a second.
            .filter(|c| c.reason != FAILOVER_IN_PROGRESS)
            .map(|c| format!("{} is False ({}: {})", c.type_, c.reason, c.message))
            .collect();
        if status.conditions.is_empty() {
            return Some(
                "the standby has not been checked yet, so it is not known to be Ready; set spec.force: true to fail over anyway"
                    .into(),
            );
        }
        if !not_ready.is_empty() {
            return Some(format!(
                "the standby is not Ready: {}; set spec.force: true to fail over anyway",
                not_ready.join("; ")
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests;
