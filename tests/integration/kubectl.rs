//! The resource names people type, with the real `kubectl` of the test environment: the kinds'
//! singular, plural and short names each find one object, and the `pilot-light` category lists
//! both kinds. (A category spelled like a kind's name would win over it: kubectl expands
//! categories first, so `kubectl get pilotlight NAME` would ask for two kinds.)

use crate::common::*;
use serde_json::json;

/// `kubectl get ARGS... -n NAMESPACE -o name`: its stdout, or a panic with its stderr.
fn kubectl_get(namespace: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .arg("get")
        .args(args)
        .args(["-n", namespace, "-o", "name"])
        .output()
        .expect("kubectl (testenv puts it on PATH)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl get {args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `kubectl create -f -` of `manifest` in `namespace`.
fn kubectl_create(namespace: &str, manifest: &serde_json::Value) {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .args(["create", "-n", namespace, "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("kubectl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn kubectl_finds_each_kind_by_every_name_people_type() {
    require_testenv();
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "names").await;
    let target =
        |region: &str| json!({"dnsName": format!("app.{region}.elb.amazonaws.com"), "hostedZoneId": "Z35SXDOTRQ7X7K"});
    kubectl_create(
        &ns.name,
        &json!({
            "apiVersion": "pilotlight.dev/v1alpha1",
            "kind": "PilotLight",
            "metadata": {"name": "checkout"},
            "spec": {
                "regions": {"primary": "us-east-1", "standby": "us-west-2"},
                "traffic": {"route53": {
                    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
                    "recordName": "checkout.example.com",
                    "primaryTarget": target("us-east-1"),
                    "standbyTarget": target("us-west-2"),
                }},
            },
        }),
    );
    kubectl_create(
        &ns.name,
        &json!({
            "apiVersion": "pilotlight.dev/v1alpha1",
            "kind": "FailoverRequest",
            "metadata": {"name": "checkout-drill"},
            "spec": {"pilotLightRef": {"name": "checkout"}, "type": "Drill", "reason": "quarterly drill"},
        }),
    );

    let pilotlight = "pilotlight.pilotlight.dev/checkout";
    let request = "failoverrequest.pilotlight.dev/checkout-drill";
    for name in ["pilotlight", "pilotlights", "pl", "pilotlight.pilotlight.dev"] {
        assert_eq!(
            kubectl_get(&ns.name, &[name, "checkout"]),
            pilotlight,
            "kubectl get {name} checkout"
        );
    }
    for name in ["failoverrequest", "failoverrequests", "fr", "failover"] {
        assert_eq!(
            kubectl_get(&ns.name, &[name, "checkout-drill"]),
            request,
            "kubectl get {name} checkout-drill"
        );
    }
    let both = kubectl_get(&ns.name, &["pilot-light"]);
    let mut listed: Vec<&str> = both.lines().collect();
    listed.sort();
    assert_eq!(listed, vec![request, pilotlight], "the category lists both kinds");
}
