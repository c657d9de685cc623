//! (d) The RDS variant (`spec.database.rds`): an unplanned Failover of a PilotLight with only an
//! RDS instance and its cross-region read replica, with `promotedInstanceClass` and one
//! `promotedReplicas`, against the first seed's order done sequentially with the SDK: promote the
//! read replica, wait; increase its instance size, wait; add a read replica of it, wait.
//!
//! Each run uses instances of its own (a promoted replica cannot be made a replica again), in a
//! namespace of its own with an operator of its own.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    call_log::{take_emulator, undisturbed},
    common::{failover::*, *},
    stats::median,
};

/// Real-world durations (AWS documents none; typical values): promotion a couple of minutes, a
/// class change ten, a new read replica fifteen; scaled by `scale`.
fn durations(scale: f64) -> Value {
    json!({
        "rds:PromoteReadReplica": 120.0 * scale,
        "rds:ModifyDBInstance": 600.0 * scale,
        "rds:CreateDBInstanceReadReplica": 900.0 * scale,
    })
}

const PROMOTED_CLASS: &str = "db.r5.xlarge";

/// A Ready RDS PilotLight in a fresh namespace, created with instant durations.
async fn ready(run: usize) -> (Scenario, Operator, String, String) {
    let mut s = Scenario::new(&format!("bench-rds-{run}")).await;
    let (source, replica) = (format!("{}-db", s.names.primary), format!("{}-dr", s.names.primary));
    create_source_instance("us-east-1", &source, false).await;
    s.manifest = rds_pilotlight(&source, &replica);
    s.manifest["spec"]["database"]["rds"]["promotedInstanceClass"] = json!(PROMOTED_CLASS);
    s.manifest["spec"]["database"]["rds"]["promotedReplicas"] = json!(1);
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    s.wait_ready().await;
    (s, operator, source, replica)
}

/// Polls `identifier` in `region` every `delay` (the seed's waiter) until `done` holds.
async fn wait_until(
    rds: &aws_sdk_rds::Client,
    identifier: &str,
    delay: Duration,
    done: impl Fn(&aws_sdk_rds::types::DbInstance) -> bool,
) {
    loop {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
            .expect("describe instance");
        if out.db_instances().first().is_some_and(&done) {
            return;
        }
        tokio::time::sleep(delay).await;
    }
}

/// The seed's three steps, one after the other; (time until the writer is available, total).
async fn seed_order(replica: &str, delay: Duration) -> (f64, f64) {
    let west = rds("us-west-2").await;
    let t0 = Instant::now();
    west.promote_read_replica()
        .db_instance_identifier(replica)
        .send()
        .await
        .expect("promote");
    let available = |i: &aws_sdk_rds::types::DbInstance| i.db_instance_status() == Some("available");
    wait_until(&west, replica, delay, |i| {
        available(i) && i.read_replica_source_db_instance_identifier().is_none()
    })
    .await;
    let writer = t0.elapsed().as_secs_f64();
    west.modify_db_instance()
        .db_instance_identifier(replica)
        .db_instance_class(PROMOTED_CLASS)
        .apply_immediately(true)
        .send()
        .await
        .expect("resize");
    wait_until(&west, replica, delay, |i| {
        available(i) && i.db_instance_class() == Some(PROMOTED_CLASS)
    })
    .await;
    let slave = format!("{replica}-replica-1");
    west.create_db_instance_read_replica()
        .db_instance_identifier(&slave)
        .source_db_instance_identifier(replica)
        .db_instance_class(PROMOTED_CLASS)
        .send()
        .await
        .expect("add a read replica");
    wait_until(&west, &slave, delay, available).await;
    (writer, t0.elapsed().as_secs_f64())
}

fn line(name: &str, xs: &[f64]) -> String {
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(0.0, f64::max);
    format!("{name}: {min:.2} / {:.2} / {max:.2} s (min/median/max)", median(xs))
}

pub async fn part_d(log: &mut crate::call_log::CallLog, runs: usize, scale: f64) {
    let durations = durations(scale);
    let delay = Duration::from_secs_f64(15.0 * scale);
    println!(
        "\n(d) RDS read replica Failover with durations x {scale} ({durations}); seed waiter delay {:.2} s; {runs} runs",
        delay.as_secs_f64()
    );
    let (mut ours_writer, mut ours_total, mut seed_writer, mut seed_total) = (vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        let (s, operator, _, replica) = ready(run).await;
        take_emulator(log, &durations).await;
        log.advance().await;
        let t0 = Instant::now();
        create_request(&s, "unplanned", "Failover", json!({})).await;
        let done = wait_phase(
            &s,
            "unplanned",
            &[pilot_light::api::RequestPhase::Succeeded],
            Duration::from_secs(600),
        )
        .await;
        let total = t0.elapsed().as_secs_f64();
        let status = done.status.unwrap();
        let promote = status.steps.iter().find(|x| x.name == "PromoteDatabase").unwrap();
        let writer = promote.finished_at.as_ref().unwrap().0.as_millisecond() as f64 / 1000.0
            - status.started_at.as_ref().unwrap().0.as_millisecond() as f64 / 1000.0;
        let clean = undisturbed(log, &durations).await;
        log.emulator.set_durations(json!({})).await;
        operator.stop().await;

        let (s2, operator2, _, replica2) = ready(runs + run).await;
        operator2.stop().await;
        take_emulator(log, &durations).await;
        log.advance().await;
        let (sw, st) = seed_order(&replica2, delay).await;
        let clean = clean && undisturbed(log, &durations).await;
        log.emulator.set_durations(json!({})).await;
        drop((s, s2, replica));
        if !clean {
            println!(
                "  run {}: disturbed by someone else's faults or durations; left out",
                run + 1
            );
            continue;
        }
        println!(
            "  run {}: ours writer {writer:.2} s, all {total:.2} s; seed order writer {sw:.2} s, all {st:.2} s",
            run + 1
        );
        ours_writer.push(writer);
        ours_total.push(total);
        seed_writer.push(sw);
        seed_total.push(st);
    }
    if ours_total.is_empty() {
        println!("  no undisturbed run");
        return;
    }
    println!(
        "  {}",
        line("ours, until the promoted writer is available (RTO)", &ours_writer)
    );
    println!("  {}", line("seed order, the same", &seed_writer));
    println!(
        "  {}",
        line("ours, until resized with its new read replica", &ours_total)
    );
    println!("  {}", line("seed order, the same", &seed_total));
    println!(
        "  ratio ours/seed (medians): writer {:.2}, all {:.2} (the replica is created while the writer is resized)",
        median(&ours_writer) / median(&seed_writer),
        median(&ours_total) / median(&seed_total)
    );
}
