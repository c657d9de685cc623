//! (a) Switchovers with instant emulated operations, against the same calls in a straight line.

use std::time::{Duration, Instant};

use kube::{Api, api::PostParams};
use pilot_light::api::{FailoverRequest, FailoverRequestStatus, RequestPhase};
use serde_json::{Value, json};

use crate::{
    Bench, PRIMARY, STANDBY,
    call_log::{take_emulator, undisturbed},
    common::{failover::*, *},
    observer::Observer,
    replay,
    requests::{RequestRun, run_request, settle, summary},
    stats::{median, ms, percentile},
    world::{aws_state, remove_reverse_rule, start_state},
};

pub async fn part_a(b: &mut Bench, repeats: usize) {
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
        let (line, line_calls) = straight_line(b, &sw.calls).await;
        let line_moved = aws_state(&b.w, &b.sdk).await;
        let (line_fb, _) = straight_line(b, &fb.calls).await;
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
        "  straight line (the engine's recorded requests sent again, sequentially): median {:.1}, p90 {:.1}",
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

/// `calls` replayed in a straight line; checks in the call log that the replay made the same
/// calls in the same order.
async fn straight_line(b: &mut Bench, calls: &[Call]) -> (Duration, usize) {
    b.log.advance().await;
    let took = b.replayer.replay(calls).await;
    let operation = |c: &Call| format!("{} {} {}", c.region, c.action, c.outcome);
    let replayed: Vec<String> = b
        .log
        .advance()
        .await
        .iter()
        .filter(|c| c.app.as_deref() == Some(replay::APP))
        .map(operation)
        .collect();
    assert_eq!(
        replayed,
        calls.iter().map(operation).collect::<Vec<_>>(),
        "the straight line made other calls than the engine"
    );
    took
}

/// Prints one request's AWS calls and the status changes the watch saw, in time order (ms after
/// the create call): where the time between the calls goes.
pub fn timeline(obs: &Observer, run: &RequestRun) {
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
pub fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
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
pub async fn status_write_rtt(s: &Scenario, status: FailoverRequestStatus) -> (f64, f64) {
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
        pilot_light::step::journal::write(&api, "rtt", &status)
            .await
            .expect("status write");
        if i >= 5 {
            samples.push(ms(t.elapsed()));
        }
    }
    (median(&samples), percentile(&samples, 0.9))
}
