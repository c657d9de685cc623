//! `kubectl pilotlight` (the `kubectl-pilotlight` binary) against the real API server, with the
//! operator running: every command, as the user and impersonating others with `--as`.

use std::{process::Command, time::Duration};

use crate::common::{failover::*, *};

/// Runs `kubectl pilotlight -n NAMESPACE ARGS...` off the runtime's thread (the operator under
/// test runs on it); returns whether it succeeded, and its output.
async fn plugin(namespace: &str, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-pilotlight"));
    command.args(["-n", namespace]).args(args);
    let out = tokio::task::spawn_blocking(move || command.output().expect("run kubectl-pilotlight"))
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn plan_drill_status_and_history_from_the_command_line() {
    let mut s = Scenario::new("plugin").await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    let healthy = http_endpoint(200).await;
    s.apply(|m| m["spec"]["failover"]["smokeTest"] = serde_json::json!({"url": healthy}))
        .await;
    let ns = s.ns.name.clone();

    let (ok, out) = plugin(&ns, &["plan", "app", "--type", "Switchover"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("PromoteDatabase") && out.contains("Dry run: the plan has 8 steps"),
        "{out}"
    );

    let (ok, out) = plugin(&ns, &["drill", "app", "--reason", "DRILL-7", "--wait"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("created by testenv-admin"), "{out}");
    assert!(out.contains("\nDrill succeeded. Done: "), "{out}");
    let last_table = out.rsplit("STEP ").next().unwrap();
    assert!(
        last_table
            .lines()
            .any(|l| l.starts_with("ScaleDownCompute") && l.contains("Succeeded")),
        "{out}"
    );

    let (ok, out) = plugin(&ns, &["status"]).await;
    assert!(ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("app ")).expect("a line for app");
    assert!(line.contains("us-east-1") && line.contains("Drill Succeeded"), "{out}");

    let (ok, out) = plugin(&ns, &["history", "app"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("Switchover (dry run)") && out.contains("DRILL-7"), "{out}");
    assert!(out.contains("testenv-admin"), "{out}");

    let (ok, out) = plugin(&ns, &["status", "nothing-here"]).await;
    assert!(!ok && out.contains("error:"), "a missing PilotLight is an error: {out}");
    operator.stop().await;
}

/// The request's name from the plugin's "NAME created by USER" line.
fn created(out: &str) -> String {
    out.lines()
        .find_map(|l| l.split_once(" created by ").map(|(name, _)| name.to_owned()))
        .unwrap_or_else(|| panic!("a created line in {out}"))
}

#[tokio::test]
async fn failover_approve_failback_switchover_and_cancel_from_the_command_line() {
    use pilot_light::api::RequestPhase::*;
    let mut s = Scenario::new("plugin-approve").await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    let healthy = http_endpoint(200).await;
    s.apply(|m| {
        m["spec"]["failover"] = serde_json::json!({"approval": {"required": true}, "smokeTest": {"url": healthy}})
    })
    .await;
    grant_failover_users(&s.client, &s.ns.name, &["alice", "bob"]).await;
    let ns = s.ns.name.clone();

    // A drill first: its record on the PilotLight must survive the failovers after it.
    let (ok, out) = plugin(
        &ns,
        &["--as", "alice", "drill", "app", "--reason", "rehearsal", "--wait"],
    )
    .await;
    assert!(ok && out.contains("Succeeded"), "{out}");

    // Alice fails over; with --wait the plugin stops at the approval and says what to run.
    let (ok, out) = plugin(
        &ns,
        &["--as", "alice", "failover", "app", "--reason", "INC-42", "--wait"],
    )
    .await;
    assert!(ok, "{out}");
    let failover = created(&out);
    assert!(out.contains("created by alice"), "{out}");
    assert!(out.contains(&format!("kubectl pilotlight approve {failover}")), "{out}");
    wait_phase(&s, &failover, &[AwaitingApproval], Duration::from_secs(30)).await;

    // Bob approves it as himself, and it runs.
    let (ok, out) = plugin(&ns, &["--as", "bob", "approve", &failover]).await;
    assert!(ok && out.contains(&format!("{failover} approved by bob")), "{out}");
    let done = wait_phase(&s, &failover, &[Succeeded, Failed], Duration::from_secs(90)).await;
    assert_eq!(phase(&done), Some(Succeeded), "{:#?}", done.status);
    assert_eq!(done.spec.approved_by.as_deref(), Some("bob"));

    // The admin (who did not create them) approves the failback and the switchover; --wait
    // follows each to its end, and the exit code says it succeeded.
    for (type_, reason) in [("failback", "back home"), ("switchover", "planned move")] {
        let started = plugin(&ns, &["--as", "alice", type_, "app", "--reason", reason]).await;
        assert!(started.0, "{}", started.1);
        let name = created(&started.1);
        wait_phase(&s, &name, &[AwaitingApproval], Duration::from_secs(30)).await;
        let (ok, out) = plugin(&ns, &["approve", &name]).await;
        assert!(ok && out.contains("approved by testenv-admin"), "{out}");
        let done = wait_phase(&s, &name, &[Succeeded, Failed], Duration::from_secs(90)).await;
        assert_eq!(phase(&done), Some(Succeeded), "{type_}: {:#?}", done.status);
    }
    assert_eq!(
        endpoints(&s).await.get("activeRegion").map(String::as_str),
        Some("us-west-2")
    );

    // A request waiting for approval is cancelled from the command line.
    let (ok, out) = plugin(
        &ns,
        &["--as", "alice", "failback", "app", "--reason", "changed my mind"],
    )
    .await;
    assert!(ok, "{out}");
    let waiting = created(&out);
    wait_phase(&s, &waiting, &[AwaitingApproval], Duration::from_secs(30)).await;
    let (ok, out) = plugin(&ns, &["cancel", &waiting]).await;
    assert!(ok && out.contains("cancel requested"), "{out}");
    wait_phase(&s, &waiting, &[Cancelled], Duration::from_secs(30)).await;

    // One PilotLight in detail: its conditions and where it serves from.
    let (ok, out) = plugin(&ns, &["status", "app"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("DatabaseReplicating") && out.contains("us-west-2"),
        "{out}"
    );
    assert!(
        out.contains("Drill Succeeded") && out.contains("Switchover Succeeded"),
        "the last drill and the last failover both shown: {out}"
    );
    assert!(
        out.contains("Recent readiness and drills") && out.contains("DrillSucceeded"),
        "the trend: {out}"
    );
    // The outcome is the exit code: a switchover while the standby already serves is Rejected.
    let (ok, out) = plugin(
        &ns,
        &["--as", "alice", "switchover", "app", "--reason", "again", "--wait"],
    )
    .await;
    assert!(!ok && out.contains("Rejected"), "{out}");
    operator.stop().await;
}
