//! `kubectl pilotlight` (the `kubectl-pilotlight` binary) against the real API server, with the
//! operator running: a dry-run plan, a drill followed to the end, status and history.

mod common;

use std::process::Command;

use common::{failover::*, *};

fn plugin(namespace: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-pilotlight"))
        .args(["-n", namespace])
        .args(args)
        .output()
        .expect("run kubectl-pilotlight");
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
    let run = |args: Vec<String>| {
        let ns = ns.clone();
        tokio::task::spawn_blocking(move || plugin(&ns, &args.iter().map(String::as_str).collect::<Vec<_>>()))
    };

    let (ok, out) = run(vec!["plan".into(), "app".into(), "--type".into(), "Switchover".into()])
        .await
        .unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains("PromoteDatabase") && out.contains("Dry run: the plan has 7 steps"),
        "{out}"
    );

    let (ok, out) = run(["drill", "app", "--reason", "DRILL-7", "--wait"]
        .map(String::from)
        .to_vec())
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("created by testenv-admin"), "{out}");
    assert!(out.contains("Succeeded: Drill succeeded"), "{out}");
    let last_table = out.rsplit("STEP ").next().unwrap();
    assert!(
        last_table
            .lines()
            .any(|l| l.starts_with("ScaleDownCompute") && l.contains("Succeeded")),
        "{out}"
    );

    let (ok, out) = run(vec!["status".into()]).await.unwrap();
    assert!(ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("app ")).expect("a line for app");
    assert!(line.contains("us-east-1") && line.contains("Drill Succeeded"), "{out}");

    let (ok, out) = run(vec!["history".into(), "app".into()]).await.unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("Switchover (dry run)") && out.contains("DRILL-7"), "{out}");
    assert!(out.contains("testenv-admin"), "{out}");

    let (ok, out) = run(vec!["status".into(), "nothing-here".into()]).await.unwrap();
    assert!(!ok && out.contains("error:"), "a missing PilotLight is an error: {out}");
    operator.stop().await;
}
