//! `make bench-failover`: how fast FailoverRequests run, against what the same work costs without
//! the operator. One PilotLight with every component (`failover_setup`), the operator's
//! controllers in this process (`common::Operator`), the emulator's call log.
//!
//! (a) Instant emulated operations: K Switchovers (each followed by a Failback), timed from the
//!     client's create call until the client's watch sees `Succeeded`, against the same AWS calls
//!     in a straight line from the same starting state: the requests the failover executor sent,
//!     recorded by the emulator, sent again one after the other (`replay.rs`).
//! (b) Real-world durations scaled by `PILOT_LIGHT_BENCH_SCALE` (default 1/20): the RTO of an
//!     unplanned Failover against the seed article's Lambda order (failover, wait; scale up, wait
//!     with a 15 s waiter; DNS, wait), done sequentially with the SDK.
//! (c) The same durations with a person deciding for two minutes (scaled) while the request
//!     awaits approval and `spec.failover.prewarm.onRequest` warms the standby: the RTO from the
//!     approval against the seed order, which starts only then (`approval.rs`).
//! (d) The RDS variant: a read replica Failover (promote; resize and a new read replica) against
//!     the first seed's order done sequentially (`rds.rs`).
//!
//! It prints numbers and fails (panics) if any request does not reach `Succeeded`.
//! Environment: `PILOT_LIGHT_BENCH_SCALE` (e.g. `0.05` or `1/20`), `PILOT_LIGHT_BENCH_REPEATS`
//! (K of (a), default 10), `PILOT_LIGHT_BENCH_RUNS` (runs of (b), default 3),
//! `PILOT_LIGHT_BENCH_PARTS` (any of `a`, `b`, `c`, `d`, default `ab`), `PILOT_LIGHT_BENCH_TRAFFIC`
//! (`spec.traffic.mode`, default `failoverRouting`) and `PILOT_LIGHT_BENCH_SWITCH`
//! (`spec.traffic.switch`, default `metricAlarm`).

#[path = "../../tests/common/mod.rs"]
mod common;

mod approval;
mod call_log;
mod observer;
mod rds;
mod replay;
mod requests;
mod rto;
mod seed;
mod stats;
mod switchover;
mod world;

use std::time::{Duration, Instant};

use common::{failover::*, *};
use kube::Api;
use pilot_light::{
    api::RequestPhase,
    config::{CheckIntervals, Settings},
};
use serde_json::json;

use crate::{
    call_log::{CallLog, take_emulator},
    observer::Observer,
    stats::env_number,
    world::{Sdk, World, world},
};

const PRIMARY: &str = "us-east-1";
const STANDBY: &str = "us-west-2";
const FINAL: &[RequestPhase] = &[
    RequestPhase::Succeeded,
    RequestPhase::Failed,
    RequestPhase::Rejected,
    RequestPhase::Cancelled,
];
/// Rule id of the operator's reverse replication rule (src/pilotlight/s3/failover.rs).
const REVERSE_RULE: &str = "pilot-light-reverse";

struct Bench {
    s: Scenario,
    app: String,
    w: World,
    sdk: Sdk,
    obs: Observer,
    log: CallLog,
    replayer: replay::Replayer,
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
    let mode = std::env::var("PILOT_LIGHT_BENCH_TRAFFIC").unwrap_or_else(|_| "failoverRouting".into());
    let switch = std::env::var("PILOT_LIGHT_BENCH_SWITCH").unwrap_or_else(|_| "metricAlarm".into());

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
    let setup = failover_setup_with(&mut s, |m| {
        m["spec"]["traffic"]["mode"] = json!(mode);
        m["spec"]["traffic"]["switch"] = json!(switch);
    })
    .await;
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
    println!("traffic: mode {mode}, switch {switch}");
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
        replayer: replay::Replayer::new(),
    };
    b.log
        .quiet(&b.app, Duration::from_millis(750), Duration::from_secs(30))
        .await;

    if parts.contains('a') {
        switchover::part_a(&mut b, repeats).await;
    }
    if parts.contains('b') {
        rto::part_b(&mut b, runs, scale, mode == "failoverRouting").await;
    }
    if parts.contains('c') {
        approval::part_c(&mut b, runs, scale).await;
    }
    if parts.contains('d') {
        rds::part_d(&mut b.log, runs, scale).await;
    }
    b.log.emulator.set_durations(json!({})).await;
    operator.stop().await;
}
