//! The CRDs on the real API server: every manifest in `tests/fixtures/invalid/` is rejected with
//! the message its `# expect:` line names, every forbidden update in `invalid-updates/` too, and
//! every example and legal update is accepted.

use std::path::{Path, PathBuf};

use crate::common::*;
use kube::{
    Api, Client,
    api::{DynamicObject, GroupVersionKind, PostParams},
    discovery::ApiResource,
};
use serde_json::Value;

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The `# expect:` substring and the YAML documents of a fixture file.
fn load(path: &Path) -> (Option<String>, Vec<Value>) {
    let text = std::fs::read_to_string(path).unwrap();
    let expect = text
        .lines()
        .find_map(|l| l.strip_prefix("# expect:"))
        .map(|s| s.trim().to_owned());
    let docs = text
        .split("\n---")
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|d| serde_yaml::from_str::<Value>(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect();
    (expect, docs)
}

fn api_for(client: &Client, namespace: &str, doc: &Value) -> Api<DynamicObject> {
    let (group, version) = doc["apiVersion"].as_str().unwrap().split_once('/').unwrap();
    let gvk = GroupVersionKind::gvk(group, version, doc["kind"].as_str().unwrap());
    let plural = match gvk.kind.as_str() {
        "PilotLight" => "pilotlights",
        "FailoverRequest" => "failoverrequests",
        other => panic!("unexpected kind {other}"),
    };
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

fn object(doc: &Value) -> DynamicObject {
    serde_json::from_value(doc.clone()).unwrap()
}

/// Replaces `current` with the object in `doc` (an update, as `kubectl replace` does).
async fn replace_with(
    api: &Api<DynamicObject>,
    current: &DynamicObject,
    doc: &Value,
) -> Result<DynamicObject, kube::Error> {
    let mut next = object(doc);
    next.metadata.resource_version = current.metadata.resource_version.clone();
    api.replace(current.metadata.name.as_deref().unwrap(), &PostParams::default(), &next)
        .await
}

/// The API server's message for a rejected request.
fn rejection(result: Result<DynamicObject, kube::Error>, path: &Path) -> String {
    match result {
        Ok(_) => panic!("{} was accepted but must be rejected", path.display()),
        Err(kube::Error::Api(status)) => {
            assert_eq!(
                status.code,
                422,
                "{}: expected 422 Invalid, got {status:?}",
                path.display()
            );
            status.message
        }
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

#[tokio::test]
async fn invalid_manifests_are_rejected_with_a_message_a_person_understands() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "admission-invalid").await;
    let files = fixtures("tests/fixtures/invalid");
    assert!(
        files.len() >= 15,
        "the corpus has at least 15 cases, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let (expect, docs) = load(path);
        let expect = expect.unwrap_or_else(|| panic!("{} has no '# expect:' line", path.display()));
        assert_eq!(docs.len(), 1, "{}: one manifest per file", path.display());
        let api = api_for(&client, &ns.name, &docs[0]);
        let message = rejection(api.create(&PostParams::default(), &object(&docs[0])).await, path);
        if !message.contains(&expect) {
            failures.push(format!(
                "{}:\n  expected: {expect}\n  got:      {message}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "messages differ:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn forbidden_updates_are_rejected_and_legal_ones_accepted() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "admission-updates").await;
    let mut failures = Vec::new();
    let invalid_updates = fixtures("tests/fixtures/invalid-updates");
    assert!(
        invalid_updates.len() >= 7,
        "forbidden updates: {}",
        invalid_updates.len()
    );
    for path in invalid_updates {
        let (expect, docs) = load(&path);
        let expect = expect.unwrap_or_else(|| panic!("{} has no '# expect:' line", path.display()));
        let [original, updated] = docs.as_slice() else {
            panic!("{}: two documents", path.display())
        };
        let api = api_for(&client, &ns.name, original);
        let created = api.create(&PostParams::default(), &object(original)).await.unwrap();
        let message = rejection(replace_with(&api, &created, updated).await, &path);
        if !message.contains(&expect) {
            failures.push(format!(
                "{}:\n  expected: {expect}\n  got:      {message}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "messages differ:\n{}", failures.join("\n"));

    let valid_updates = fixtures("tests/fixtures/valid-updates");
    assert!(!valid_updates.is_empty(), "legal updates are tested too");
    for path in valid_updates {
        let (_, docs) = load(&path);
        let api = api_for(&client, &ns.name, &docs[0]);
        let mut current = api.create(&PostParams::default(), &object(&docs[0])).await.unwrap();
        for doc in &docs[1..] {
            current = replace_with(&api, &current, doc)
                .await
                .unwrap_or_else(|e| panic!("{}: legal update rejected: {e}", path.display()));
        }
    }
}

#[tokio::test]
async fn every_example_is_accepted() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "admission-examples").await;
    let examples = fixtures("examples");
    assert!(examples.len() >= 2);
    for path in examples {
        let (_, docs) = load(&path);
        for doc in docs {
            let api = api_for(&client, &ns.name, &doc);
            api.create(&PostParams::default(), &object(&doc))
                .await
                .unwrap_or_else(|e| panic!("{} rejected: {e}", path.display()));
        }
    }
}

/// A PilotLight with traffic in `mode` (`None`: the CRD's default), as JSON for kubectl.
fn traffic_manifest(name: &str, mode: Option<&str>) -> String {
    let target = |region: &str| serde_json::json!({"dnsName": format!("app.{region}.elb.amazonaws.com"), "hostedZoneId": "Z35SXDOTRQ7X7K"});
    let mut traffic = serde_json::json!({"route53": {
        "hostedZoneId": "Z0123456789ABCDEFGHIJ",
        "recordName": "api.example.com",
        "primaryTarget": target("us-east-1"),
        "standbyTarget": target("us-west-2"),
    }});
    if let Some(mode) = mode {
        traffic["mode"] = mode.into();
    }
    serde_json::json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "PilotLight",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"regions": {"primary": "us-east-1", "standby": "us-west-2"}, "traffic": traffic},
    })
    .to_string()
}

/// `kubectl apply --dry-run=server` of `manifest`: its stderr (where kubectl prints warnings).
fn dry_run_apply(manifest: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .args(["apply", "--dry-run=server", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl (testenv puts it on PATH)");
    child.stdin.take().unwrap().write_all(manifest.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "kubectl apply --dry-run=server failed: {stderr}");
    stderr
}

#[tokio::test]
async fn record_update_traffic_is_admitted_with_a_warning_about_us_east_1() {
    require_testenv();
    ensure_crds(&client().await).await;
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/admission/pilotlight-traffic-warning.yaml");
    let applied = std::process::Command::new("kubectl")
        .args(["apply", "--server-side", "--field-manager", "pilot-light-tests", "-f"])
        .arg(&policy)
        .output()
        .expect("kubectl");
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));

    // The API server enforces a new policy once its policy cache has refreshed.
    let record_update = traffic_manifest("warned", Some("recordUpdate"));
    let warning = eventually(std::time::Duration::from_secs(30), || async {
        let stderr = dry_run_apply(&record_update);
        stderr.contains("Warning:").then_some(stderr)
    })
    .await
    .expect("kubectl printed a warning for recordUpdate");
    assert!(
        warning.contains("Route 53's control plane")
            && warning.contains("us-east-1")
            && warning.contains("failoverRouting"),
        "{warning}"
    );
    for mode in [Some("failoverRouting"), None] {
        let stderr = dry_run_apply(&traffic_manifest("quiet", mode));
        assert!(!stderr.contains("Warning:"), "{mode:?}: {stderr}");
    }
}
