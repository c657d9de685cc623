//! `make bench-convergence`: N PilotLights (default 200), each with every component, converged
//! by the operator binary running as its own process against the test environment. Prints the
//! time until all are Ready, the operator's peak RSS, and the steady-state AWS calls per
//! PilotLight-hour counted in the emulator's call log.
//!
//! Steady state is measured with every check interval divided by `SCALE`, so one emulated hour
//! takes 3600 / SCALE seconds; the count is then per emulated hour at the default intervals.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::*;
use futures::{StreamExt, stream};
use kube::{Api, api::ListParams};
use pilot_light::{api::PilotLight, config::CheckIntervals};

/// Emulated hours pass this many times faster than real ones while measuring steady state.
const SCALE: u32 = 60;
/// Emulated hours of steady state counted.
const HOURS: u32 = 2;

fn operator(kube_port_hint: &str) -> Child {
    let defaults = CheckIntervals::default();
    let scaled = |d: Duration| (d / SCALE).as_secs().max(1).to_string();
    let log = std::fs::File::create(".testenv/logs/bench-operator.log").expect("operator log");
    Command::new(env!("CARGO_BIN_EXE_pilot-light"))
        .args(["run", "--log-format", "json", "--admin-addr", kube_port_hint])
        .args(["--database-check-interval", &scaled(defaults.database)])
        .args(["--storage-check-interval", &scaled(defaults.storage)])
        .args(["--compute-check-interval", &scaled(defaults.compute)])
        .args(["--traffic-check-interval", &scaled(defaults.traffic)])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the operator binary")
}

/// (peak, current) resident set size of `pid` in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

async fn ready_count(api: &Api<PilotLight>, prefix: &str) -> usize {
    let list = api.list(&ListParams::default()).await.expect("list PilotLights");
    list.items
        .iter()
        .filter(|pl| {
            pl.metadata
                .namespace
                .as_deref()
                .is_some_and(|ns| ns.starts_with(prefix))
        })
        .filter(|pl| {
            pl.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count()
}

#[tokio::main]
async fn main() {
    let Some(n) = bench_pilotlights("convergence", 200) else {
        return;
    };
    let prefix = format!("bench{}", unique_suffix());
    let client = client().await;
    ensure_crds(&client).await;

    let arranging = Instant::now();
    let mut scenarios: Vec<Scenario> = stream::iter(0..n)
        .map(|_| {
            let prefix = prefix.clone();
            async move {
                let mut s = Scenario::new(&prefix).await;
                full_setup(&mut s).await;
                s
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    println!(
        "arranged {n} setups (cluster, buckets, table, AMI, zone each) in {:.1} s",
        arranging.elapsed().as_secs_f64()
    );

    let emulator = Emulator::new();
    let before = emulator.calls_since(0).await.last().map_or(0, |c| c.seq);
    let mut child = operator(&format!("127.0.0.1:{}", free_port()));
    let pid = child.id();
    let converging = Instant::now();
    stream::iter(scenarios.iter_mut())
        .for_each_concurrent(16, |s| async move {
            s.apply(|_| {}).await;
        })
        .await;
    let api: Api<PilotLight> = Api::all(client.clone());
    let mut last_report = Instant::now();
    loop {
        let ready = ready_count(&api, &prefix).await;
        if ready == n {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            println!("  {ready}/{n} Ready after {:.0} s", converging.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        assert!(
            converging.elapsed() < Duration::from_secs(1800),
            "only {ready}/{n} Ready after 30 min; see .testenv/logs/bench-operator.log"
        );
        assert!(
            child.try_wait().expect("operator status").is_none(),
            "the operator exited"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let converged_in = converging.elapsed();
    let convergence_calls: Vec<Call> = emulator
        .calls_since(before)
        .await
        .into_iter()
        .filter(|c| c.app.as_deref() == Some("pilot-light"))
        .collect();
    // The emulator's own time to serve those calls one after another: a floor no operator can
    // beat. Each call's time is measured while the others ran, so it is an upper bound of the
    // straight-line floor (the emulator serialises much of its work under one interpreter lock).
    let served_in: f64 = convergence_calls.iter().filter_map(|c| c.duration_ms).sum::<f64>() / 1000.0;
    println!(
        "{n} PilotLights Ready in {:.1} s ({} AWS calls while converging; sum of the emulator's service times for them: {served_in:.1} s, ratio {:.2})",
        converged_in.as_secs_f64(),
        convergence_calls.len(),
        converged_in.as_secs_f64() / served_in.max(f64::EPSILON)
    );

    // Let the first round of periodic checks pass, then count whole emulated hours.
    let hour = Duration::from_secs(3600) / SCALE;
    tokio::time::sleep(hour).await;
    let start = emulator.calls_since(0).await.last().map_or(0, |c| c.seq);
    tokio::time::sleep(hour * HOURS).await;
    let calls: Vec<Call> = emulator
        .calls_since(start)
        .await
        .into_iter()
        .filter(|c| c.app.as_deref() == Some("pilot-light"))
        .collect();
    let still_ready = ready_count(&api, &prefix).await;
    let (peak, current) = rss_mib(pid);
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();

    let per_pl_hour = |count: usize| count as f64 / n as f64 / f64::from(HOURS);
    let mut by_service: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_action: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for c in &calls {
        *by_service.entry(&c.service).or_default() += 1;
        *by_action.entry((&c.service, &c.action)).or_default() += 1;
    }
    println!("steady state over {HOURS} emulated hours (intervals / {SCALE}), {still_ready}/{n} still Ready:");
    println!("  AWS calls per PilotLight-hour: {:.2}", per_pl_hour(calls.len()));
    for (service, count) in &by_service {
        println!("    {service:<12} {:.2}", per_pl_hour(*count));
    }
    for ((service, action), count) in &by_action {
        println!("      {service}:{action:<30} {count}");
    }
    println!("operator peak RSS: {peak:.1} MiB (at the end: {current:.1} MiB)");
    assert_eq!(
        still_ready, n,
        "a steady state with PilotLights out of Ready is not one"
    );
}
