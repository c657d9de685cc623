//! `make bench-failover`: how fast FailoverRequests run, against what the same work costs without
//! the operator. One PilotLight with every component (`failover_setup`), the operator's
//! controllers in this process (`common::Operator`), the emulator's call log.
//!
//! (a) Instant emulated operations: K Switchovers (each followed by a Failback), timed from the
//!     client's create call until the client's watch sees `Succeeded`, against the same AWS calls
//!     (taken from the call log of that request) replayed in a straight line with the SDK from the
//!     same starting state.
//! (b) Real-world durations scaled by `PILOT_LIGHT_BENCH_SCALE` (default 1/20): the RTO of an
//!     unplanned Failover against the seed article's Lambda order (failover, wait; scale up, wait
//!     with a 15 s waiter; DNS, wait), done sequentially with the SDK.
//!
//! It prints numbers and fails (panics) if any request does not reach `Succeeded`.
//! Environment: `PILOT_LIGHT_BENCH_SCALE` (e.g. `0.05` or `1/20`), `PILOT_LIGHT_BENCH_REPEATS`
//! (K of (a), default 10), `PILOT_LIGHT_BENCH_RUNS` (runs of (b), default 3),
//! `PILOT_LIGHT_BENCH_PARTS` (`a`, `b` or `ab`, default `ab`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use common::{failover::*, *};
use futures::StreamExt;
use kube::{
    Api,
    api::PostParams,
    runtime::{WatchStreamExt, watcher},
};
use pilot_light::{
    api::{FailoverRequest, FailoverRequestStatus, RequestPhase, StepState},
    config::{CheckIntervals, Settings},
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const PRIMARY: &str = "us-east-1";
const STANDBY: &str = "us-west-2";
const FINAL: &[RequestPhase] = &[
    RequestPhase::Succeeded,
    RequestPhase::Failed,
    RequestPhase::Rejected,
    RequestPhase::Cancelled,
];
/// Rule id of the operator's reverse replication rule (src/failover/steps.rs).
const REVERSE_RULE: &str = "pilot-light-reverse";

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn env_number(name: &str, default: f64) -> f64 {
    let Ok(raw) = std::env::var(name) else {
        return default;
    };
    let parsed = match raw.split_once('/') {
        Some((a, b)) => a
            .trim()
            .parse::<f64>()
            .ok()
            .zip(b.trim().parse::<f64>().ok())
            .map(|(a, b)| a / b),
        None => raw.trim().parse().ok(),
    };
    match parsed {
        Some(v) if v > 0.0 && v.is_finite() => v,
        _ => panic!("{name}={raw}: expected a positive number or a fraction like 1/20"),
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile.
fn percentile(xs: &[f64], p: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Watching FailoverRequests from the client's side

/// Per step: seconds after the create call at which the watch first saw it running, and
/// succeeded.
type StepTimes = BTreeMap<String, (Option<f64>, Option<f64>)>;

/// One watch event as the client saw it.
struct Seen {
    at: Instant,
    request: FailoverRequest,
}

/// A watch on the namespace's FailoverRequests; keeps every event per request.
struct Observer {
    rx: mpsc::UnboundedReceiver<Seen>,
    seen: HashMap<String, Vec<Seen>>,
}

impl Observer {
    async fn start(api: Api<FailoverRequest>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut stream = watcher(api, watcher::Config::default()).default_backoff().boxed();
            while let Some(event) = stream.next().await {
                match event {
                    Ok(watcher::Event::Apply(r) | watcher::Event::InitApply(r)) => {
                        let _ = tx.send(Seen {
                            at: Instant::now(),
                            request: r,
                        });
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("FailoverRequest watch: {e}"),
                }
            }
        });
        ready_rx.await.expect("FailoverRequest watch started");
        Self {
            rx,
            seen: HashMap::new(),
        }
    }

    /// The first event of `name` that satisfies `done`: when the client saw it, and the object.
    async fn wait(
        &mut self,
        name: &str,
        timeout: Duration,
        done: impl Fn(&FailoverRequest) -> bool,
    ) -> (Instant, FailoverRequest) {
        if let Some(s) = self.seen.get(name).and_then(|v| v.iter().find(|s| done(&s.request))) {
            return (s.at, s.request.clone());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let seen = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(seen)) => seen,
                Ok(None) => panic!("the FailoverRequest watch ended"),
                Err(_) => panic!(
                    "FailoverRequest {name}: not done within {timeout:?}; last seen: {:#?}",
                    self.seen
                        .get(name)
                        .and_then(|v| v.last())
                        .and_then(|s| s.request.status.clone())
                ),
            };
            let key = seen.request.metadata.name.clone().unwrap_or_default();
            let hit = (key == name && done(&seen.request)).then(|| (seen.at, seen.request.clone()));
            self.seen.entry(key).or_default().push(seen);
            if let Some(hit) = hit {
                return hit;
            }
        }
    }

    fn history(&self, name: &str) -> &[Seen] {
        self.seen.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// How many times the client saw the status of `name` change up to `until`: the status
    /// writes that reached it (the watch delivers every change).
    fn status_writes(&self, name: &str, until: Instant) -> usize {
        let mut previous: Option<Value> = None;
        let mut writes = 0;
        for s in self.history(name).iter().filter(|s| s.at <= until) {
            let status = serde_json::to_value(&s.request.status).unwrap();
            if let Some(p) = &previous
                && *p != status
            {
                writes += 1;
            }
            previous = Some(status);
        }
        writes
    }

    /// Seconds after `t0` at which each step was first seen Running (or past it) and first seen
    /// Succeeded, and when the request was first seen Running.
    fn step_times(&self, name: &str, t0: Instant) -> (Option<f64>, StepTimes) {
        let mut running = None;
        let mut steps = StepTimes::new();
        for s in self.history(name) {
            let at = s.at.saturating_duration_since(t0).as_secs_f64();
            let Some(status) = &s.request.status else {
                continue;
            };
            if status.phase == Some(RequestPhase::Running) && running.is_none() {
                running = Some(at);
            }
            for step in &status.steps {
                let entry = steps.entry(step.name.clone()).or_default();
                if step.state != StepState::Pending && entry.0.is_none() {
                    entry.0 = Some(at);
                }
                if step.state == StepState::Succeeded && entry.1.is_none() {
                    entry.1 = Some(at);
                }
            }
        }
        (running, steps)
    }
}

// ---------------------------------------------------------------------------------------------
// The call log

struct CallLog {
    emulator: Emulator,
    mark: u64,
}

impl CallLog {
    async fn new() -> Self {
        let emulator = Emulator::new();
        let mark = emulator.calls_since(0).await.last().map_or(0, |c| c.seq);
        Self { emulator, mark }
    }

    /// Calls since the last call of this method (or creation).
    async fn advance(&mut self) -> Vec<Call> {
        let calls = self.emulator.calls_since(self.mark).await;
        if let Some(last) = calls.last() {
            self.mark = last.seq;
        }
        calls
    }

    /// Waits until `app` made no call for `period` (at most `limit`); returns whether it did.
    async fn quiet(&mut self, app: &str, period: Duration, limit: Duration) -> bool {
        self.advance().await;
        let deadline = Instant::now() + limit;
        loop {
            tokio::time::sleep(period).await;
            let calls = self.advance().await;
            if !calls.iter().any(|c| c.app.as_deref() == Some(app)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
        }
    }
}

/// Whether durations JSON `a` equals `b` (numbers compared as floats).
fn same_durations(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return false;
    };
    a.len() == b.len()
        && a.iter().all(|(k, v)| {
            b.get(k)
                .and_then(Value::as_f64)
                .zip(v.as_f64())
                .is_some_and(|(x, y)| (x - y).abs() < 1e-9)
        })
}

/// Sets `durations`, and waits (up to 10 min) until nobody else's fault rules are in effect.
async fn take_emulator(log: &CallLog, durations: &Value) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let faults = log.emulator.faults().await;
        if faults.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "fault rules of someone else's tests stayed in effect for 10 min: {faults:?}"
        );
        println!("  (waiting: someone else's fault rules are in effect: {faults:?})");
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    log.emulator.set_durations(durations.clone()).await;
}

/// Whether the emulator still has `durations` and no fault rules: else a measurement was disturbed.
async fn undisturbed(log: &CallLog, durations: &Value) -> bool {
    let now = log.emulator.durations().await;
    let faults = log.emulator.faults().await;
    let ok = same_durations(&now, durations) && faults.is_empty();
    if !ok {
        println!("  DISTURBED: durations now {now}, faults {faults:?}; measuring again");
    }
    ok
}

// ---------------------------------------------------------------------------------------------
// The world: names, SDK clients, AWS state

struct World {
    global: String,
    cluster: HashMap<&'static str, String>,
    cluster_arn: HashMap<&'static str, String>,
    /// Writer endpoints, as the operator writes them into the db CNAME.
    endpoint: HashMap<&'static str, String>,
    group: HashMap<&'static str, String>,
    target_group: HashMap<&'static str, Option<String>>,
    bucket: HashMap<&'static str, String>,
    alb_dns: HashMap<&'static str, String>,
    alb_zone: HashMap<&'static str, String>,
    zone: String,
    app_record: String,
    db_record: String,
    role_arn: String,
    /// `spec.compute.autoScalingGroup.failover`: (min, desired, max).
    failover_sizes: (i32, i32, i32),
}

fn other(region: &str) -> &'static str {
    if region == PRIMARY { STANDBY } else { PRIMARY }
}

fn region_key(region: &str) -> &'static str {
    match region {
        PRIMARY => PRIMARY,
        STANDBY => STANDBY,
        other => panic!("unexpected region {other}"),
    }
}

/// SDK clients straight to the emulator, built once (outside every timed section).
struct Sdk {
    rds: HashMap<&'static str, aws_sdk_rds::Client>,
    autoscaling: HashMap<&'static str, aws_sdk_autoscaling::Client>,
    elbv2: HashMap<&'static str, aws_sdk_elasticloadbalancingv2::Client>,
    ec2: HashMap<&'static str, aws_sdk_ec2::Client>,
    s3: HashMap<&'static str, aws_sdk_s3::Client>,
    route53: aws_sdk_route53::Client,
}

impl Sdk {
    async fn new() -> Self {
        let mut sdk = Self {
            rds: HashMap::new(),
            autoscaling: HashMap::new(),
            elbv2: HashMap::new(),
            ec2: HashMap::new(),
            s3: HashMap::new(),
            route53: route53().await,
        };
        for region in [PRIMARY, STANDBY] {
            sdk.rds.insert(region, rds(region).await);
            sdk.autoscaling.insert(region, autoscaling(region).await);
            sdk.elbv2.insert(region, elbv2(region).await);
            sdk.ec2.insert(region, ec2(region).await);
            sdk.s3.insert(region, s3(region).await);
        }
        sdk
    }
}

/// What a switchover or failover changes in AWS, read outside the timed sections.
#[derive(Clone, Debug, PartialEq)]
struct AwsState {
    writer_region: String,
    standby_group: (i32, i32, i32),
    primary_group: (i32, i32, i32),
    /// Healthy targets of the standby group's target group.
    standby_healthy: usize,
    app_record: Option<String>,
    db_record: Option<String>,
    reverse_rule: bool,
}

async fn aws_state(w: &World, sdk: &Sdk) -> AwsState {
    let tg = w.target_group[STANDBY].as_deref().unwrap();
    let healthy = sdk.elbv2[STANDBY]
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .expect("describe target health")
        .target_health_descriptions()
        .iter()
        .filter(|d| d.target_health().and_then(|h| h.state()).map(|s| s.as_str()) == Some("healthy"))
        .count();
    let reverse_rule = sdk.s3[STANDBY]
        .get_bucket_replication()
        .bucket(&w.bucket[STANDBY])
        .send()
        .await
        .ok()
        .and_then(|o| o.replication_configuration().cloned())
        .is_some_and(|c| c.rules().iter().any(|r| r.id() == Some(REVERSE_RULE)));
    AwsState {
        writer_region: writer(&w.global).await.0,
        standby_group: capacity(STANDBY, &w.group[STANDBY]).await,
        primary_group: capacity(PRIMARY, &w.group[PRIMARY]).await,
        standby_healthy: healthy,
        app_record: record_target(&w.zone, &w.app_record, "A").await,
        db_record: record_target(&w.zone, &w.db_record, "CNAME").await,
        reverse_rule,
    }
}

/// Removes the reverse replication rule (the standby bucket has no other), so that every
/// switchover writes it, as the first one does.
async fn remove_reverse_rule(w: &World, sdk: &Sdk) {
    let _ = sdk.s3[STANDBY]
        .delete_bucket_replication()
        .bucket(&w.bucket[STANDBY])
        .send()
        .await;
}

async fn world(s: &Scenario, setup: &FailoverSetup, sdk: &Sdk) -> World {
    let seed = seed();
    let full = &setup.full;
    let mut w = World {
        global: s.names.global.clone(),
        cluster: HashMap::from([(PRIMARY, s.names.primary.clone()), (STANDBY, s.names.standby.clone())]),
        cluster_arn: HashMap::new(),
        endpoint: HashMap::new(),
        group: HashMap::from([(PRIMARY, setup.primary_asg.clone()), (STANDBY, full.asg.clone())]),
        target_group: HashMap::from([(PRIMARY, None), (STANDBY, Some(setup.target_group.clone()))]),
        bucket: HashMap::from([
            (PRIMARY, full.primary_bucket.clone()),
            (STANDBY, full.standby_bucket.clone()),
        ]),
        alb_dns: HashMap::new(),
        alb_zone: HashMap::new(),
        zone: full.zone.clone(),
        app_record: format!("api.{}", full.domain).to_ascii_lowercase(),
        db_record: format!("db.{}", full.domain).to_ascii_lowercase(),
        role_arn: seed["replicationRoleArn"].as_str().unwrap().to_owned(),
        failover_sizes: {
            let f = &s.manifest["spec"]["compute"]["autoScalingGroup"]["failover"];
            let n = |k: &str| f[k].as_i64().unwrap() as i32;
            (n("minSize"), n("desiredCapacity"), n("maxSize"))
        },
    };
    for region in [PRIMARY, STANDBY] {
        let out = sdk.rds[region]
            .describe_db_clusters()
            .db_cluster_identifier(&w.cluster[region])
            .send()
            .await
            .expect("describe cluster");
        let c = &out.db_clusters()[0];
        w.cluster_arn.insert(region, c.db_cluster_arn().unwrap().to_owned());
        w.endpoint
            .insert(region, c.endpoint().unwrap().trim_end_matches('.').to_ascii_lowercase());
        w.alb_dns.insert(
            region,
            seed["alb"][region]["dnsName"]
                .as_str()
                .unwrap()
                .trim_end_matches('.')
                .to_ascii_lowercase(),
        );
        w.alb_zone.insert(
            region,
            seed["alb"][region]["canonicalHostedZoneId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    w
}

// ---------------------------------------------------------------------------------------------
// Requests through the operator

/// The AWS operations the failover engine makes for a request of `type_` (src/failover/): every
/// other call of the operator's app in a request's window is convergence.
fn engine_call(type_: &str, c: &Call) -> bool {
    matches!(
        (c.service.as_str(), c.action.as_str()),
        ("ec2", "DescribeAvailabilityZones")
            | (
                "rds",
                "DescribeGlobalClusters" | "SwitchoverGlobalCluster" | "FailoverGlobalCluster" | "DescribeDBClusters"
            )
            | ("autoscaling", "DescribeAutoScalingGroups" | "UpdateAutoScalingGroup")
            | ("elasticloadbalancing", "DescribeTargetHealth")
            | (
                "route53",
                "ListResourceRecordSets" | "ChangeResourceRecordSets" | "GetChange"
            )
            | (
                "s3",
                "GetBucketVersioning" | "GetBucketReplication" | "PutBucketReplication"
            )
    ) || (type_ == "Failover" && c.service == "monitoring" && c.action == "GetMetricData")
}

struct RequestRun {
    name: String,
    t0: Instant,
    /// Epoch seconds of the create call.
    created_wall: f64,
    /// Create call until the client saw `Succeeded`.
    elapsed: Duration,
    /// The engine's AWS calls for this request, in log order.
    calls: Vec<Call>,
    /// The operator's other calls in the window (convergence).
    excluded: Vec<Call>,
    status_writes: usize,
    status: FailoverRequestStatus,
    creation: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

async fn run_request(
    s: &Scenario,
    obs: &mut Observer,
    log: &mut CallLog,
    app: &str,
    name: &str,
    type_: &str,
    timeout: Duration,
) -> RequestRun {
    log.advance().await;
    let created_wall = epoch_now();
    let t0 = Instant::now();
    create_request(s, name, type_, json!({})).await;
    let (at, r) = obs
        .wait(name, timeout, |r| phase(r).is_some_and(|p| FINAL.contains(&p)))
        .await;
    let done_wall = created_wall + at.duration_since(t0).as_secs_f64();
    let status = r.status.clone().unwrap_or_default();
    assert_eq!(
        status.phase,
        Some(RequestPhase::Succeeded),
        "{type_} {name} did not succeed: {status:#?}"
    );
    let window: Vec<Call> = log
        .advance()
        .await
        .into_iter()
        .filter(|c| c.app.as_deref() == Some(app) && c.time >= created_wall && c.time <= done_wall)
        .collect();
    let (calls, excluded): (Vec<_>, Vec<_>) = window.into_iter().partition(|c| engine_call(type_, c));
    for c in &calls {
        assert!(
            c.outcome == "ok" || (c.action == "GetBucketReplication" && c.outcome == "error"),
            "{name}: the operator's call {} {} {} ended {}: disturbed by someone's fault rules?",
            c.region,
            c.service,
            c.action,
            c.outcome
        );
    }
    RequestRun {
        name: name.to_owned(),
        t0,
        created_wall,
        elapsed: at.duration_since(t0),
        calls,
        excluded,
        status_writes: obs.status_writes(name, at),
        status,
        creation: r.metadata.creation_timestamp.clone(),
    }
}

/// Waits until the PilotLight knows the outcome of `request` (active region `active`) and is
/// Ready, then until its convergence has gone quiet.
async fn settle(s: &Scenario, log: &mut CallLog, app: &str, active: &str, request: &str) {
    eventually(Duration::from_secs(120), || async {
        let st = pilotlight(s).await.status?;
        let ready = st.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
        (ready && st.active_region.as_deref() == Some(active) && st.last_failover.as_ref()?.request_name == request)
            .then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("PilotLight not Ready and active in {active} after {request} within 120 s"));
    if !log
        .quiet(app, Duration::from_millis(750), Duration::from_secs(30))
        .await
    {
        println!("  (the operator kept calling AWS for 30 s after {request})");
    }
}

/// A call-log summary: "N calls: action x count, ...".
fn summary(calls: &[Call]) -> String {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for c in calls {
        *by.entry(format!("{} {}", c.region, c.action)).or_default() += 1;
    }
    format!(
        "{} calls: {}",
        calls.len(),
        by.iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The application record as an alias to `region`'s ALB.
fn alias_record(w: &World, region: &str, evaluate_target_health: bool) -> aws_sdk_route53::types::ResourceRecordSet {
    use aws_sdk_route53::types::{AliasTarget, ResourceRecordSet, RrType};
    ResourceRecordSet::builder()
        .name(&w.app_record)
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&w.alb_zone[region])
                .dns_name(&w.alb_dns[region])
                .evaluate_target_health(evaluate_target_health)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The straight line: the operator's calls replayed with the SDK

/// Replays `calls` (one request's, in log order) one after the other with the same parameters,
/// for a request moving the application to `to`. Returns the time from the first call's start
/// to the last call's end and the number of calls.
async fn replay(calls: &[Call], to: &'static str, w: &World, sdk: &Sdk, comment: &str) -> (Duration, usize) {
    use aws_sdk_route53::types::{ChangeStatus, ResourceRecord, ResourceRecordSet, RrType};
    use aws_sdk_s3::types::{
        DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, ReplicationConfiguration, ReplicationRule,
        ReplicationRuleFilter, ReplicationRuleStatus, StorageClass,
    };
    let app_record = || alias_record(w, to, false);
    let db_record = || {
        ResourceRecordSet::builder()
            .name(&w.db_record)
            .r#type(RrType::Cname)
            .ttl(60)
            .resource_records(ResourceRecord::builder().value(&w.endpoint[to]).build().unwrap())
            .build()
            .unwrap()
    };
    let (mut lists, mut changes) = (0usize, 0usize);
    let mut pending: VecDeque<String> = VecDeque::new();
    let mut max_size: HashMap<&str, i32> = HashMap::new();
    let started = Instant::now();
    for c in calls {
        let r = region_key(&c.region);
        let ok = match (c.service.as_str(), c.action.as_str()) {
            ("ec2", "DescribeAvailabilityZones") => sdk.ec2[r].describe_availability_zones().send().await.is_ok(),
            ("rds", "DescribeGlobalClusters") => sdk.rds[r]
                .describe_global_clusters()
                .max_records(100)
                .send()
                .await
                .is_ok(),
            ("rds", "SwitchoverGlobalCluster") => sdk.rds[r]
                .switchover_global_cluster()
                .global_cluster_identifier(&w.global)
                .target_db_cluster_identifier(&w.cluster_arn[r])
                .send()
                .await
                .is_ok(),
            ("rds", "FailoverGlobalCluster") => sdk.rds[r]
                .failover_global_cluster()
                .global_cluster_identifier(&w.global)
                .target_db_cluster_identifier(&w.cluster_arn[r])
                .allow_data_loss(true)
                .send()
                .await
                .is_ok(),
            ("rds", "DescribeDBClusters") => sdk.rds[r]
                .describe_db_clusters()
                .db_cluster_identifier(&w.cluster[r])
                .send()
                .await
                .is_ok(),
            ("autoscaling", "DescribeAutoScalingGroups") => {
                let out = sdk.autoscaling[r]
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(&w.group[r])
                    .send()
                    .await;
                if let Some(g) = out.as_ref().ok().and_then(|o| o.auto_scaling_groups().first()) {
                    max_size.insert(r, g.max_size().unwrap_or_default());
                }
                out.is_ok()
            }
            ("autoscaling", "UpdateAutoScalingGroup") => {
                // As the engine does: the target region's group to the failover sizes, any
                // other to zero; the maximum is never lowered.
                let have = max_size.get(r).copied().unwrap_or_default();
                let (min, desired, max) = if r == to {
                    let (min, desired, max) = w.failover_sizes;
                    (min, desired, max.max(have))
                } else {
                    (0, 0, have)
                };
                sdk.autoscaling[r]
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(&w.group[r])
                    .min_size(min)
                    .desired_capacity(desired)
                    .max_size(max)
                    .send()
                    .await
                    .is_ok()
            }
            ("elasticloadbalancing", "DescribeTargetHealth") => {
                let tg = w.target_group[r]
                    .as_deref()
                    .unwrap_or_else(|| panic!("the group in {r} has no target group"));
                sdk.elbv2[r]
                    .describe_target_health()
                    .target_group_arn(tg)
                    .send()
                    .await
                    .is_ok()
            }
            ("route53", "ListResourceRecordSets") => {
                let (name, type_) = if lists.is_multiple_of(2) {
                    (&w.app_record, RrType::A)
                } else {
                    (&w.db_record, RrType::Cname)
                };
                lists += 1;
                sdk.route53
                    .list_resource_record_sets()
                    .hosted_zone_id(&w.zone)
                    .start_record_name(name)
                    .start_record_type(type_)
                    .max_items(1)
                    .send()
                    .await
                    .is_ok()
            }
            ("route53", "ChangeResourceRecordSets") => {
                let record = if changes.is_multiple_of(2) {
                    app_record()
                } else {
                    db_record()
                };
                changes += 1;
                let out = upsert_record(&sdk.route53, &w.zone, record, comment).await;
                if let Some(info) = out.as_ref().ok().and_then(|o| o.change_info()) {
                    pending.push_back(info.id().to_owned());
                }
                out.is_ok()
            }
            ("route53", "GetChange") => {
                let id = pending.front().cloned().expect("a change to wait for");
                let out = sdk.route53.get_change().id(&id).send().await;
                if out
                    .as_ref()
                    .ok()
                    .and_then(|o| o.change_info())
                    .is_some_and(|i| i.status() == &ChangeStatus::Insync)
                {
                    pending.pop_front();
                }
                out.is_ok()
            }
            ("s3", "GetBucketVersioning") => sdk.s3[r]
                .get_bucket_versioning()
                .bucket(&w.bucket[r])
                .send()
                .await
                .is_ok(),
            ("s3", "GetBucketReplication") => sdk.s3[r]
                .get_bucket_replication()
                .bucket(&w.bucket[r])
                .send()
                .await
                .is_ok(),
            ("s3", "PutBucketReplication") => {
                let rule = ReplicationRule::builder()
                    .id(REVERSE_RULE)
                    .priority(1)
                    .filter(ReplicationRuleFilter::builder().prefix("").build())
                    .status(ReplicationRuleStatus::Enabled)
                    .destination(
                        Destination::builder()
                            .bucket(format!("arn:aws:s3:::{}", w.bucket[other(r)]))
                            .storage_class(StorageClass::Standard)
                            .build()
                            .unwrap(),
                    )
                    .delete_marker_replication(
                        DeleteMarkerReplication::builder()
                            .status(DeleteMarkerReplicationStatus::Enabled)
                            .build(),
                    )
                    .build()
                    .unwrap();
                sdk.s3[r]
                    .put_bucket_replication()
                    .bucket(&w.bucket[r])
                    .replication_configuration(
                        ReplicationConfiguration::builder()
                            .role(&w.role_arn)
                            .rules(rule)
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await
                    .is_ok()
            }
            (service, action) => panic!("no straight-line replay for {service} {action}"),
        };
        assert_eq!(
            ok,
            c.outcome == "ok",
            "replayed {} {} {}: outcome differs from the operator's ({})",
            c.region,
            c.service,
            c.action,
            c.outcome
        );
    }
    (started.elapsed(), calls.len())
}

// ---------------------------------------------------------------------------------------------
// The seed article's Lambda, sequentially with boto3-style waiters

struct SeedRun {
    promoted: Duration,
    healthy: Duration,
    in_sync: Duration,
    calls: usize,
}

/// Polls `check` as a boto3 waiter does: at once, then every `delay`.
async fn waiter<F, Fut>(delay: Duration, calls: &mut usize, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        *calls += 1;
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "seed order: {what} not reached in 30 min");
        tokio::time::sleep(delay).await;
    }
}

async fn seed_order(w: &World, sdk: &Sdk, delay: Duration) -> SeedRun {
    use aws_sdk_route53::types::ChangeStatus;
    let mut calls = 0;
    let t0 = Instant::now();
    calls += 1;
    sdk.rds[STANDBY]
        .failover_global_cluster()
        .global_cluster_identifier(&w.global)
        .target_db_cluster_identifier(&w.cluster_arn[STANDBY])
        .allow_data_loss(true)
        .send()
        .await
        .expect("seed order: FailoverGlobalCluster");
    waiter(delay, &mut calls, "the standby as writer", || async {
        let out = sdk.rds[STANDBY]
            .describe_global_clusters()
            .global_cluster_identifier(&w.global)
            .send()
            .await
            .expect("seed order: DescribeGlobalClusters");
        out.global_clusters()[0]
            .global_cluster_members()
            .iter()
            .any(|m| m.is_writer() == Some(true) && m.db_cluster_arn() == Some(w.cluster_arn[STANDBY].as_str()))
    })
    .await;
    let promoted = t0.elapsed();
    let (min, desired, max) = w.failover_sizes;
    calls += 1;
    sdk.autoscaling[STANDBY]
        .update_auto_scaling_group()
        .auto_scaling_group_name(&w.group[STANDBY])
        .min_size(min)
        .desired_capacity(desired)
        .max_size(max)
        .send()
        .await
        .expect("seed order: UpdateAutoScalingGroup");
    let tg = w.target_group[STANDBY].clone().unwrap();
    waiter(delay, &mut calls, "healthy targets", || async {
        let out = sdk.elbv2[STANDBY]
            .describe_target_health()
            .target_group_arn(&tg)
            .send()
            .await
            .expect("seed order: DescribeTargetHealth");
        let healthy = out
            .target_health_descriptions()
            .iter()
            .filter(|d| d.target_health().and_then(|h| h.state()).map(|s| s.as_str()) == Some("healthy"))
            .count();
        healthy >= min as usize
    })
    .await;
    let healthy = t0.elapsed();
    calls += 1;
    let change = upsert_record(&sdk.route53, &w.zone, alias_record(w, STANDBY, true), "seed order")
        .await
        .expect("seed order: ChangeResourceRecordSets");
    let id = change.change_info().unwrap().id().to_owned();
    waiter(delay, &mut calls, "INSYNC", || async {
        let out = sdk
            .route53
            .get_change()
            .id(&id)
            .send()
            .await
            .expect("seed order: GetChange");
        out.change_info().is_some_and(|i| i.status() == &ChangeStatus::Insync)
    })
    .await;
    SeedRun {
        promoted,
        healthy,
        in_sync: t0.elapsed(),
        calls,
    }
}

/// Undoes the seed order with the SDK (durations instant): writer back to the primary, the
/// standby group to 0/0, the application record back on the primary ALB.
async fn undo_seed_order(w: &World, sdk: &Sdk) {
    sdk.rds[PRIMARY]
        .switchover_global_cluster()
        .global_cluster_identifier(&w.global)
        .target_db_cluster_identifier(&w.cluster_arn[PRIMARY])
        .send()
        .await
        .expect("switch the writer back");
    eventually(Duration::from_secs(30), || async {
        (writer(&w.global).await.0 == PRIMARY).then_some(())
    })
    .await
    .expect("writer back in the primary region");
    sdk.autoscaling[STANDBY]
        .update_auto_scaling_group()
        .auto_scaling_group_name(&w.group[STANDBY])
        .min_size(0)
        .desired_capacity(0)
        .max_size(w.failover_sizes.2)
        .send()
        .await
        .expect("standby group to zero");
    upsert_record(
        &sdk.route53,
        &w.zone,
        alias_record(w, PRIMARY, false),
        "undo the seed order",
    )
    .await
    .expect("application record back on the primary");
}

// ---------------------------------------------------------------------------------------------

struct Bench {
    s: Scenario,
    app: String,
    w: World,
    sdk: Sdk,
    obs: Observer,
    log: CallLog,
}

/// The state every measured request starts from: writer in the primary region, the standby
/// group dormant, traffic and the db CNAME on the primary, no reverse rule.
fn start_state(w: &World) -> AwsState {
    AwsState {
        writer_region: PRIMARY.into(),
        standby_group: (0, 0, w.failover_sizes.2),
        primary_group: (w.failover_sizes.0, w.failover_sizes.1, w.failover_sizes.2),
        standby_healthy: 0,
        app_record: Some(w.alb_dns[PRIMARY].clone()),
        db_record: Some(w.endpoint[PRIMARY].clone()),
        reverse_rule: false,
    }
}

async fn part_a(b: &mut Bench, repeats: usize) {
    let instant = json!({});
    println!("\n(a) Switchover with instant emulated operations (durations {{}}): {repeats} measured + 1 warm-up");
    let mut ours = Vec::new();
    let mut straight = Vec::new();
    let mut ours_fb = Vec::new();
    let mut straight_fb = Vec::new();
    let mut ours_calls = Vec::new();
    let mut straight_calls = Vec::new();
    let mut writes = Vec::new();
    let mut admissions = Vec::new();
    let mut tails = Vec::new();
    let mut aws_ms = Vec::new();
    let mut excluded_total: Vec<String> = Vec::new();
    let mut last_status = None;
    let mut i = 0;
    let mut attempt = 0;
    while i <= repeats {
        attempt += 1;
        assert!(attempt <= repeats + 10, "too many disturbed iterations");
        let warmup = i == 0;
        take_emulator(&b.log, &instant).await;
        remove_reverse_rule(&b.w, &b.sdk).await;
        let start = aws_state(&b.w, &b.sdk).await;
        assert_eq!(
            start,
            start_state(&b.w),
            "iteration {i} does not start from the start state"
        );

        // Ours: Switchover, then Failback.
        let sw = run_request(
            &b.s,
            &mut b.obs,
            &mut b.log,
            &b.app,
            &format!("sw-{attempt}"),
            "Switchover",
            Duration::from_secs(120),
        )
        .await;
        let moved = aws_state(&b.w, &b.sdk).await;
        settle(&b.s, &mut b.log, &b.app, STANDBY, &sw.name).await;
        let fb = run_request(
            &b.s,
            &mut b.obs,
            &mut b.log,
            &b.app,
            &format!("fb-{attempt}"),
            "Failback",
            Duration::from_secs(120),
        )
        .await;
        let back = aws_state(&b.w, &b.sdk).await;
        settle(&b.s, &mut b.log, &b.app, PRIMARY, &fb.name).await;

        // The straight line: the same calls, from the same state.
        remove_reverse_rule(&b.w, &b.sdk).await;
        assert_eq!(
            aws_state(&b.w, &b.sdk).await,
            start,
            "the straight line starts elsewhere"
        );
        let (line, line_calls) = replay(&sw.calls, STANDBY, &b.w, &b.sdk, "pilot-light Switchover app").await;
        let line_moved = aws_state(&b.w, &b.sdk).await;
        let (line_fb, _) = replay(&fb.calls, PRIMARY, &b.w, &b.sdk, "pilot-light Failback app").await;
        let line_back = aws_state(&b.w, &b.sdk).await;
        assert_eq!(
            line_moved, moved,
            "the straight-line switchover moved AWS elsewhere than ours"
        );
        assert_eq!(
            line_back, back,
            "the straight-line failback moved AWS elsewhere than ours"
        );
        let pl = pilotlight(&b.s).await.status.unwrap_or_default();
        assert_eq!(
            pl.active_region.as_deref(),
            Some(PRIMARY),
            "convergence moved during the straight line"
        );

        if !undisturbed(&b.log, &instant).await {
            continue;
        }
        let first = sw.calls.first().map(|c| c.time).unwrap_or(sw.created_wall);
        let last_end = sw
            .calls
            .iter()
            .map(|c| c.time + c.duration_ms.unwrap_or_default() / 1000.0)
            .fold(first, f64::max);
        let admission = (first - sw.created_wall) * 1000.0;
        let tail = (sw.created_wall + sw.elapsed.as_secs_f64() - last_end) * 1000.0;
        let aws: f64 = sw.calls.iter().filter_map(|c| c.duration_ms).sum();
        println!(
            "  {} {}: ours {:6.1} ms ({} calls, {} status writes; first AWS call after {:.1} ms, Succeeded seen {:.1} ms after the last call ended) | straight line {:6.1} ms ({} calls) | failback: ours {:.1} ms, straight {:.1} ms",
            if warmup { "warm-up" } else { "iteration" },
            if warmup { 0 } else { i },
            ms(sw.elapsed),
            sw.calls.len(),
            sw.status_writes,
            admission,
            tail,
            ms(line),
            line_calls,
            ms(fb.elapsed),
            ms(line_fb),
        );
        if !sw.excluded.is_empty() || !fb.excluded.is_empty() {
            println!(
                "    excluded as convergence: switchover {}; failback {}",
                summary(&sw.excluded),
                summary(&fb.excluded)
            );
        }
        if i == 1 {
            println!("    the switchover's AWS calls: {}", summary(&sw.calls));
            println!("    the failback's AWS calls:   {}", summary(&fb.calls));
            if std::env::var_os("PILOT_LIGHT_BENCH_TIMELINE").is_some() {
                timeline(&b.obs, &sw);
            }
        }
        if !warmup {
            ours.push(ms(sw.elapsed));
            straight.push(ms(line));
            ours_fb.push(ms(fb.elapsed));
            straight_fb.push(ms(line_fb));
            ours_calls.push(sw.calls.len() as f64);
            straight_calls.push(line_calls as f64);
            writes.push(sw.status_writes as f64);
            admissions.push(admission);
            tails.push(tail);
            aws_ms.push(aws);
            excluded_total.extend(
                sw.excluded
                    .iter()
                    .chain(&fb.excluded)
                    .map(|c| format!("{} {}", c.region, c.action)),
            );
            last_status = Some(sw.status.clone());
        }
        i += 1;
    }

    // One status write's round trip, measured apart: the engine's own journal write of a
    // finished switchover's status to a request in a namespace no operator of ours watches.
    let rtt = status_write_rtt(&b.s, last_status.unwrap()).await;

    println!("(a) results over {repeats} switchovers (ms):");
    println!(
        "  ours (create -> Succeeded seen by a watch): median {:.1}, p90 {:.1}",
        median(&ours),
        percentile(&ours, 0.9)
    );
    println!(
        "  straight line (same calls, SDK, sequential): median {:.1}, p90 {:.1}",
        median(&straight),
        percentile(&straight, 0.9)
    );
    println!(
        "  AWS calls: ours median {:.0} (min {:.0}, max {:.0}); straight line median {:.0}",
        median(&ours_calls),
        ours_calls.iter().cloned().fold(f64::MAX, f64::min),
        ours_calls.iter().cloned().fold(0.0, f64::max),
        median(&straight_calls)
    );
    let ratio = median(&ours) / median(&straight);
    println!(
        "  ratio ours/straight line (medians): {ratio:.2} (target at most 1.5: {})",
        if ratio <= 1.5 { "met" } else { "MISSED" }
    );
    println!(
        "  failback: ours median {:.1}, straight line median {:.1}, ratio {:.2}",
        median(&ours_fb),
        median(&straight_fb),
        median(&ours_fb) / median(&straight_fb)
    );
    println!("  where our time goes (medians):");
    println!(
        "    create call -> the operator's first AWS call: {:.1} ms (watch delivery, finalizer, admission reads, first journal write)",
        median(&admissions)
    );
    println!(
        "    AWS time (sum of the emulator's own durations of the operator's calls): {:.1} ms",
        median(&aws_ms)
    );
    println!("    last AWS call -> Succeeded seen: {:.1} ms", median(&tails));
    println!(
        "    status writes per switchover (seen by the watch): {:.0}; one status write (server-side apply of the request's status) takes median {:.1} ms, p90 {:.1} ms => about {:.0} ms of writes",
        median(&writes),
        rtt.0,
        rtt.1,
        median(&writes) * rtt.0
    );
    if excluded_total.is_empty() {
        println!("  excluded as convergence: none");
    } else {
        println!("  excluded as convergence (all iterations): {excluded_total:?}");
    }
}

/// Prints one request's AWS calls and the status changes the watch saw, in time order (ms after
/// the create call): where the time between the calls goes.
fn timeline(obs: &Observer, run: &RequestRun) {
    let mut lines: Vec<(f64, String)> = run
        .calls
        .iter()
        .map(|c| {
            (
                (c.time - run.created_wall) * 1000.0,
                format!(
                    "AWS   {} {} ({:.1} ms)",
                    c.region,
                    c.action,
                    c.duration_ms.unwrap_or_default()
                ),
            )
        })
        .collect();
    let mut previous: Option<Value> = None;
    for s in obs.history(&run.name) {
        let status = serde_json::to_value(&s.request.status).unwrap();
        let changed = previous.as_ref().is_some_and(|p| *p != status);
        let what = match (&s.request.status, previous.is_none()) {
            (_, true) => "created".to_owned(),
            (None, false) => "metadata (finalizer)".to_owned(),
            (Some(st), false) if changed => {
                let step = st.current_step.clone().unwrap_or_default();
                let message = st
                    .steps
                    .iter()
                    .find(|x| x.name == step)
                    .and_then(|x| x.message.clone())
                    .unwrap_or_default();
                let mut changed = Vec::new();
                diff("", previous.as_ref().unwrap(), &status, &mut changed);
                format!(
                    "status write: phase {:?}, {step}: {} [changed: {}]",
                    st.phase.unwrap_or(RequestPhase::Pending),
                    message.chars().take(60).collect::<String>(),
                    changed.join(" ")
                )
            }
            (Some(_), false) => "metadata".to_owned(),
        };
        lines.push((ms(s.at.saturating_duration_since(run.t0)), format!("WATCH {what}")));
        previous = Some(status);
    }
    lines.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    println!("    timeline of {} (ms after the create call):", run.name);
    for (at, line) in lines {
        println!("      {at:7.1}  {line}");
    }
}

/// The paths at which `a` and `b` differ (steps by name).
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                diff(&format!("{path}.{k}"), va, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let name = va["name"].as_str().map_or(i.to_string(), str::to_owned);
                diff(&format!("{path}[{name}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(if path.is_empty() {
            "(all)".to_owned()
        } else {
            path.to_owned()
        }),
        _ => {}
    }
}

/// (median, p90) in ms of the engine's journal write of `status` to a FailoverRequest that no
/// operator of ours watches.
async fn status_write_rtt(s: &Scenario, status: FailoverRequestStatus) -> (f64, f64) {
    let ns = TestNamespace::new(&s.client, "bench-rtt").await;
    let api: Api<FailoverRequest> = Api::namespaced(s.client.clone(), &ns.name);
    let request: FailoverRequest = serde_json::from_value(json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "FailoverRequest",
        "metadata": {"name": "rtt"},
        "spec": {"pilotLightRef": {"name": "none"}, "type": "Drill", "reason": "status write round trip", "dryRun": true},
    }))
    .unwrap();
    api.create(&PostParams::default(), &request)
        .await
        .expect("create the round-trip request");
    let mut samples = Vec::new();
    for i in 0..40 {
        let mut status = status.clone();
        status.message = Some(format!("round trip {i}"));
        let t = Instant::now();
        pilot_light::failover::journal::write(&api, "rtt", &status)
            .await
            .expect("status write");
        if i >= 5 {
            samples.push(ms(t.elapsed()));
        }
    }
    (median(&samples), percentile(&samples, 0.9))
}

async fn part_b(b: &mut Bench, runs: usize, scale: f64) {
    let durations = json!({
        "rds:SwitchoverGlobalCluster": 60.0 * scale,
        "rds:FailoverGlobalCluster": 60.0 * scale,
        "ec2:RunInstances": 90.0 * scale,
        "elasticloadbalancing:RegisterTargets": 30.0 * scale,
        "route53:ChangeResourceRecordSets": 60.0 * scale,
    });
    let delay = Duration::from_secs_f64(15.0 * scale);
    let instant = json!({});
    println!(
        "\n(b) Failover with real-world durations x {scale} ({durations}); seed waiter delay {:.2} s; {runs} runs",
        delay.as_secs_f64()
    );
    let promotion = 60.0 * scale;
    let serving = (90.0 + 30.0) * scale;
    let insync = 60.0 * scale;
    println!(
        "  floors: ours max(promotion {promotion:.2}, launch+healthy {serving:.2}) + INSYNC {insync:.2} = {:.2} s; seed order promotion + launch+healthy + INSYNC = {:.2} s; best possible ratio {:.2}",
        promotion.max(serving) + insync,
        promotion + serving + insync,
        (promotion.max(serving) + insync) / (promotion + serving + insync)
    );
    let mut ours_switched = Vec::new();
    let mut ours_rto = Vec::new();
    let mut ours_done = Vec::new();
    let mut seed = Vec::new();
    let mut run = 0;
    let mut attempt = 0;
    while run < runs {
        attempt += 1;
        assert!(attempt <= runs + 6, "too many disturbed runs");
        // Ours.
        take_emulator(&b.log, &instant).await;
        remove_reverse_rule(&b.w, &b.sdk).await;
        assert_eq!(
            aws_state(&b.w, &b.sdk).await,
            start_state(&b.w),
            "run {run}: not at the start state"
        );
        take_emulator(&b.log, &durations).await;
        let name = format!("fo-{attempt}");
        let fo = run_request(
            &b.s,
            &mut b.obs,
            &mut b.log,
            &b.app,
            &name,
            "Failover",
            Duration::from_secs_f64(600.0 * scale.max(0.05) + 120.0),
        )
        .await;
        let clean = undisturbed(&b.log, &durations).await;
        b.log.emulator.set_durations(instant.clone()).await;
        settle(&b.s, &mut b.log, &b.app, STANDBY, &name).await;
        let fb = run_request(
            &b.s,
            &mut b.obs,
            &mut b.log,
            &b.app,
            &format!("fo-back-{attempt}"),
            "Failback",
            Duration::from_secs(120),
        )
        .await;
        settle(&b.s, &mut b.log, &b.app, PRIMARY, &fb.name).await;
        if !clean {
            continue;
        }

        // The seed order, from the same state.
        remove_reverse_rule(&b.w, &b.sdk).await;
        assert_eq!(
            aws_state(&b.w, &b.sdk).await,
            start_state(&b.w),
            "run {run}: seed order not at the start state"
        );
        take_emulator(&b.log, &durations).await;
        b.log.advance().await;
        let seed_run = seed_order(&b.w, &b.sdk, delay).await;
        let clean = undisturbed(&b.log, &durations).await;
        let meanwhile: Vec<Call> = b
            .log
            .advance()
            .await
            .into_iter()
            .filter(|c| c.app.as_deref() == Some(b.app.as_str()))
            .collect();
        b.log.emulator.set_durations(instant.clone()).await;
        undo_seed_order(&b.w, &b.sdk).await;
        if !meanwhile.is_empty() {
            println!("  (the operator made {} while the seed order ran)", summary(&meanwhile));
        }
        if !clean {
            continue;
        }
        run += 1;

        let (running, steps) = b.obs.step_times(&fo.name, fo.t0);
        let switched = steps
            .get("SwitchTraffic")
            .and_then(|t| t.1)
            .expect("SwitchTraffic seen Succeeded");
        let rto = fo.status.recovery_time_seconds.expect("recoveryTimeSeconds");
        println!(
            "  run {run}: ours: SwitchTraffic Succeeded seen {switched:.2} s after the create call (status.recoveryTimeSeconds {rto:.2}), Succeeded seen at {:.2} s, {} AWS calls (Route 53: {}, at most {} in one second), {} status writes | seed order: promoted {:.2} s, {} healthy at {:.2} s, INSYNC at {:.2} s ({} calls)",
            fo.elapsed.as_secs_f64(),
            fo.calls.len(),
            fo.calls.iter().filter(|c| c.service == "route53").count(),
            peak_per_second(&fo.calls, "route53"),
            fo.status_writes,
            seed_run.promoted.as_secs_f64(),
            b.w.failover_sizes.0,
            seed_run.healthy.as_secs_f64(),
            seed_run.in_sync.as_secs_f64(),
            seed_run.calls,
        );
        print_steps(&fo, running, &steps);
        ours_switched.push(switched);
        ours_rto.push(rto);
        ours_done.push(fo.elapsed.as_secs_f64());
        seed.push(seed_run.in_sync.as_secs_f64());
    }
    let ratio = median(&ours_switched) / median(&seed);
    println!("(b) results over {runs} runs (s):");
    println!(
        "  ours, SwitchTraffic Succeeded seen by the watch: {:?}, median {:.2}",
        ours_switched
            .iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        median(&ours_switched)
    );
    println!(
        "  ours, status.recoveryTimeSeconds (from the second-precision creationTimestamp): {:?}, median {:.2}",
        ours_rto.iter().map(|x| (x * 100.0).round() / 100.0).collect::<Vec<_>>(),
        median(&ours_rto)
    );
    println!("  ours, request Succeeded seen: median {:.2}", median(&ours_done));
    println!(
        "  seed order (first call -> INSYNC): {:?}, median {:.2}",
        seed.iter().map(|x| (x * 100.0).round() / 100.0).collect::<Vec<_>>(),
        median(&seed)
    );
    println!(
        "  ratio ours/seed (medians, client-observed): {ratio:.2} (target at most 0.6: {}); with recoveryTimeSeconds: {:.2}",
        if ratio <= 0.6 { "met" } else { "MISSED" },
        median(&ours_rto) / median(&seed)
    );
}

/// The most calls to `service` within any one second.
fn peak_per_second(calls: &[Call], service: &str) -> usize {
    let times: Vec<f64> = calls.iter().filter(|c| c.service == service).map(|c| c.time).collect();
    (0..times.len())
        .map(|i| times[i..].iter().take_while(|t| **t < times[i] + 1.0).count())
        .max()
        .unwrap_or(0)
}

/// The request's steps as the status records them (second precision, since creation) and as
/// the watch saw them (since the create call), and the critical path to SwitchTraffic.
fn print_steps(run: &RequestRun, running: Option<f64>, seen: &StepTimes) {
    let since_creation = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.as_ref()
            .zip(run.creation.as_ref())
            .map(|(t, c)| (t.0.as_millisecond() - c.0.as_millisecond()) as f64 / 1000.0)
    };
    let fmt = |x: Option<f64>, p: usize| x.map_or("-".to_owned(), |x| format!("{x:.p$}"));
    println!("    step                 status startedAt/finishedAt (s) | watch: seen running/succeeded (s)");
    for step in &run.status.steps {
        let (a, z) = seen.get(&step.name).cloned().unwrap_or_default();
        println!(
            "    {:<20} {:>5} {:>5}                      | {:>6} {:>6}",
            step.name,
            fmt(since_creation(&step.started_at), 0),
            fmt(since_creation(&step.finished_at), 0),
            fmt(a, 2),
            fmt(z, 2)
        );
    }
    // Critical path: from SwitchTraffic back through the dependency that finished last.
    let end = |name: &str| seen.get(name).and_then(|t| t.1).unwrap_or_default();
    let mut chain = Vec::new();
    let mut segments: Vec<(String, f64)> = Vec::new();
    let mut current = "SwitchTraffic".to_owned();
    loop {
        let step = run
            .status
            .steps
            .iter()
            .find(|s| s.name == current)
            .expect("step in plan");
        let previous = step
            .depends_on
            .iter()
            .max_by(|a, b| end(a).partial_cmp(&end(b)).unwrap())
            .cloned();
        let from = previous.as_deref().map(end).or(running).unwrap_or_default();
        segments.push((current.clone(), end(&current) - from));
        chain.push(format!("{current} {:.2}", end(&current) - from));
        match previous {
            Some(p) => current = p,
            None => break,
        }
    }
    chain.push(format!(
        "admission (create -> Running seen) {:.2}",
        running.unwrap_or_default()
    ));
    chain.reverse();
    println!("    critical path (s): {}", chain.join(" + "));
    let total = end("SwitchTraffic");
    if let Some((step, took)) = segments.iter().max_by(|a, b| a.1.partial_cmp(&b.1).unwrap()) {
        println!(
            "    dominated by {step}: {took:.2} s of {total:.2} s ({:.0}%)",
            100.0 * took / total
        );
    }
    let mutating: Vec<String> = run
        .calls
        .iter()
        .filter(|c| is_mutating(&c.action))
        .map(|c| format!("{} {} +{:.2}", c.region, c.action, c.time - run.created_wall))
        .collect();
    let last_get_change = run
        .calls
        .iter()
        .filter(|c| c.action == "GetChange")
        .map(|c| c.time - run.created_wall)
        .fold(0.0, f64::max);
    println!(
        "    AWS changes (s after the create call): {}; last GetChange +{last_get_change:.2}",
        mutating.join(", ")
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("failover: a benchmark; run it with `make bench-failover`");
        return;
    }
    let scale = env_number("PILOT_LIGHT_BENCH_SCALE", 1.0 / 20.0);
    let repeats = env_number("PILOT_LIGHT_BENCH_REPEATS", 10.0) as usize;
    let runs = env_number("PILOT_LIGHT_BENCH_RUNS", 3.0) as usize;
    let parts = std::env::var("PILOT_LIGHT_BENCH_PARTS").unwrap_or_else(|_| "ab".into());

    let log = CallLog::new().await;
    take_emulator(&log, &json!({})).await;
    let mut s = Scenario::new("bench-fo").await;
    // In-process controllers as the integration tests run them (fast re-checks while
    // converging), with the production check intervals, so periodic convergence stays out of
    // the measured windows.
    let settings = Settings {
        check_intervals: CheckIntervals::default(),
        ..fast_settings(&s.ns.name)
    };
    let operator = Operator::start(&s.client, settings).await;
    let arranging = Instant::now();
    // failover_setup, with both groups in subnets of this run's own: the emulator never frees
    // the address of a terminated instance, and a run launches about a hundred per region.
    let setup = failover_setup(&mut s).await;
    let sdk = Sdk::new().await;
    let w = world(&s, &setup, &sdk).await;
    // The primary group starts where every Failback leaves it (failover sizes).
    let (min, desired, max) = w.failover_sizes;
    sdk.autoscaling[PRIMARY]
        .update_auto_scaling_group()
        .auto_scaling_group_name(&w.group[PRIMARY])
        .min_size(min)
        .desired_capacity(desired)
        .max_size(max)
        .send()
        .await
        .expect("primary group to the failover sizes");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "src"])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    println!(
        "engine at commit {commit}{}",
        if dirty { " with uncommitted changes in src/" } else { "" }
    );
    println!(
        "failover bench: one PilotLight with every component in namespace {} (failover_setup; Ready after {:.1} s); operator in-process (common::Operator, SDK app {}; the bench's tokio runtime, {} cores), production check intervals, approval off",
        s.ns.name,
        arranging.elapsed().as_secs_f64(),
        operator.app,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let watch_client = client().await;
    let obs = Observer::start(Api::namespaced(watch_client, &s.ns.name)).await;
    let app = operator.app.clone();
    let mut b = Bench {
        s,
        app,
        w,
        sdk,
        obs,
        log,
    };
    b.log
        .quiet(&b.app, Duration::from_millis(750), Duration::from_secs(30))
        .await;

    if parts.contains('a') {
        part_a(&mut b, repeats).await;
    }
    if parts.contains('b') {
        part_b(&mut b, runs, scale).await;
    }
    b.log.emulator.set_durations(json!({})).await;
    operator.stop().await;
}
