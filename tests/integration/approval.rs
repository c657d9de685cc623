//! The approval guard of FailoverRequests (`deploy/admission/failoverrequest-approval.yaml`,
//! docs/approval.md) on the real API server, with impersonated users: the creator is recorded
//! truthfully, nobody approves at creation, and only a second person approves, in their own name.

use std::time::Duration;

use crate::common::*;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use pilot_light::api::{FailoverRequest, RequestPhase};
use serde_json::{Value, json};

const CREATED_BY: &str = "pilotlight.dev/created-by";

/// An admin client, and a namespace where the policy applies and alice and bob may work.
async fn setup(prefix: &str) -> (Client, TestNamespace) {
    let admin = client().await;
    ensure_crds(&admin).await;
    install_approval_policy(&admin).await;
    install_creator_policy(&admin).await;
    let ns = approval_namespace(&admin, prefix).await;
    grant_failover_users(&admin, &ns.name, &["alice", "bob"]).await;
    (admin, ns)
}

/// A drill request, with the `created-by` annotation when given.
fn request(name: &str, created_by: Option<&str>) -> FailoverRequest {
    let mut manifest = json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "FailoverRequest",
        "metadata": {"name": name},
        "spec": {"pilotLightRef": {"name": "app"}, "type": "Drill", "reason": "DRILL-1: approval test"},
    });
    if let Some(user) = created_by {
        manifest["metadata"]["annotations"] = json!({CREATED_BY: user});
    }
    serde_json::from_value(manifest).unwrap()
}

async fn requests_as(user: &str, namespace: &str) -> Api<FailoverRequest> {
    Api::namespaced(client_as(user).await, namespace)
}

async fn create(api: &Api<FailoverRequest>, request: &FailoverRequest) -> Result<FailoverRequest, kube::Error> {
    api.create(&PostParams::default(), request).await
}

async fn merge(api: &Api<FailoverRequest>, name: &str, patch: Value) -> Result<FailoverRequest, kube::Error> {
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await
}

fn approve(user: &str) -> Value {
    json!({"spec": {"approvedBy": user}})
}

/// The message of a request the approval policy denied. Its denials are 422 Invalid (the
/// validations set no `reason`), not 403 as RBAC's are.
fn denial(result: Result<FailoverRequest, kube::Error>) -> String {
    match result {
        Ok(fr) => panic!("{} was accepted but must be denied", fr.name_any()),
        Err(kube::Error::Api(status)) => {
            assert_eq!(
                (status.code, status.reason.as_str()),
                (422, "Invalid"),
                "expected 422 Invalid, got {status:?}"
            );
            assert!(
                status
                    .message
                    .contains("ValidatingAdmissionPolicy 'failoverrequest-approval.pilotlight.dev'"),
                "denied by something other than the approval policy: {}",
                status.message
            );
            status.message
        }
        Err(e) => panic!("expected a denial by the API server, got {e}"),
    }
}

fn assert_contains(message: &str, expected: &str) {
    assert!(message.contains(expected), "expected {expected:?} in: {message}");
}

/// `kubectl --as USER create -f -` of `request` in `namespace`: the created object's creator.
fn kubectl_create_as(user: &str, namespace: &str, request: &FailoverRequest) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .args(["--as", user, "create", "-n", namespace, "-f", "-", "-o"])
        .arg(format!(
            "jsonpath={{.metadata.annotations.{}}}",
            CREATED_BY.replace('.', "\\.")
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl (testenv puts it on PATH)");
    let manifest = serde_json::to_string(request).unwrap();
    child.stdin.take().unwrap().write_all(manifest.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Plain `kubectl create -f` under the two-person rule: the creator stamp (a
/// MutatingAdmissionPolicy) records who created the request, whatever the request said, and the
/// approval guard still refuses self-approval.
#[tokio::test]
async fn the_creator_is_stamped_whatever_the_request_says() {
    let (_admin, ns) = setup("approval-stamp").await;
    assert_eq!(kubectl_create_as("alice", &ns.name, &request("plain", None)), "alice");
    assert_eq!(
        kubectl_create_as("alice", &ns.name, &request("forged", Some("bob"))),
        "alice",
        "a forged creator is overwritten"
    );
    let alice = requests_as("alice", &ns.name).await;
    let message = denial(merge(&alice, "forged", approve("alice")).await);
    assert_contains(
        &message,
        "the creator of a FailoverRequest cannot approve it (alice created it)",
    );
    let bob = requests_as("bob", &ns.name).await;
    let approved = merge(&bob, "forged", approve("bob")).await.expect("bob approves");
    assert_eq!(approved.spec.approved_by.as_deref(), Some("bob"));
    assert_eq!(
        approved.annotations().get(CREATED_BY).map(String::as_str),
        Some("alice")
    );
}

/// Without the creator stamp (clusters before Kubernetes 1.36), the creator names themselves.
#[tokio::test]
async fn without_the_stamp_the_creator_must_name_themselves() {
    let admin = client().await;
    ensure_crds(&admin).await;
    install_approval_policy(&admin).await;
    let name = format!("approval-nostamp-{}", unique_suffix());
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {APPROVAL_TEST_LABEL: "true"}}})).unwrap();
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create namespace");
    grant_failover_users(&admin, &name, &["alice", "bob"]).await;
    let alice = requests_as("alice", &name).await;

    let created = create(&alice, &request("by-alice", Some("alice")))
        .await
        .expect("alice's own request");
    assert_eq!(created.annotations().get(CREATED_BY).map(String::as_str), Some("alice"));

    let message = denial(create(&alice, &request("as-bob", Some("bob"))).await);
    assert_contains(
        &message,
        "metadata.annotations['pilotlight.dev/created-by'] must be your user name (alice), not 'bob'",
    );

    let message = denial(create(&alice, &request("anonymous", None)).await);
    assert_contains(
        &message,
        "metadata.annotations['pilotlight.dev/created-by'] must be your user name (alice); it is missing",
    );
    let _ = Api::<Namespace>::all(admin).delete(&name, &Default::default()).await;
}

#[tokio::test]
async fn nobody_approves_at_creation() {
    let (_admin, ns) = setup("approval-at-create").await;
    let bob = requests_as("bob", &ns.name).await;
    for approver in ["bob", "alice"] {
        let mut fr = request(&format!("pre-approved-by-{approver}"), Some("bob"));
        fr.spec.approved_by = Some(approver.to_owned());
        let message = denial(create(&bob, &fr).await);
        assert_contains(&message, "spec.approvedBy must not be set at creation");
    }
}

#[tokio::test]
async fn only_a_second_person_approves_in_their_own_name() {
    let (_admin, ns) = setup("approval-approve").await;
    let (alice, bob) = (requests_as("alice", &ns.name).await, requests_as("bob", &ns.name).await);
    create(&alice, &request("drill", Some("alice")))
        .await
        .expect("alice's request");

    let message = denial(merge(&alice, "drill", approve("alice")).await);
    assert_contains(
        &message,
        "the creator of a FailoverRequest cannot approve it (alice created it)",
    );

    let message = denial(merge(&bob, "drill", approve("alice")).await);
    assert_contains(&message, "spec.approvedBy must be your own user name (bob)");

    let message = denial(merge(&alice, "drill", approve("bob")).await);
    assert_contains(&message, "spec.approvedBy must be your own user name (alice)");

    let approved = merge(&bob, "drill", approve("bob")).await.expect("bob approves");
    assert_eq!(approved.spec.approved_by.as_deref(), Some("bob"));
    assert_eq!(
        approved.annotations().get(CREATED_BY).map(String::as_str),
        Some("alice")
    );

    // Other updates stay possible for both once approved: cancel, labels.
    merge(&alice, "drill", json!({"metadata": {"labels": {"ticket": "DRILL-1"}}}))
        .await
        .expect("alice labels her request");
    let cancelled = merge(&bob, "drill", json!({"spec": {"cancel": true}}))
        .await
        .expect("bob cancels");
    assert!(cancelled.spec.cancel);
}

#[tokio::test]
async fn the_creator_record_cannot_change_or_be_removed() {
    let (_admin, ns) = setup("approval-annotation").await;
    let (alice, bob) = (requests_as("alice", &ns.name).await, requests_as("bob", &ns.name).await);
    create(&alice, &request("drill", Some("alice")))
        .await
        .expect("alice's request");
    let expected = "metadata.annotations['pilotlight.dev/created-by'] cannot be changed or removed (it is 'alice')";

    for (api, value) in [(&bob, json!("bob")), (&alice, json!("bob")), (&alice, Value::Null)] {
        let patch = json!({"metadata": {"annotations": {CREATED_BY: value}}});
        assert_contains(&denial(merge(api, "drill", patch).await), expected);
    }
    // Nor together with an approval, which would make bob look like a second person to himself.
    let patch = json!({"metadata": {"annotations": {CREATED_BY: "carol"}}, "spec": {"approvedBy": "bob"}});
    assert_contains(&denial(merge(&bob, "drill", patch).await), expected);

    // A full update (PUT) that leaves the annotation as it is, is accepted.
    let mut current = alice.get("drill").await.expect("get");
    current.labels_mut().insert("team".into(), "sre".into());
    alice
        .replace("drill", &PostParams::default(), &current)
        .await
        .expect("an update that keeps the annotation");
    let stored = alice.get("drill").await.expect("get");
    assert_eq!(stored.annotations().get(CREATED_BY).map(String::as_str), Some("alice"));
}

#[tokio::test]
async fn status_updates_are_not_guarded() {
    let (admin, ns) = setup("approval-status").await;
    // The shipped rule names the resource only; `failoverrequests/status` is another resource to
    // admission, which the rule does not match (checked by hand with a deny-all policy).
    let (policy, _) = approval_policy_documents();
    let rules = policy.spec.unwrap().match_constraints.unwrap().resource_rules.unwrap();
    let resources: Vec<_> = rules.iter().flat_map(|r| r.resources.clone().unwrap()).collect();
    assert_eq!(resources, ["failoverrequests"]);

    create(&requests_as("alice", &ns.name).await, &request("drill", Some("alice")))
        .await
        .expect("alice's request");
    let admin_requests: Api<FailoverRequest> = Api::namespaced(admin.clone(), &ns.name);
    for phase in ["AwaitingApproval", "Running"] {
        let patch = json!({"status": {"phase": phase, "message": format!("test: {phase}")}});
        admin_requests
            .patch_status("drill", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("status patch to {phase}: {e}"));
    }
    // The admin's own writes to the object itself are guarded like anyone's.
    let message = denial(merge(&admin_requests, "drill", approve("alice")).await);
    assert_contains(&message, "spec.approvedBy must be your own user name (testenv-admin)");
    let stored = admin_requests.get("drill").await.expect("get");
    assert_eq!(stored.status.unwrap().phase, Some(RequestPhase::Running));
}

/// A request created before the policy (here: in a namespace it did not apply to yet) has no
/// creator record; nobody can tell who created it, so it cannot be approved.
#[tokio::test]
async fn a_request_without_creator_record_cannot_be_approved() {
    let admin = client().await;
    ensure_crds(&admin).await;
    install_approval_policy(&admin).await;
    let ns = TestNamespace::new(&admin, "approval-legacy").await;
    grant_failover_users(&admin, &ns.name, &["alice", "bob"]).await;
    let admin_requests: Api<FailoverRequest> = Api::namespaced(admin.clone(), &ns.name);
    create(&admin_requests, &request("legacy", None))
        .await
        .expect("created while the policy does not apply");

    let label = json!({"metadata": {"labels": {APPROVAL_TEST_LABEL: "true"}}});
    Api::<Namespace>::all(admin.clone())
        .patch(&ns.name, &PatchParams::default(), &Patch::Merge(&label))
        .await
        .expect("label the namespace");
    // The API server sees the label once its namespace cache has it: dry-run until denied.
    let bob = requests_as("bob", &ns.name).await;
    let dry_run = PatchParams {
        dry_run: true,
        ..Default::default()
    };
    let denied = eventually(Duration::from_secs(30), || async {
        match bob.patch("legacy", &dry_run, &Patch::Merge(approve("bob"))).await {
            Err(kube::Error::Api(status)) if status.message.contains("ValidatingAdmissionPolicy") => {
                Some(kube::Error::Api(status))
            }
            _ => None,
        }
    })
    .await
    .expect("the policy applies to the namespace after labelling it");
    let expected = "this FailoverRequest does not record its creator";
    assert_contains(&denial(Err(denied)), expected);
    assert_contains(&denial(merge(&bob, "legacy", approve("bob")).await), expected);

    // Adding a record afterwards is a change of it, too.
    let patch = json!({"metadata": {"annotations": {CREATED_BY: "alice"}}});
    let message = denial(merge(&requests_as("alice", &ns.name).await, "legacy", patch).await);
    assert_contains(&message, "cannot be changed or removed");
}

/// The shipped manifest is what docs/approval.md describes: enforced everywhere, failing closed.
#[test]
fn the_shipped_manifest_denies_everywhere_and_fails_closed() {
    let (policy, binding) = approval_policy_documents();
    let spec = policy.spec.as_ref().unwrap();
    assert_eq!(spec.failure_policy.as_deref(), Some("Fail"));
    let rules = spec
        .match_constraints
        .as_ref()
        .unwrap()
        .resource_rules
        .as_ref()
        .unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].api_groups.as_deref(), Some(&["pilotlight.dev".to_owned()][..]));
    assert_eq!(rules[0].api_versions.as_deref(), Some(&["v1alpha1".to_owned()][..]));
    assert_eq!(
        rules[0].operations.as_deref(),
        Some(&["CREATE".to_owned(), "UPDATE".to_owned()][..])
    );
    let binding_spec = &binding.spec;
    assert_eq!(binding_spec.policy_name, policy.name_any());
    assert_eq!(binding_spec.validation_actions, ["Deny"]);
    assert!(
        binding_spec.match_resources.is_none(),
        "the binding applies to every namespace"
    );
    assert!(binding_spec.param_ref.is_none());
}

#[tokio::test]
async fn an_approved_request_runs_and_a_self_approved_one_never_does() {
    let (admin, ns) = setup("appr-run").await;
    let names = AuroraNames::unique();
    let mut s = Scenario {
        client: admin,
        manifest: aurora_pilotlight("app", &names.primary, &names.standby, &names.global),
        names,
        ns,
    };
    let operator = s.start_operator().await;
    failover::failover_setup(&mut s).await;
    s.apply(|m| m["spec"]["failover"]["approval"]["required"] = json!(true))
        .await;
    let alice = requests_as("alice", &s.ns.name).await;
    let mut switch = request("switch", Some("alice"));
    switch.spec.type_ = pilot_light::api::FailoverType::Switchover;
    create(&alice, &switch).await.expect("alice creates the request");
    let waiting = failover::wait_phase(&s, "switch", &[RequestPhase::AwaitingApproval], Duration::from_secs(30)).await;
    assert!(waiting.status.unwrap().message.unwrap().contains("another person"));

    // The API server refuses alice's own approval; the request keeps waiting.
    assert_contains(
        &denial(merge(&alice, "switch", approve("alice")).await),
        "cannot approve",
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = failover::requests(&s).get("switch").await.unwrap();
    assert_eq!(failover::phase(&still), Some(RequestPhase::AwaitingApproval));
    assert_eq!(failover::writer(&s.names.global).await.0, "us-east-1", "nothing moved");

    // Bob's approval starts it.
    let bob = requests_as("bob", &s.ns.name).await;
    merge(&bob, "switch", approve("bob")).await.expect("bob approves");
    let done = failover::wait_phase(
        &s,
        "switch",
        &[RequestPhase::Succeeded, RequestPhase::Failed],
        Duration::from_secs(60),
    )
    .await;
    let status = done.status.unwrap();
    assert_eq!(status.phase, Some(RequestPhase::Succeeded), "{status:#?}");
    assert_eq!(failover::writer(&s.names.global).await.0, "us-west-2");
    let rto = status.recovery_time_seconds.unwrap();
    assert!(rto < 30.0, "RTO counts from the approval, not from creation: {rto}");
    operator.stop().await;
}
