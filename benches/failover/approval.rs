//! (c) The RTO from a person's approval, with `spec.failover.prewarm.onRequest`: the request
//! waits for approval while the standby warms, a modeled human takes two minutes (scaled like
//! every other duration) to decide, then approves; against the seed Lambda, which starts only
//! once the person has decided.

use std::time::{Duration, Instant};

use kube::api::{Patch, PatchParams};
use pilot_light::api::RequestPhase;
use serde_json::json;

use crate::{
    Bench, FINAL, PRIMARY, STANDBY,
    call_log::undisturbed,
    common::failover::*,
    requests::{run_request, settle},
    rto::{durations, from_start, seed_from_start},
    stats::median,
};

/// The seed runbook's human decision, in real-world seconds.
const DECISION: f64 = 120.0;

pub async fn part_c(b: &mut Bench, runs: usize, scale: f64) {
    let durations = durations(scale);
    let decision = Duration::from_secs_f64(DECISION * scale);
    println!(
        "\n(c) Failover awaiting approval with spec.failover.prewarm.onRequest, a person deciding for {:.2} s ({DECISION} s x {scale}), durations as in (b); {runs} runs",
        decision.as_secs_f64()
    );
    b.s.apply(|m| {
        m["spec"]["failover"]["approval"] = json!({"required": true});
        m["spec"]["failover"]["prewarm"] = json!({"onRequest": true});
    })
    .await;
    let (mut ours, mut seed, mut warm_count) = (Vec::new(), Vec::new(), 0);
    let (mut run, mut attempt) = (0, 0);
    while run < runs {
        attempt += 1;
        assert!(attempt <= runs + 6, "too many disturbed runs");
        from_start(b, &durations, &format!("run {run}")).await;
        let name = format!("pw-{attempt}");
        let t0 = Instant::now();
        create_request(&b.s, &name, "Failover", json!({})).await;
        b.obs
            .wait(&name, Duration::from_secs(60), |r| {
                phase(r) == Some(RequestPhase::AwaitingApproval)
            })
            .await;
        // The person reads the page and decides: modeled as time passing, nothing else.
        tokio::time::sleep_until((t0 + decision).into()).await;
        let warm = warm_at_approval(b).await;
        let approved = Instant::now();
        requests(&b.s)
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"approvedBy": "second-person"}})),
            )
            .await
            .expect("approve");
        let (_, r) = b
            .obs
            .wait(&name, Duration::from_secs_f64(600.0 * scale + 120.0), |r| {
                phase(r).is_some_and(|p| FINAL.contains(&p))
            })
            .await;
        assert_eq!(phase(&r), Some(RequestPhase::Succeeded), "{name}: {:#?}", r.status);
        let clean = undisturbed(&b.log, &durations).await;
        b.log.emulator.set_durations(json!({})).await;
        settle(&b.s, &mut b.log, &b.app, STANDBY, &name).await;
        // Failback needs no approval of its own here: the person approves it at once.
        let back = format!("pw-back-{attempt}");
        b.s.apply(|m| m["spec"]["failover"]["approval"] = json!({"required": false}))
            .await;
        let fb = run_request(
            &b.s,
            &mut b.obs,
            &mut b.log,
            &b.app,
            &back,
            "Failback",
            Duration::from_secs(120),
        )
        .await;
        settle(&b.s, &mut b.log, &b.app, PRIMARY, &fb.name).await;
        b.s.apply(|m| m["spec"]["failover"]["approval"] = json!({"required": true}))
            .await;
        if !clean {
            continue;
        }
        let Some(seed_run) = seed_from_start(b, &durations, scale).await else {
            continue;
        };
        run += 1;
        let (_, steps) = b.obs.step_times(&name, approved);
        let switched = steps
            .get("SwitchTraffic")
            .and_then(|t| t.1)
            .expect("SwitchTraffic seen Succeeded");
        let scale_up = r
            .status
            .as_ref()
            .and_then(|st| st.steps.iter().find(|s| s.name == "ScaleUpCompute"))
            .and_then(|s| s.message.clone())
            .unwrap_or_default();
        println!(
            "  run {run}: standby {} at the approval ({:.2} s after the request); SwitchTraffic Succeeded {switched:.2} s after the approval (ScaleUpCompute: {scale_up}) | seed order from the approval: INSYNC at {:.2} s",
            if warm { "all InService" } else { "not yet all InService" },
            approved.duration_since(t0).as_secs_f64(),
            seed_run.in_sync.as_secs_f64(),
        );
        ours.push(switched);
        seed.push(seed_run.in_sync.as_secs_f64());
        warm_count += usize::from(warm);
    }
    b.s.apply(|m| {
        m["spec"]["failover"]["approval"] = json!({"required": false});
        m["spec"]["failover"]["prewarm"] = serde_json::Value::Null;
    })
    .await;
    let round = |v: &[f64]| v.iter().map(|x| (x * 100.0).round() / 100.0).collect::<Vec<_>>();
    println!("(c) results over {runs} runs (s); standby all InService at the approval in {warm_count} of them:");
    println!(
        "  ours, approval -> SwitchTraffic Succeeded: {:?}, median {:.2}",
        round(&ours),
        median(&ours)
    );
    println!(
        "  seed order, approval -> INSYNC: {:?}, median {:.2}",
        round(&seed),
        median(&seed)
    );
    let ratio = median(&ours) / median(&seed);
    println!(
        "  ratio from the approval (medians): {ratio:.2} (target at most 0.4: {})",
        if ratio <= 0.4 { "met" } else { "MISSED" }
    );
    let d = decision.as_secs_f64();
    println!(
        "  total from the first alarm (request created; detection's hold not included): ours {:.2}, seed {:.2}, ratio {:.2}",
        d + median(&ours),
        d + median(&seed),
        (d + median(&ours)) / (d + median(&seed))
    );
}

/// Whether the standby group has its desired instances, all InService.
async fn warm_at_approval(b: &Bench) -> bool {
    let Ok(out) = b.sdk.autoscaling[STANDBY]
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&b.w.group[STANDBY])
        .send()
        .await
    else {
        return false;
    };
    let Some(g) = out.auto_scaling_groups().first() else {
        return false;
    };
    let in_service = g
        .instances()
        .iter()
        .filter(|i| i.lifecycle_state().is_some_and(|s| s.as_str() == "InService"))
        .count() as i32;
    in_service > 0 && in_service >= g.desired_capacity().unwrap_or(0)
}
