//! (b) The RTO of an unplanned Failover with real-world durations, against the seed order.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    Bench, PRIMARY, STANDBY,
    call_log::{take_emulator, undisturbed},
    common::{failover::*, *},
    observer::StepTimes,
    requests::{RequestRun, run_request, settle, summary},
    seed::{SeedRun, seed_order, undo_seed_order},
    stats::median,
    world::{aws_state, remove_reverse_rule, start_state},
};

/// The real-world durations of the emulated operations, scaled by `scale`.
pub fn durations(scale: f64) -> Value {
    json!({
        "rds:SwitchoverGlobalCluster": 60.0 * scale,
        "rds:FailoverGlobalCluster": 60.0 * scale,
        "ec2:RunInstances": 90.0 * scale,
        "elasticloadbalancing:RegisterTargets": 30.0 * scale,
        "route53:ChangeResourceRecordSets": 60.0 * scale,
        "route53:HealthCheckScale": scale,
        // The switch's alarm evaluates once per period of its own (10 s, a high-resolution
        // alarm: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#high-resolution-alarms).
        "monitoring:AlarmEvaluation": 10.0 * scale,
    })
}

/// Back at the start state (the reverse rule a failover wrote removed, checked), then the
/// emulator taken with `durations` for the run `what`.
pub async fn from_start(b: &Bench, durations: &Value, what: &str) {
    take_emulator(&b.log, &json!({})).await;
    remove_reverse_rule(&b.w, &b.sdk).await;
    assert_eq!(
        aws_state(&b.w, &b.sdk).await,
        start_state(&b.w),
        "{what}: not at the start state"
    );
    take_emulator(&b.log, durations).await;
}

/// The seed Lambda's order from the start state, with `durations`; `None` when someone's
/// faults or durations disturbed it.
pub async fn seed_from_start(b: &mut Bench, durations: &Value, scale: f64) -> Option<SeedRun> {
    let delay = Duration::from_secs_f64(15.0 * scale);
    from_start(b, durations, "seed order").await;
    b.log.advance().await;
    let seed_run = seed_order(&b.w, &b.sdk, delay).await;
    let clean = undisturbed(&b.log, durations).await;
    let meanwhile: Vec<Call> = b
        .log
        .advance()
        .await
        .into_iter()
        .filter(|c| c.made_by(&b.app))
        .collect();
    b.log.emulator.set_durations(json!({})).await;
    undo_seed_order(&b.w, &b.sdk).await;
    if !meanwhile.is_empty() {
        println!("  (the operator made {} while the seed order ran)", summary(&meanwhile));
    }
    clean.then_some(seed_run)
}

/// `data_plane`: traffic mode `failoverRouting`, whose switch moves DNS without a record change.
pub async fn part_b(b: &mut Bench, runs: usize, scale: f64, data_plane: bool) {
    let alarm_evaluation = 10.0 * scale;
    let durations = durations(scale);
    let delay = Duration::from_secs_f64(15.0 * scale);
    let instant = json!({});
    println!(
        "\n(b) Failover with real-world durations x {scale} ({durations}); seed waiter delay {:.2} s; {runs} runs",
        delay.as_secs_f64()
    );
    let promotion = 60.0 * scale;
    let serving = (90.0 + 30.0) * scale;
    let insync = 60.0 * scale;
    // What moves traffic after the slowest of promotion and serving: the record's INSYNC, or
    // the switch (its alarm's evaluation; nothing for routing controls, whose state the
    // health checks read at once).
    let (moving, what) = if data_plane {
        (alarm_evaluation, "switch")
    } else {
        (insync, "INSYNC")
    };
    let floor = promotion.max(serving) + moving;
    let seed_floor = promotion + serving + insync;
    println!(
        "  floors: ours max(promotion {promotion:.2}, launch+healthy {serving:.2}) + {what} {moving:.2} = {floor:.2} s; seed order promotion + launch+healthy + INSYNC = {seed_floor:.2} s; best possible ratio {:.2}",
        floor / seed_floor
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
        from_start(b, &durations, &format!("run {run}")).await;
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
        let Some(seed_run) = seed_from_start(b, &durations, scale).await else {
            continue;
        };
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
    let target = if data_plane { 0.7 } else { 0.6 };
    println!(
        "  ratio ours/seed (medians, client-observed): {ratio:.2} (target at most {target}: {}); with recoveryTimeSeconds: {:.2}",
        if ratio <= target { "met" } else { "MISSED" },
        median(&ours_rto) / median(&seed)
    );
    let over_floor = median(&ours_switched) / floor;
    println!(
        "  ours/floor (medians): {over_floor:.2} (target at most 1.1: {})",
        if over_floor <= 1.1 { "met" } else { "MISSED" }
    );
}

/// The most calls to `service` within any one second.
pub fn peak_per_second(calls: &[Call], service: &str) -> usize {
    let times: Vec<f64> = calls.iter().filter(|c| c.service == service).map(|c| c.time).collect();
    (0..times.len())
        .map(|i| times[i..].iter().take_while(|t| **t < times[i] + 1.0).count())
        .max()
        .unwrap_or(0)
}

/// The request's steps as the status records them (second precision, since creation) and as
/// the watch saw them (since the create call), and the critical path to SwitchTraffic.
pub fn print_steps(run: &RequestRun, running: Option<f64>, seen: &StepTimes) {
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
