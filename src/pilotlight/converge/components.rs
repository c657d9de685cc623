//! Each component's check for [`super::converge`]: observe, decide (in the component's
//! module), and apply what it decided, announced as Events.

use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::{publish, writer_endpoint};
use crate::{
    api::{PilotLight, PilotLightStatus},
    aws::AwsError,
    pilotlight::{
        ComponentReport, PilotLightContext, PlannedChange, Serving, aurora, cache, compute, dynamodb, load_balancer,
        rds, s3, standby, traffic,
    },
};

/// What a component check found: its report, its part of the status (`None`: keep the last
/// one), and an error worth retrying soon.
pub(super) struct Checked<T> {
    pub(super) report: ComponentReport,
    pub(super) part: Option<T>,
    pub(super) retry: Option<AwsError>,
}

impl<T> Checked<T> {
    pub(super) fn skipped(report: ComponentReport) -> Self {
        Self {
            report,
            part: None,
            retry: None,
        }
    }

    pub(super) fn failed(error: &AwsError) -> Self {
        Self {
            report: ComponentReport::from_aws_error(error),
            part: None,
            retry: error.is_retryable().then(|| error.clone()),
        }
    }
}

/// Announces and applies `changes` in order and stops at the first failure.
async fn apply_changes<C: PlannedChange, T>(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    changes: &[C],
    planned: ComponentReport,
    part: T,
) -> Checked<T> {
    let mut report = planned;
    let _idle = match changes.iter().any(PlannedChange::sets_standby_capacity) {
        true => match standby::idle(ctx, pl).await {
            Ok(Some(guard)) => Some(guard),
            Ok(None) => {
                // A request started after the standby was observed: its steps own the group.
                return Checked::skipped(ComponentReport::healthy(
                    "InUse",
                    "a FailoverRequest started: the standby group is its to size".into(),
                ));
            }
            Err(e) => {
                warn!(error = %e, "could not tell whether a request runs; standby capacity left as it is");
                return Checked::skipped(ComponentReport::converging(
                    "RequestStarted",
                    format!("could not tell whether a FailoverRequest runs ({e}); the standby group is left as it is"),
                ));
            }
        },
        false => None,
    };
    for change in changes {
        if change.is_warning() {
            // A repair says what it found, which is what a person fighting drift needs to read.
            report.repaired = true;
            report.message = change.describe();
        }
        let type_ = if change.is_warning() {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, pl, type_, change.reason(), change.describe()).await;
        info!(change = ?change, "applying");
        if let Err(e) = change.apply(&ctx.aws, owner).await {
            return Checked {
                part: Some(part),
                ..Checked::failed(&e)
            };
        }
    }
    Checked {
        report,
        part: Some(part),
        retry: None,
    }
}

/// The database, whichever engine: its status part and the writer's region. Aurora's reads
/// are shared with other PilotLights unless `fresh`; RDS changes nothing while a request runs.
pub(super) async fn database(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    spec: &crate::api::DatabaseSpec,
    fresh: bool,
    previous: &PilotLightStatus,
) -> Checked<(crate::api::DatabaseStatus, Option<String>)> {
    let regions = &pl.spec.regions;
    let known = previous.database.as_ref();
    match (&spec.aurora, &spec.rds) {
        (Some(aurora), _) => match aurora::observe(&ctx.aws, regions, aurora, known, fresh).await {
            Ok(observation) => {
                let d = aurora::decide(regions, aurora, &observation);
                let part = (d.status.clone(), d.writer_region.clone());
                apply_changes(ctx, pl, owner, &d.changes, d.report, part).await
            }
            Err(e) => Checked::failed(&e),
        },
        (None, Some(rds)) => match rds::observe(&ctx.aws, regions, rds, known, fresh).await {
            Ok(observation) => {
                let running = ctx.requests.running(pl).is_some();
                let d = rds::decide(regions, rds, &observation, known, running);
                let part = (d.status.clone(), d.writer_region.clone());
                apply_changes(ctx, pl, owner, &d.changes, d.report, part).await
            }
            Err(e) => Checked::failed(&e),
        },
        // Admission requires one of them.
        (None, None) => Checked::skipped(ComponentReport::misconfigured(
            "NoDatabaseEngine",
            "spec.database names neither aurora nor rds".into(),
        )),
    }
}

/// S3 replication and DynamoDB replicas, one condition; each part keeps its last known status
/// when AWS cannot be read.
pub(super) async fn storage(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    spec: &crate::api::StorageSpec,
    active_region: Option<&str>,
    previous: &PilotLightStatus,
) -> Checked<crate::api::StorageStatus> {
    let regions = &pl.spec.regions;
    let serving = Serving::of(regions, active_region);
    let mut part = previous.storage.clone().unwrap_or_default();
    part.protected_from = Some(serving.active.to_owned());
    part.protected_to = Some(serving.other.to_owned());
    let mut found = Vec::new();
    if !spec.s3.is_empty() {
        found.push(match s3::observe(&ctx.aws, regions, serving, &spec.s3).await {
            Ok(observations) => {
                let running = ctx.requests.running(pl).is_some();
                let d = s3::decide(regions, serving, running, &spec.s3, &observations);
                part.s3 = d.status.clone();
                apply_changes(ctx, pl, owner, &d.changes, d.report, ()).await
            }
            Err(e) => Checked::failed(&e),
        });
    }
    if !spec.dynamodb.is_empty() {
        found.push(match dynamodb::observe(&ctx.aws, serving, &spec.dynamodb).await {
            Ok(observed) => {
                let d = dynamodb::decide(serving, &spec.dynamodb, &observed);
                part.dynamodb = d.status.clone();
                apply_changes(ctx, pl, owner, &d.changes, d.report, ()).await
            }
            Err(e) => Checked::failed(&e),
        });
    }
    let retry = found.iter().find_map(|c| c.retry.clone());
    Checked {
        report: ComponentReport::combine(found.into_iter().map(|c| c.report).collect()),
        part: Some(part),
        retry,
    }
}

/// The standby compute. Reads are shared with other PilotLights unless `fresh`.
pub(super) async fn compute(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    spec: &crate::api::ComputeSpec,
    fresh: bool,
    capacity: compute::CapacityUse,
) -> Checked<crate::api::ComputeStatus> {
    let regions = &pl.spec.regions;
    match compute::observe(&ctx.aws, regions, spec, fresh).await {
        Ok(observation) => {
            let d = compute::decide(regions, spec, &observation, capacity, Timestamp::now());
            let part = d.status.clone();
            apply_changes(ctx, pl, owner, &d.changes, d.report, part).await
        }
        Err(e) => Checked::failed(&e),
    }
}

/// Route 53. Reads are shared with other PilotLights unless `fresh`.
pub(super) async fn traffic(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    owner: &str,
    inputs: &traffic::TrafficInputs<'_>,
    fresh: bool,
    current: &PilotLightStatus,
) -> Checked<crate::api::TrafficStatus> {
    match traffic::observe(&ctx.aws, inputs, fresh).await {
        Ok(observation) => {
            let d = traffic::decide(
                inputs,
                current.active_region.as_deref(),
                writer_endpoint(current),
                &observation,
            );
            let part = d.status.clone();
            apply_changes(ctx, pl, owner, &d.changes, d.report, part).await
        }
        Err(e) => Checked::failed(&e),
    }
}

/// The DR cache: readiness only, nothing is changed.
pub(super) async fn cache(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    spec: &crate::api::ElastiCacheSpec,
    serving: Serving<'_>,
) -> Checked<crate::api::CacheStatus> {
    match cache::observe(&ctx.aws, &pl.spec.regions, spec).await {
        Ok(observation) => {
            let d = cache::decide(&pl.spec.regions, serving, spec, &observation);
            Checked {
                report: d.report,
                part: Some(d.status),
                retry: None,
            }
        }
        Err(e) => Checked::failed(&e),
    }
}

/// The DR load balancer: readiness only, nothing is changed.
pub(super) async fn load_balancer(
    ctx: &PilotLightContext,
    pl: &PilotLight,
    spec: &crate::api::LoadBalancerSpec,
) -> Checked<()> {
    match load_balancer::observe(&ctx.aws, &pl.spec, spec).await {
        Ok(observation) => Checked {
            report: load_balancer::decide(&pl.spec, spec, &observation),
            part: Some(()),
            retry: None,
        },
        Err(e) => Checked::failed(&e),
    }
}
