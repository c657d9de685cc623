//! Detection latency: from the primary's health check turning unhealthy (in the emulator) to the
//! proposed FailoverRequest existing, minus the configured hold time (`unhealthyFor`). The loop
//! looks every `--detection-interval`, so the latency is about half an interval on average plus
//! the Route 53 read and the create. Measured for the intervals in
//! `PILOT_LIGHT_BENCH_DETECTION_INTERVALS` (seconds, default `1,5`), `PILOT_LIGHT_BENCH_ROUNDS`
//! rounds each (default 6). Needs a running test environment (`make bench-detection`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{failover::*, *};
use kube::{ResourceExt, api::DeleteParams};
use pilot_light::api::RequestPhase;
use serde_json::json;

const HOLD: Duration = Duration::from_secs(2);

fn env_list(name: &str, default: &str) -> Vec<f64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

/// Polls the API server every 20 ms for a request against the scenario's PilotLight.
async fn first_request(s: &Scenario) -> (Instant, String) {
    loop {
        if let Ok(list) = requests(s).list(&Default::default()).await
            && let Some(r) = list.items.into_iter().next()
        {
            return (Instant::now(), r.name_any());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("detection: a benchmark; run it with `make bench-detection`");
        return;
    }
    let intervals = env_list("PILOT_LIGHT_BENCH_DETECTION_INTERVALS", "1,5");
    let rounds = env_list("PILOT_LIGHT_BENCH_ROUNDS", "6")
        .first()
        .copied()
        .unwrap_or(6.0) as usize;
    println!("detection latency: primary unhealthy -> FailoverRequest created, minus unhealthyFor ({HOLD:?})");
    println!("interval  rounds  median   p90      max      (seconds)");
    for interval in intervals {
        let mut s = Scenario::new("bench-detect").await;
        let mut settings = fast_settings(&s.ns.name);
        settings.detection_interval = Duration::from_secs_f64(interval);
        let operator = Operator::start(&s.client, settings).await;
        failover_setup(&mut s).await;
        let check = detect(
            &mut s,
            json!({"mode": "Propose", "unhealthyFor": format!("{}s", HOLD.as_secs())}),
        )
        .await;
        let emulator = Emulator::new();
        let mut latencies = Vec::new();
        for _ in 0..rounds {
            // Start at a random point of the loop's period, as a real outage would.
            tokio::time::sleep(Duration::from_secs_f64(interval * rand::random::<f64>())).await;
            emulator.set_health_check_status(&check, "Failure").await;
            let failed_at = Instant::now();
            let (seen, name) = first_request(&s).await;
            latencies.push((seen - failed_at).saturating_sub(HOLD).as_secs_f64());
            wait_phase(&s, &name, &[RequestPhase::AwaitingApproval], Duration::from_secs(30)).await;
            // Back to healthy, the proposal withdrawn, for the next round.
            emulator.set_health_check_status(&check, "Success").await;
            primary_healthy(&s, "True").await;
            requests(&s)
                .delete(&name, &DeleteParams::default())
                .await
                .expect("delete the proposal");
            eventually(Duration::from_secs(30), || async {
                requests(&s)
                    .list(&Default::default())
                    .await
                    .ok()?
                    .items
                    .is_empty()
                    .then_some(())
            })
            .await
            .expect("the proposal gone");
        }
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        println!(
            "{interval:>6.1}s  {rounds:>6}  {:>6.2}   {:>6.2}   {:>6.2}",
            at(0.5),
            at(0.9),
            latencies.last().copied().unwrap_or_default()
        );
        operator.stop().await;
    }
}
