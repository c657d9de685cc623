//! The `pilot-light run` binary as a process: it refuses to start without its CRDs, serves the
//! health and metrics endpoints, and stops cleanly on SIGTERM.
//!
//! It deletes and re-creates the CRDs, which every other test needs: one reason for
//! `tests/exclusive/`.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use crate::common::*;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, ResourceExt, api::DeleteParams};

#[tokio::test]
async fn refuses_to_run_without_crds_serves_health_and_stops_on_sigterm() {
    let _serial = crate::SERIAL.lock().await;
    let client = client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());

    // Other tests leave PilotLights and open FailoverRequests (one waiting for approval holds its
    // finalizer) whose operator is gone; their finalizers would keep the CRDs from being deleted.
    unblock::<pilot_light::api::PilotLight>(&client).await;
    unblock::<pilot_light::api::FailoverRequest>(&client).await;

    // Without CRDs: a clear message and a non-zero exit, promptly.
    for name in ["pilotlights.pilotlight.dev", "failoverrequests.pilotlight.dev"] {
        let _ = crds.delete(name, &DeleteParams::default()).await;
        eventually(Duration::from_secs(60), || async {
            crds.get_opt(name).await.ok()?.is_none().then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("CRD {name} deleted"));
    }
    let started = Instant::now();
    let output = operator_command(free_port(), "default").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "exit code 2; stderr: {stderr}");
    assert!(
        stderr.contains("CustomResourceDefinition is not installed")
            && stderr.contains("pilot-light crd | kubectl apply -f -"),
        "says what is missing and how to install it: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "fails fast, took {:?}",
        started.elapsed()
    );

    // With CRDs: health, readiness and metrics.
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "process").await;
    let port = free_port();
    let log_path = std::env::temp_dir().join(format!("pilot-light-{}.log", ns.name));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = operator_command(port, &ns.name);
    command.stdout(log.try_clone().unwrap()).stderr(log);
    let mut guard = KillOnDrop(Some(command.spawn().unwrap()));
    let pid = guard.0.as_ref().unwrap().id();
    let base = format!("http://127.0.0.1:{port}");
    let ready = eventually(Duration::from_secs(30), || async {
        let (status, _) = get(&format!("{base}/readyz")).await?;
        (status == 200).then_some(())
    })
    .await;
    if ready.is_none() {
        let mut child = guard.0.take().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "/readyz never returned 200; log: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }
    assert_eq!(get(&format!("{base}/healthz")).await.map(|(s, _)| s), Some(200));

    // One reconcile (of a PilotLight whose primary cluster does not exist) fills the metrics.
    let s = unique_suffix();
    let manifest = aurora_pilotlight("app", &format!("p-{s}"), &format!("s-{s}"), &format!("g-{s}"));
    apply_pilotlight(&client, &ns.name, manifest).await;
    wait_condition(
        &client,
        &ns.name,
        "app",
        "Ready",
        "False",
        Some("PrimaryClusterNotFound"),
        Duration::from_secs(30),
    )
    .await;
    let (status, metrics) = get(&format!("{base}/metrics")).await.unwrap();
    assert_eq!(status, 200);
    for sample in [
        "pilot_light_reconciliations_total{controller=\"pilotlight\"} ",
        "pilot_light_aws_calls_total{service=\"RDS\",operation=\"DescribeGlobalClusters\",region=\"us-east-1\"",
        &format!(
            "pilot_light_pilotlight_ready{{namespace=\"{}\",name=\"app\"}} 0",
            ns.name
        ),
    ] {
        assert!(metrics.contains(sample), "{sample} exported:\n{metrics}");
    }

    // SIGTERM: exits 0 within a few seconds.
    let stopped = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(kill.success());
    let out = guard.0.take().unwrap().wait_with_output().unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(out.status.success(), "clean exit on SIGTERM: {:?}\n{logs}", out.status);
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        stopped.elapsed()
    );
    assert!(logs.contains("SIGTERM received"), "logs the shutdown: {logs}");
}

/// Removes the finalizers of every object of kind `K`.
async fn unblock<K>(client: &kube::Client)
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let all: Api<K> = Api::all(client.clone());
    for object in all.list(&Default::default()).await.map(|l| l.items).unwrap_or_default() {
        let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
        let unblock = serde_json::json!({"metadata": {"finalizers": null}});
        let _ = api
            .patch(
                &object.name_any(),
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&unblock),
            )
            .await;
    }
}
