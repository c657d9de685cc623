//! What each step does. Every step first observes AWS and acts only when the effect is not
//! there yet, so a step resumed after a restart (or retried after an error) never repeats a
//! mutating call that took effect. Mutating calls are journaled before and after.

use crate::aws::states::{RdsStatus, TargetState};
use std::time::{Duration, Instant};

use crate::{
    api::{AuroraSpec, ComputeSpec, FailoverType, PilotLight},
    aws::{
        AwsError, AwsErrorKind, RegionalClients, autoscaling, elbv2,
        rds::{self, Promotion, parse_cluster_arn},
        route53::{self, Record},
        s3,
    },
    context::Core,
    pilotlight::{aurora::standby_instance_identifier, endpoints, traffic},
};

use super::{journal::Journal, plan::Direction, plan::StepKind};

/// How a step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Done {
    Succeeded(String),
    /// The old region does not answer; tried again until it does.
    Deferred(String),
}

/// Why a step failed, and whether trying it again may help.
#[derive(Clone, Debug, PartialEq)]
pub struct StepError {
    pub message: String,
    pub retryable: bool,
    /// The failing call's region did not answer at all.
    pub unreachable: bool,
}

impl From<AwsError> for StepError {
    fn from(e: AwsError) -> Self {
        Self {
            retryable: e.is_retryable(),
            unreachable: e.kind == AwsErrorKind::Unavailable,
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
        }
    }
}

fn refused(message: String) -> StepError {
    StepError {
        message,
        retryable: false,
        unreachable: false,
    }
}

/// How long each kind of wait may take before the step fails.
const PROMOTION_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const INSYNC_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DATABASE_SCALE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Polls a condition adaptively: at once, then at an interval that grows with the time already
/// waited (an eighth of it, between a floor and 5 s). Short operations are seen finishing within
/// a fraction of their duration; long ones cost at most one call per 5 s.
struct Poll {
    started: Instant,
    timeout: Duration,
    floor: Duration,
}

impl Poll {
    fn new(timeout: Duration) -> Self {
        Self {
            started: Instant::now(),
            timeout,
            floor: Duration::from_millis(100),
        }
    }

    /// Never polls more often than every `floor`.
    fn at_most_every(self, floor: Duration) -> Self {
        Self { floor, ..self }
    }

    /// Sleeps until the next look; fails with `what` once the timeout has passed.
    async fn next(&self, what: impl FnOnce() -> String) -> Result<(), StepError> {
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
    fn clients(&self, region: &str) -> std::sync::Arc<RegionalClients> {
        self.ctx.aws.region(region)
    }

    fn aurora(&self) -> Result<&AuroraSpec, StepError> {
        self.pl
            .spec
            .database
            .as_ref()
            .and_then(|d| d.aurora.as_ref())
            .ok_or_else(|| refused("spec.database.aurora is not set".into()))
    }

    fn compute(&self) -> Result<&ComputeSpec, StepError> {
        self.pl
            .spec
            .compute
            .as_ref()
            .ok_or_else(|| refused("spec.compute is not set".into()))
    }

    /// Journals that the step is about to make `call`.
    async fn before_call(&self, call: String) -> Result<(), StepError> {
        self.journal.calling(self.kind, call).await.map_err(Into::into)
    }

    /// Journals that `call` returned, with the operation to wait for, if any.
    async fn after_call(&self, message: String, operation: Option<String>) -> Result<(), StepError> {
        self.journal
            .called(self.kind, message, operation)
            .await
            .map_err(Into::into)
    }

    /// The cluster that becomes the writer, and its region.
    fn promoted_cluster(&self) -> Result<(&str, &str), StepError> {
        let aurora = self.aurora()?;
        Ok(if self.direction.to_standby(&self.pl.spec) {
            (self.direction.to, aurora.standby_cluster_identifier.as_str())
        } else {
            (self.direction.to, aurora.primary_cluster_identifier.as_str())
        })
    }

    /// The Auto Scaling Group that serves in `region`.
    fn group_in(&self, region: &str) -> Result<String, StepError> {
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
    fn compute_region(&self) -> &str {
        match self.kind {
            StepKind::ScaleDownCompute => self.pl.spec.regions.standby.as_str(),
            StepKind::FenceOldPrimary => self.direction.from,
            _ => self.direction.to,
        }
    }
}

pub async fn run(sc: &StepContext<'_>) -> Result<Done, StepError> {
    match sc.kind {
        StepKind::PromoteDatabase => promote_database(sc).await,
        StepKind::ScaleUpCompute => {
            let failover = &sc.compute()?.auto_scaling_group.failover;
            set_group_capacity(sc, (failover.min_size, failover.desired_capacity, failover.max_size)).await
        }
        StepKind::WaitTargetsHealthy => wait_targets_healthy(sc).await,
        StepKind::SwitchTraffic => switch_traffic(sc).await,
        StepKind::UpdateEndpoints => update_endpoints(sc).await,
        StepKind::ScaleUpDatabase => scale_up_database(sc).await,
        StepKind::FenceOldPrimary | StepKind::ScaleDownCompute => set_group_capacity(sc, (0, 0, 0)).await,
        StepKind::ReverseReplication => reverse_replication(sc).await,
        StepKind::SmokeTest => smoke_test(sc).await,
    }
}

async fn promote_database(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let aurora = sc.aurora()?;
    let global = aurora.global_cluster_identifier.as_str();
    let (region, cluster) = sc.promoted_cluster()?;
    // Asked in the target's region: it answers when the old writer's region does not.
    let clients = sc.clients(region);
    let how = match sc.type_ {
        FailoverType::Failover => Promotion::FailoverAllowingDataLoss,
        _ => Promotion::Switchover,
    };
    let call = match how {
        Promotion::Switchover => "SwitchoverGlobalCluster",
        Promotion::FailoverAllowingDataLoss => "FailoverGlobalCluster (AllowDataLoss)",
    };
    let poll = Poll::new(PROMOTION_TIMEOUT);
    let mut called = false;
    // After the call the cluster is looked at once more before the journal says it is waiting:
    // when it is done already, the write that marks the step Succeeded is the one after the call.
    let mut waiting_written = false;
    loop {
        let clusters = rds::describe_global_clusters(&clients).await?;
        let g = clusters
            .get(global)
            .ok_or_else(|| refused(format!("global cluster {global} not found from {region}")))?;
        let target = g
            .members
            .iter()
            .find(|m| parse_cluster_arn(&m.cluster_arn) == Some((region, cluster)))
            .ok_or_else(|| {
                refused(format!(
                    "{cluster} in {region} is not a member of global cluster {global}"
                ))
            })?;
        if target.is_writer && g.status == RdsStatus::Available {
            return Ok(Done::Succeeded(format!(
                "{cluster} in {region} is the writer of {global}"
            )));
        }
        let under_way = target.is_writer || g.promoting.as_deref() == Some(target.cluster_arn.as_str());
        if !under_way && !called && g.status == RdsStatus::Available {
            sc.before_call(format!("{call} {global} to {cluster} in {region}"))
                .await?;
            rds::promote(&clients, global, &target.cluster_arn, how).await?;
            called = true;
            continue;
        }
        if called && !waiting_written {
            sc.after_call(
                format!("{call} accepted; waiting for {cluster} to become the writer"),
                None,
            )
            .await?;
            waiting_written = true;
        }
        poll.next(|| {
            format!(
                "global cluster {global} is {} and {cluster} is not the writer",
                g.status
            )
        })
        .await?;
    }
}

/// Sets the group this step acts on to `(min, desired, max)` unless it is there already. The
/// maximum is never lowered (scaling to zero keeps it). A region that does not answer defers a
/// fence.
async fn set_group_capacity(sc: &StepContext<'_>, (min, desired, max): (i32, i32, i32)) -> Result<Done, StepError> {
    let region = sc.compute_region().to_owned();
    let name = sc.group_in(&region)?;
    let clients = sc.clients(&region);
    let result: Result<Done, StepError> = async {
        let group = autoscaling::describe_groups(&clients, std::slice::from_ref(&name))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| refused(format!("Auto Scaling group {name} not found in {region}")))?;
        let there = if desired == 0 {
            group.min_size == 0 && group.desired_capacity == 0
        } else {
            group.min_size >= min && group.desired_capacity >= desired
        };
        let was = format!("{}/{}/{}", group.min_size, group.desired_capacity, group.max_size);
        if there {
            return Ok(Done::Succeeded(format!("{name} in {region} already at {was}")));
        }
        let max = max.max(group.max_size);
        sc.before_call(format!(
            "UpdateAutoScalingGroup {name} in {region} to {min}/{desired}/{max}"
        ))
        .await?;
        autoscaling::set_capacity(&clients, &name, min, desired, max).await?;
        // Nothing to wait for: the write that marks the step Succeeded is the one after the call.
        Ok(Done::Succeeded(format!(
            "{name} in {region} set to {min}/{desired}/{max} (was {was})"
        )))
    }
    .await;
    defer_if_unreachable(sc, result)
}

/// A deferrable step whose region does not answer is recorded as pending instead of failing.
fn defer_if_unreachable(sc: &StepContext<'_>, result: Result<Done, StepError>) -> Result<Done, StepError> {
    match result {
        Err(e) if e.unreachable && sc.kind.deferrable() => Ok(Done::Deferred(format!(
            "{} does not answer; retrying until it does ({})",
            sc.direction.from, e.message
        ))),
        other => other,
    }
}

async fn wait_targets_healthy(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let region = sc.direction.to.to_owned();
    let name = sc.group_in(&region)?;
    let clients = sc.clients(&region);
    let need = sc.compute()?.auto_scaling_group.failover.min_size.max(1) as usize;
    let poll = Poll::new(HEALTHY_TIMEOUT);
    loop {
        let group = autoscaling::describe_groups(&clients, std::slice::from_ref(&name))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| refused(format!("Auto Scaling group {name} not found in {region}")))?;
        let mut counts = Vec::new();
        if group.target_group_arns.is_empty() {
            counts.push((
                format!("{name} (InService instances)"),
                group.in_service,
                group.instances,
            ));
        }
        for arn in &group.target_group_arns {
            let targets = elbv2::target_health(&clients, arn).await?;
            let healthy = targets.iter().filter(|t| t.state == TargetState::Healthy).count();
            let short = arn.rsplit(':').next().unwrap_or(arn).to_owned();
            counts.push((short, healthy, targets.len()));
        }
        let summary = counts
            .iter()
            .map(|(what, healthy, all)| format!("{healthy}/{all} healthy in {what}"))
            .collect::<Vec<_>>()
            .join(", ");
        if counts.iter().all(|(_, healthy, _)| *healthy >= need) {
            return Ok(Done::Succeeded(summary));
        }
        poll.next(|| format!("{summary}; {need} needed")).await?;
    }
}

async fn switch_traffic(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let r = &sc
        .pl
        .spec
        .traffic
        .as_ref()
        .ok_or_else(|| refused("spec.traffic is not set".into()))?
        .route53;
    let want = traffic::app_record(r, sc.direction.to_standby(&sc.pl.spec));
    point_record(sc, r.hosted_zone_id.as_str(), want).await
}

/// Points `want.name` at `want`'s value and waits until Route 53 reports the change INSYNC. A
/// change journaled by an earlier attempt is waited for, not repeated.
async fn point_record(sc: &StepContext<'_>, zone: &str, want: Record) -> Result<Done, StepError> {
    let global = sc.ctx.aws.global();
    let target = describe_value(&want);
    let change = match sc.journal.operation(sc.kind) {
        Some(change) => change,
        None => {
            let have = route53::record(&global, zone, &want.name, &want.type_).await?;
            if have.as_ref() == Some(&want) {
                return Ok(Done::Succeeded(format!("{} already points to {target}", want.name)));
            }
            sc.before_call(format!("ChangeResourceRecordSets {} -> {target}", want.name))
                .await?;
            let change = route53::upsert_record(
                &global,
                zone,
                &want,
                &format!(
                    "pilot-light {:?} {}",
                    sc.type_,
                    sc.pl.metadata.name.as_deref().unwrap_or_default()
                ),
            )
            .await?;
            // Already propagated: the step's Succeeded write is the one after the call.
            if route53::change_in_sync(&global, &change).await? {
                return Ok(Done::Succeeded(format!(
                    "{} -> {target} (change {change} INSYNC)",
                    want.name
                )));
            }
            sc.after_call(
                format!("{} -> {target} submitted as {change}; waiting for INSYNC", want.name),
                Some(change.clone()),
            )
            .await?;
            change
        }
    };
    // Route 53 allows five requests per second per account, for every PilotLight together.
    let poll = Poll::new(INSYNC_TIMEOUT).at_most_every(Duration::from_secs(1));
    while !route53::change_in_sync(&global, &change).await? {
        poll.next(|| format!("Route 53 change {change} is still PENDING"))
            .await?;
    }
    Ok(Done::Succeeded(format!(
        "{} -> {target} (change {change} INSYNC)",
        want.name
    )))
}

fn describe_value(record: &Record) -> String {
    match &record.value {
        route53::RecordValue::Alias { dns_name, .. } => dns_name.clone(),
        route53::RecordValue::Values { values, .. } => values.join(","),
    }
}

async fn update_endpoints(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let aurora = sc.aurora()?;
    let (region, cluster) = sc.promoted_cluster()?;
    let endpoint = rds::describe_cluster(&sc.clients(region), cluster)
        .await?
        .and_then(|c| c.endpoint)
        .ok_or_else(|| refused(format!("cluster {cluster} in {region} has no endpoint")))?;
    let mut status = sc.pl.status.clone().unwrap_or_default();
    status.active_region = Some(sc.direction.to.to_owned());
    status.database.get_or_insert_with(Default::default).writer_endpoint = Some(endpoint.clone());
    endpoints::apply(&sc.ctx.client, &endpoints::desired(sc.pl, &status)).await?;
    let config_map = format!("ConfigMap {}: activeRegion {}", endpoints::name(sc.pl), sc.direction.to);
    match &aurora.writer_endpoint_record {
        Some(w) => match point_record(sc, w.hosted_zone_id.as_str(), traffic::writer_record(w, &endpoint)).await? {
            Done::Succeeded(m) => Ok(Done::Succeeded(format!("{config_map}; {m}"))),
            deferred => Ok(deferred),
        },
        None => Ok(Done::Succeeded(format!("{config_map}, writer {endpoint}"))),
    }
}

/// The promoted writer gets `promotedInstanceClass`, and `promotedReaders` readers of that class
/// are added (the second seed: "the instance size increased and a DB slave created").
async fn scale_up_database(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let aurora = sc.aurora()?;
    let (region, cluster) = sc.promoted_cluster()?;
    let clients = sc.clients(region);
    let writer = standby_instance_identifier(aurora);
    let class = aurora
        .promoted_instance_class
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_else(|| aurora.standby_instance_class.as_str().to_owned());
    let readers: Vec<String> = (1..=aurora.promoted_readers)
        .map(|i| format!("{cluster}-reader-{i}"))
        .collect();
    let all: Vec<String> = std::iter::once(writer.clone()).chain(readers.iter().cloned()).collect();
    let engine = rds::describe_cluster(&clients, cluster)
        .await?
        .and_then(|c| c.engine)
        .unwrap_or_else(|| "aurora-postgresql".into());
    let poll = Poll::new(DATABASE_SCALE_TIMEOUT);
    loop {
        let instances = rds::describe_instances(&clients, &all).await?;
        let writer_now = instances
            .get(&writer)
            .ok_or_else(|| refused(format!("instance {writer} not found in {region}")))?;
        if writer_now.instance_class.as_deref() != Some(class.as_str()) && writer_now.status == RdsStatus::Available {
            sc.before_call(format!("ModifyDBInstance {writer} to {class}")).await?;
            rds::modify_instance_class(&clients, &writer, &class).await?;
            sc.after_call(format!("{writer} resizing to {class}"), None).await?;
            continue;
        }
        if let Some(missing) = readers.iter().find(|r| !instances.contains_key(*r)) {
            sc.before_call(format!("CreateDBInstance {missing} ({class}) in {cluster}"))
                .await?;
            let owner = crate::api::object_key(sc.pl);
            rds::create_instance(&clients, missing, cluster, &class, &engine, &owner).await?;
            sc.after_call(format!("reader {missing} creating"), None).await?;
            continue;
        }
        let done = instances
            .get(&writer)
            .is_some_and(|w| w.status == RdsStatus::Available && w.instance_class.as_deref() == Some(class.as_str()))
            && readers
                .iter()
                .all(|r| instances.get(r).is_some_and(|i| i.status == RdsStatus::Available));
        if done {
            return Ok(Done::Succeeded(format!(
                "{writer} is {class}; {} reader(s) available",
                readers.len()
            )));
        }
        poll.next(|| format!("{writer} or its readers are not available as {class} yet"))
            .await?;
    }
}

/// Rule id of the reverse replication rule on a destination bucket.
const REVERSE_RULE: &str = "pilot-light-reverse";

/// Replication from each destination bucket back to its source, so that writes made in the new
/// active region reach the old one when it returns. The source buckets are checked first: S3
/// validates the destination, which lives in the old region.
async fn reverse_replication(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let spec = &sc.pl.spec;
    let pairs = spec.storage.as_ref().map(|s| s.s3.as_slice()).unwrap_or_default();
    let old = sc.clients(sc.direction.from);
    let new = sc.clients(sc.direction.to);
    let result: Result<Done, StepError> = async {
        let mut done = Vec::new();
        for pair in pairs {
            let (source, destination) = (pair.destination_bucket.as_str(), pair.source_bucket.as_str());
            if s3::versioning(&old, destination).await?.is_none() {
                return Err(refused(format!(
                    "bucket {destination} not found in {}",
                    sc.direction.from
                )));
            }
            let current = s3::replication(&new, source, REVERSE_RULE).await?;
            if current.as_ref().is_some_and(|c| c.managed.is_some()) {
                done.push(format!("{source} -> {destination} (already)"));
                continue;
            }
            let rule = s3::ManagedRule {
                id: REVERSE_RULE.into(),
                enabled: true,
                destination_bucket: destination.to_owned(),
                storage_class: pair.storage_class.as_str().to_owned(),
                delete_marker_replication: pair.delete_marker_replication,
                replication_time_control: false,
            };
            let others = current.map(|c| c.other_rules).unwrap_or_default();
            sc.before_call(format!("PutBucketReplication {source} -> {destination}"))
                .await?;
            // The next pair's write, or the step's Succeeded write, is the one after this call.
            s3::put_replication(&new, source, pair.replication_role_arn.as_str(), &rule, &others).await?;
            done.push(format!("{source} -> {destination}"));
        }
        Ok(Done::Succeeded(format!("replicating {}", done.join(", "))))
    }
    .await;
    defer_if_unreachable(sc, result)
}

/// An HTTP GET of the standby endpoint; three attempts a second apart.
async fn smoke_test(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let test = &sc.pl.spec.failover.smoke_test;
    let base = match (&test.url, &sc.pl.spec.traffic) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(t)) => format!(
            "https://{}",
            t.route53.standby_target.dns_name.as_str().trim_end_matches('.')
        ),
        (None, None) => return Err(refused("no smokeTest.url and no traffic.route53.standbyTarget".into())),
    };
    let url = format!("{base}{}", test.path);
    let timeout = test
        .timeout
        .to_duration()
        .map_err(|e| refused(format!("smokeTest.timeout: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| refused(format!("HTTP client: {e}")))?;
    let mut last = String::new();
    for attempt in 1..=3 {
        let started = Instant::now();
        match client.get(&url).send().await {
            Ok(response) if response.status().as_u16() == test.expected_status => {
                return Ok(Done::Succeeded(format!(
                    "GET {url} answered {} in {} ms",
                    response.status().as_u16(),
                    started.elapsed().as_millis()
                )));
            }
            Ok(response) => {
                last = format!(
                    "GET {url} answered {}, expected {}",
                    response.status().as_u16(),
                    test.expected_status
                )
            }
            Err(e) => last = format!("GET {url} failed: {e}"),
        }
        if attempt < 3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Err(refused(last))
}
