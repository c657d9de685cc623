//! The operator process is killed (SIGKILL) after every journal write of a running switchover:
//! at every step boundary and during every wait. Each time a new process resumes from
//! `status.steps`; the request completes, and the call log shows each mutating AWS call once.

use std::{
    collections::HashSet,
    process::Child,
    time::{Duration, Instant},
};

use crate::common::{failover::*, *};
use pilot_light::api::{FailoverRequest, RequestPhase, StepState};
use serde_json::json;

/// The operator binary without leader election (a killed process's Lease would otherwise hold
/// the next one back for its whole duration).
fn start_operator(namespace: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::env::temp_dir().join("pilot-light-failover-restarts.log"))
        .expect("operator log");
    operator_command(free_port(), namespace)
        .args(["--leader-election", "false"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start the operator binary")
}

/// Everything the journal says, so that any write is seen as a change.
fn fingerprint(request: &FailoverRequest) -> String {
    let status = request.status.clone().unwrap_or_default();
    format!(
        "{:?} {:?}",
        status.phase,
        status
            .steps
            .iter()
            .map(|s| (&s.name, s.state, s.attempts, &s.message, &s.operation))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn a_switchover_survives_a_kill_after_every_journal_write() {
    let _serial = crate::SERIAL.lock().await;
    let mut s = Scenario::new("fo-kill").await;
    let in_process = s.start_operator().await;
    let setup = failover_setup(&mut s).await;
    in_process.stop().await;
    let emulator = Emulator::new();
    emulator
        .set_durations(json!({
            "rds:SwitchoverGlobalCluster": 2.0,
            "ec2:RunInstances": 1.5,
            "elasticloadbalancing:RegisterTargets": 1.0,
            "route53:ChangeResourceRecordSets": 1.5,
        }))
        .await;
    let mark = call_log_mark(&emulator).await;

    create_request(&s, "switch", "Switchover", json!({})).await;
    let mut operator = KillOnDrop(Some(start_operator(&s.ns.name)));
    let api = requests(&s);
    let mut seen = HashSet::new();
    let mut kills = 0;
    let mut last_kill = Instant::now();
    // Steps seen running when the operator was killed.
    let mut interrupted = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    let done = loop {
        assert!(
            Instant::now() < deadline,
            "no outcome after {kills} kills: {:#?}",
            api.get("switch").await.ok()
        );
        let Ok(request) = api.get("switch").await else {
            continue;
        };
        match phase(&request) {
            // After every journal write, and every 700 ms within a long wait.
            Some(RequestPhase::Running)
                if seen.insert(fingerprint(&request)) || last_kill.elapsed() > Duration::from_millis(700) =>
            {
                if let Some(mut child) = operator.0.take() {
                    child.kill().expect("SIGKILL the operator");
                    child.wait().unwrap();
                }
                kills += 1;
                last_kill = Instant::now();
                for step in request.status.iter().flat_map(|s| &s.steps) {
                    if step.state == StepState::Running {
                        interrupted.insert(step.name.clone());
                    }
                }
                operator.0 = Some(start_operator(&s.ns.name));
            }
            Some(RequestPhase::Running | RequestPhase::Pending | RequestPhase::AwaitingApproval) | None => {}
            Some(_) => break request,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    emulator.set_durations(json!({})).await;

    let status = done.status.clone().unwrap();
    assert_eq!(status.phase, Some(RequestPhase::Succeeded), "{status:#?}");
    assert!(
        status.steps.iter().all(|x| x.state == StepState::Succeeded),
        "{status:#?}"
    );
    assert!(
        kills >= status.steps.len(),
        "killed at least once per step (boundaries and waits): {kills}"
    );
    for wait in [
        "PromoteDatabase",
        "WaitTargetsHealthy",
        "SwitchTraffic",
        "UpdateWriterRecord",
    ] {
        assert!(interrupted.contains(wait), "killed during {wait}: {interrupted:?}");
    }
    let calls = mutating_calls(&emulator, "pilot-light", mark).await;
    for call in [
        "us-west-2 SwitchoverGlobalCluster",
        "us-west-2 UpdateAutoScalingGroup",
        "us-east-1 UpdateAutoScalingGroup",
        "us-west-2 PutBucketReplication",
    ] {
        assert_eq!(
            calls.iter().filter(|c| c.as_str() == call).count(),
            1,
            "{call} once: {calls:?}"
        );
    }
    assert_eq!(
        calls.iter().filter(|c| c.ends_with("ChangeResourceRecordSets")).count(),
        2,
        "the application record and the writer CNAME, once each: {calls:?}"
    );
    assert_eq!(writer(&s.names.global).await.0, "us-west-2");
    assert_eq!(capacity("us-west-2", &setup.full.asg).await, (2, 4, 10));
    eprintln!("killed the operator {kills} times, during {interrupted:?}; calls: {calls:?}");
}
