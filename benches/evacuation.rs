//! `make bench-evacuation`: N (default 200) Aurora PilotLights evacuated by one approved
//! Evacuation while us-east-1 is down (every service there drops connections) and the emulator
//! throttles RDS in us-west-2 at the operator's own RDS budget (10 requests a second). One
//! PilotLight evacuated alone first, in the same run, is the baseline of the RTO ratios.
//!
//! Prints the time from the approval to the last completion, p50/p95 RTO against the solo run,
//! AWS requests and peak requests a second per service and region, the RDS budget's floor (the
//! RDS calls at 10 a second in a line), and the throttled answers the operator retried.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use common::{evacuation::*, failover::call_log_mark, *};
use pilot_light::{
    api::{Evacuation, EvacuationPhase},
    config::{CheckIntervals, Settings},
};
use serde_json::json;

/// The emulator's RDS limit in us-west-2, equal to the operator's default RDS budget.
const RDS_PER_SECOND: f64 = 10.0;

async fn evacuate(s: &Scenario, name: &str, team: &str, max_concurrent: usize) -> (Evacuation, Duration) {
    let _guard = create_evacuation(
        s,
        name,
        "Failover",
        json!({"selector": {"matchLabels": {"team": team}}, "force": true, "maxConcurrent": max_concurrent}),
    )
    .await;
    wait_evacuation(s, name, &[EvacuationPhase::AwaitingApproval], Duration::from_secs(120)).await;
    let approved = Instant::now();
    patch_evacuation(s, name, json!({"approvedBy": "bob"})).await;
    let done = wait_evacuation(
        s,
        name,
        &[EvacuationPhase::Succeeded, EvacuationPhase::Failed],
        Duration::from_secs(3600),
    )
    .await;
    (done, approved.elapsed())
}

#[tokio::main]
async fn main() {
    let Some(n) = bench_pilotlights("evacuation", 200) else {
        return;
    };
    let s = Scenario::new("bench-evac").await;
    // Production check intervals: periodic convergence stays out of the measured window.
    let settings = Settings {
        check_intervals: CheckIntervals::default(),
        ..fast_settings(&s.ns.name)
    };
    let operator = Operator::start(&s.client, settings).await;
    let arranging = Instant::now();
    let labels: Vec<_> = std::iter::once(json!({"team": "solo"}))
        .chain((0..n).map(|_| json!({"team": "shop"})))
        .collect();
    labelled_members(&s, &labels, Duration::from_secs(1800)).await;
    println!(
        "arranged and converged {} Aurora PilotLights in {:.1} s",
        n + 1,
        arranging.elapsed().as_secs_f64()
    );

    let emulator = Emulator::new();
    emulator
        .add_fault(json!({"region": "us-east-1", "service": "*", "kind": "outage"}))
        .await;
    emulator
        .add_fault(
            json!({"region": "us-west-2", "service": "rds", "kind": "rateLimit", "ratePerSecond": RDS_PER_SECOND}),
        )
        .await;

    let (solo, solo_took) = evacuate(&s, &format!("solo-{}", s.ns.name), "solo", 1).await;
    let solo_rto = solo.status.as_ref().and_then(|st| st.recovery_time_p50_seconds);
    println!(
        "solo: {:?} in {:.1} s, RTO {solo_rto:?} s",
        solo.status.as_ref().and_then(|st| st.phase),
        solo_took.as_secs_f64()
    );

    let mark = call_log_mark(&emulator).await;
    let (done, took) = evacuate(&s, &format!("all-{}", s.ns.name), "shop", 50).await;
    let calls: Vec<Call> = emulator
        .calls_since(mark)
        .await
        .into_iter()
        .filter(|c| c.made_by(&operator.app))
        .collect();
    emulator.clear_faults().await;
    operator.stop().await;

    let status = done.status.clone().unwrap_or_default();
    let counts = status.counts.clone().unwrap_or_default();
    println!(
        "{n} PilotLights: {:?}, {} succeeded, {} failed, {} skipped; approval to the last completion {:.1} s",
        status.phase,
        counts.succeeded,
        counts.failed,
        counts.skipped,
        took.as_secs_f64()
    );
    let ratio = |v: Option<f64>| match (v, solo_rto) {
        (Some(v), Some(solo)) if solo > 0.0 => format!("{v:.1} s ({:.2}x solo)", v / solo),
        (v, _) => format!("{v:?}"),
    };
    println!(
        "RTO p50 {}, p95 {}",
        ratio(status.recovery_time_p50_seconds),
        ratio(status.recovery_time_p95_seconds)
    );
    for failure in &status.failures {
        println!("  failed: {failure:?}");
    }

    let mut per_second: BTreeMap<(String, String), BTreeMap<i64, usize>> = BTreeMap::new();
    for c in &calls {
        *per_second
            .entry((c.service.clone(), c.region.clone()))
            .or_default()
            .entry(c.time.floor() as i64)
            .or_default() += 1;
    }
    println!("AWS requests during the evacuation (service, region: total, peak in one second):");
    for ((service, region), seconds) in &per_second {
        let total: usize = seconds.values().sum();
        let peak = seconds.values().max().copied().unwrap_or(0);
        println!("  {service:<10} {region:<10} {total:>6} {peak:>4}/s");
    }
    let rds_west = calls
        .iter()
        .filter(|c| c.service == "rds" && c.region == "us-west-2")
        .count();
    println!(
        "RDS us-west-2 floor at {RDS_PER_SECOND}/s: {:.1} s for {rds_west} calls (evacuation took {:.2}x that)",
        rds_west as f64 / RDS_PER_SECOND,
        took.as_secs_f64() / (rds_west as f64 / RDS_PER_SECOND).max(f64::EPSILON)
    );
    let throttled = calls.iter().filter(|c| c.outcome == "throttled").count();
    let outage = calls.iter().filter(|c| c.outcome == "outage").count();
    println!("throttled answers retried: {throttled}; calls into the us-east-1 outage: {outage}");
    assert_eq!(counts.failed, 0, "no PilotLight may fail: {:?}", status.failures);
}
