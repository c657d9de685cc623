//! The Helm chart `charts/pilot-light`: `helm lint`, what `helm template` renders, and the
//! rendered chart applied to the test API server, where the operator runs under the chart's
//! ServiceAccount through a switchover and a deletion. The API server's audit log then shows
//! every verb the operator used, and `kubectl auth can-i --list` every verb the chart grants:
//! the two sets must be equal, and no request may have been refused.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use crate::common::{evacuation::*, failover::*, *};
use kube::{Api, api::PostParams};
use pilot_light::api::{Evacuation, EvacuationPhase, RequestPhase};
use serde_json::{Value, json};

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/pilot-light")
}

fn helm(args: &[&str]) -> String {
    require_testenv();
    let helm = std::env::var("PILOT_LIGHT_HELM").expect("PILOT_LIGHT_HELM is set by .testenv/env");
    run(Command::new(helm).args(args))
}

fn kubectl(args: &[&str]) -> String {
    run(Command::new("kubectl").args(args))
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `helm template` with `--set` values, as parsed documents.
fn template(namespace: &str, sets: &[&str]) -> Vec<Value> {
    let chart = chart();
    let mut args = vec!["template", "pl", chart.to_str().unwrap(), "--namespace", namespace];
    for set in sets {
        args.extend(["--set", set]);
    }
    parse_documents(&helm(&args))
}

fn parse_documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|doc| Value::deserialize(doc).ok())
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name} rendered"))
}

fn kinds(docs: &[Value]) -> BTreeSet<String> {
    docs.iter().map(|d| d["kind"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn lints_cleanly_with_defaults_and_every_option() {
    let chart = chart();
    let chart = chart.to_str().unwrap();
    helm(&["lint", "--strict", chart]);
    helm(&[
        "lint",
        "--strict",
        chart,
        "--set",
        "watchNamespace=apps,serviceMonitor.enabled=true,networkPolicy.enabled=true,grafanaDashboard.enabled=true",
        "--set",
        "serviceAccount.roleArn=arn:aws:iam::123456789012:role/pilot-light,replicaCount=1",
    ]);
}

#[test]
fn renders_two_restricted_replicas_with_a_disruption_budget() {
    let docs = template("ops", &[]);
    assert_eq!(
        kinds(&docs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ]
        .map(String::from)
        .into(),
        "the default install; the optional objects are off"
    );
    let deployment = find(&docs, "Deployment", "pl-pilot-light");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "pl-pilot-light");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--leader-election=true"), "{args:?}");
    let env = container["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "POD_NAMESPACE" && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"),
        "the Lease lives in the pod's namespace: {env:?}"
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");

    let pdb = find(&docs, "PodDisruptionBudget", "pl-pilot-light");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );

    // Without IRSA the ServiceAccount has no role annotation; with it, exactly that one.
    assert!(find(&docs, "ServiceAccount", "pl-pilot-light")["metadata"]["annotations"].is_null());
    let irsa = template("ops", &["serviceAccount.roleArn=arn:aws:iam::123456789012:role/pl"]);
    assert_eq!(
        find(&irsa, "ServiceAccount", "pl-pilot-light")["metadata"]["annotations"],
        json!({"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/pl"})
    );

    // One replica: nothing to keep available through a drain.
    assert!(!kinds(&template("ops", &["replicaCount=1"])).contains("PodDisruptionBudget"));
}

#[test]
fn a_label_shard_has_its_own_lease_and_leaves_evacuations_to_one_release() {
    let args = |docs: &[Value]| -> Vec<String> {
        find(docs, "Deployment", "pl-pilot-light")["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let has_evacuation_role = |docs: &[Value]| {
        docs.iter()
            .any(|d| d["metadata"]["name"] == "pl-pilot-light-evacuations")
    };

    let shard = template("ops", &["pilotLightSelector=shard=a"]);
    assert!(args(&shard).contains(&"--pilotlight-selector=shard=a".to_owned()));
    assert!(
        args(&shard).contains(&"--evacuations=false".to_owned()),
        "{:?}",
        args(&shard)
    );
    assert!(!has_evacuation_role(&shard), "a shard does not watch Evacuations");
    let lease = find(&shard, "Role", "pl-pilot-light-leader-election");
    assert_eq!(
        lease["rules"][1]["resourceNames"],
        json!([pilot_light::leader::lease_name(None, Some("shard=a"))]),
        "the chart names the Lease as the operator does"
    );

    let evacuating_shard = template("ops", &["pilotLightSelector=shard=b,handleEvacuations=true"]);
    assert!(args(&evacuating_shard).contains(&"--evacuations=true".to_owned()));
    assert!(has_evacuation_role(&evacuating_shard));

    let whole = template("ops", &[]);
    assert!(args(&whole).contains(&"--evacuations=true".to_owned()));
    assert!(!args(&whole).iter().any(|a| a.starts_with("--pilotlight-selector")));
    assert!(has_evacuation_role(&whole));
    let namespaced_shard = template("ops", &["watchNamespace=apps,pilotLightSelector=shard=a"]);
    assert_eq!(
        find(&namespaced_shard, "Role", "pl-pilot-light-leader-election")["rules"][1]["resourceNames"],
        json!([pilot_light::leader::lease_name(Some("apps"), Some("shard=a"))])
    );
}

#[test]
fn renders_the_optional_objects_and_a_namespaced_role() {
    let docs = template(
        "ops",
        &["watchNamespace=apps,serviceMonitor.enabled=true,networkPolicy.enabled=true,grafanaDashboard.enabled=true"],
    );
    for kind in ["ServiceMonitor", "NetworkPolicy", "ConfigMap"] {
        assert!(kinds(&docs).contains(kind), "{kind} rendered");
    }
    let cluster_roles: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole")
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        cluster_roles,
        ["pl-pilot-light-evacuations"],
        "watching one namespace needs a ClusterRole only for the cluster-scoped Evacuations"
    );
    let role = docs
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == "apps")
        .expect("a Role in the watched namespace");
    let cluster_role = find(&template("ops", &[]), "ClusterRole", "pl-pilot-light").clone();
    assert_eq!(
        role["rules"], cluster_role["rules"],
        "the same rules, only narrower in scope"
    );
    let events = find(&docs, "Role", "pl-pilot-light-evacuation-events");
    assert_eq!(
        events["metadata"]["namespace"], "default",
        "where an Evacuation's Events go"
    );
    assert_eq!(
        events["rules"],
        json!([{"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]}])
    );
    assert!(
        !kinds(&template("ops", &["watchNamespace=default"])).is_empty()
            && template("ops", &["watchNamespace=default"])
                .iter()
                .all(|d| d["metadata"]["name"] != "pl-pilot-light-evacuation-events"),
        "an operator of `default` has its Events there already"
    );
    let lease = find(&docs, "Role", "pl-pilot-light-leader-election");
    assert_eq!(lease["rules"][1]["resourceNames"], json!(["pilot-light-apps"]));

    let dashboard = find(&docs, "ConfigMap", "pl-pilot-light-dashboard");
    let json: Value = serde_json::from_str(dashboard["data"]["pilot-light.json"].as_str().unwrap())
        .expect("the dashboard ConfigMap holds the dashboard JSON");
    assert_eq!(json["uid"], "pilot-light");
}

#[test]
fn ships_the_crds_generated_from_the_rust_types() {
    let chart = chart();
    let out = helm(&["show", "crds", chart.to_str().unwrap()]);
    let shipped = parse_documents(&out);
    let generated: Vec<Value> = pilot_light::api::crd_documents()
        .into_iter()
        .map(|(_, yaml)| serde_yaml::from_str(&yaml).unwrap())
        .collect();
    assert_eq!(shipped.len(), generated.len());
    for crd in generated {
        assert!(
            shipped.contains(&crd),
            "{} shipped as generated",
            crd["metadata"]["name"]
        );
    }
}

/// One permission: API group, resource (with `/subresource`), resource name (empty: any), verb.
type Permission = (String, String, String, String);

/// What the chart grants `user` in `namespace`: what `kubectl auth can-i --list` says it may do,
/// less what a service account without any binding (`default`) may do anyway.
fn granted(user: &str, namespace: &str) -> BTreeSet<Permission> {
    let everyone = can_i(&format!("system:serviceaccount:{namespace}:default"), namespace);
    can_i(user, namespace).difference(&everyone).cloned().collect()
}

/// `kubectl auth can-i --list`, resource rules only.
fn can_i(user: &str, namespace: &str) -> BTreeSet<Permission> {
    let out = kubectl(&["auth", "can-i", "--list", "--as", user, "-n", namespace]);
    let mut granted = BTreeSet::new();
    for line in out.lines().skip(1) {
        let fields = tokens(line);
        let (resource, urls, names, verbs) = match fields.as_slice() {
            [resource, urls, names, verbs] => (resource, urls, names, verbs),
            [urls, names, verbs] if urls.starts_with('[') => (&String::new(), urls, names, verbs),
            _ => panic!("unexpected can-i line {line:?}"),
        };
        if resource.is_empty() || urls != "[]" {
            continue;
        }
        // `failoverrequests.pilotlight.dev/status`: resource, group, subresource.
        let (resource, sub) = resource
            .split_once('/')
            .map_or((resource.as_str(), String::new()), |(r, s)| (r, format!("/{s}")));
        let (resource, group) = resource.split_once('.').unwrap_or((resource, ""));
        let resource = format!("{resource}{sub}");
        for name in list(names)
            .into_iter()
            .chain((list(names).is_empty()).then(String::new))
        {
            for verb in list(verbs) {
                granted.insert((group.to_owned(), resource.clone(), name.clone(), verb));
            }
        }
    }
    granted
}

/// A can-i line's columns: plain words and `[...]` lists.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let end = if rest.starts_with('[') {
            rest.find(']').map(|i| i + 1).unwrap_or(rest.len())
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        out.push(rest[..end].to_owned());
        rest = rest[end..].trim_start();
    }
    out
}

fn list(field: &str) -> Vec<String> {
    field
        .trim_matches(['[', ']'])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Every request `user` made, from the API server's audit log: the permissions used (with the
/// object's name only where the grant names one), and the refused requests.
fn audited(user: &str, named: &BTreeSet<String>) -> (BTreeSet<Permission>, Vec<String>) {
    let path = std::env::var("PILOT_LIGHT_AUDIT_LOG").expect("PILOT_LIGHT_AUDIT_LOG is set by .testenv/env");
    let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let mut used = BTreeSet::new();
    let mut refused = Vec::new();
    for event in log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
        if event["user"]["username"] != user || event["stage"] != "ResponseComplete" {
            continue;
        }
        let object = &event["objectRef"];
        let verb = event["verb"].as_str().unwrap_or_default().to_owned();
        if event["responseStatus"]["code"] == 403 {
            refused.push(format!("{verb} {object} ({})", event["responseStatus"]["message"]));
        }
        let mut resource = object["resource"].as_str().unwrap_or_default().to_owned();
        if let Some(sub) = object["subresource"].as_str() {
            resource = format!("{resource}/{sub}");
        }
        let name = match object["name"].as_str() {
            Some(name) if named.contains(&resource) && verb != "create" => name.to_owned(),
            _ => String::new(),
        };
        let group = object["apiGroup"].as_str().unwrap_or_default().to_owned();
        // A server-side apply that creates its object is audited as a patch answered 201, and
        // is authorized as a create as well.
        if verb == "patch" && event["responseStatus"]["code"] == 201 {
            used.insert((group.clone(), resource.clone(), name.clone(), "create".to_owned()));
        }
        used.insert((group, resource, name, verb));
    }
    (used, refused)
}

/// A kubeconfig that authenticates as `account` in `namespace` with a TokenRequest token, for
/// the same API server as the admin's.
fn service_account_kubeconfig(namespace: &str, account: &str, dir: &Path) -> PathBuf {
    let token = kubectl(&["create", "token", account, "-n", namespace, "--duration", "1h"]);
    let admin = std::env::var("KUBECONFIG").unwrap();
    let mut config: Value = serde_yaml::from_str(&std::fs::read_to_string(admin).unwrap()).unwrap();
    config["users"] = json!([{"name": account, "user": {"token": token.trim()}}]);
    config["contexts"][0]["context"]["user"] = json!(account);
    config["contexts"][0]["context"]["namespace"] = json!(namespace);
    let path = dir.join(format!("{namespace}-{account}.kubeconfig"));
    std::fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    path
}

/// Deletes the chart's cluster-scoped admission objects when the test ends, however it ends, so
/// later tests that install the policy start from nothing.
struct ClusterScoped(Vec<String>);

impl Drop for ClusterScoped {
    fn drop(&mut self) {
        for object in &self.0 {
            let _ = Command::new("kubectl")
                .args(["delete", "--ignore-not-found", object])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[tokio::test]
async fn the_operator_runs_under_the_charts_service_account_with_exactly_the_rights_it_uses() {
    let _serial = crate::SERIAL.lock().await;
    let mut s = Scenario::new("helm").await;
    let ns = s.ns.name.clone();
    let _cleanup = ClusterScoped(vec![
        "validatingadmissionpolicybinding/failoverrequest-approval.pilotlight.dev".into(),
        "validatingadmissionpolicy/failoverrequest-approval.pilotlight.dev".into(),
        "validatingadmissionpolicybinding/evacuation-approval.pilotlight.dev".into(),
        "validatingadmissionpolicy/evacuation-approval.pilotlight.dev".into(),
        "clusterrolebinding/pl-pilot-light-evacuations".into(),
        "clusterrole/pl-pilot-light-evacuations".into(),
        "rolebinding/pl-pilot-light-evacuation-events".into(),
        "role/pl-pilot-light-evacuation-events".into(),
    ]);

    // The rendered chart, CRDs included, applied to the API server. The operator watches this
    // namespace only, and the approval policy applies only here, so other tests are unaffected.
    let chart = chart();
    let rendered = helm(&[
        "template",
        "pl",
        chart.to_str().unwrap(),
        "--namespace",
        &ns,
        "--include-crds",
        "--set",
        &format!("watchNamespace={ns}"),
        "--set",
        &format!("approvalPolicy.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name={ns}"),
        "--set",
        "networkPolicy.enabled=true,grafanaDashboard.enabled=true",
    ]);
    let dir = tempdir();
    let manifest = dir.join("rendered.yaml");
    std::fs::write(&manifest, &rendered).unwrap();
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager",
        "helm-test",
        "-f",
        manifest.to_str().unwrap(),
    ]);
    let listed = kubectl(&["get", "-f", manifest.to_str().unwrap(), "-o", "name"]);
    assert_eq!(
        listed.lines().count(),
        parse_documents(&rendered).len(),
        "every rendered object exists: {listed}"
    );

    let user = format!("system:serviceaccount:{ns}:pl-pilot-light");
    let lease = format!("pilot-light-{ns}");
    let grants = granted(&user, &ns);
    let named: BTreeSet<String> = grants
        .iter()
        .filter(|(_, _, name, _)| !name.is_empty())
        .map(|(_, resource, _, _)| resource.clone())
        .collect();
    assert_eq!(named, ["leases".to_owned()].into(), "only the Lease is granted by name");

    // Two replicas, as the chart runs them, with the chart's identity and arguments.
    let kubeconfig = service_account_kubeconfig(&ns, "pl-pilot-light", &dir);
    let replicas: Vec<KillOnDrop> = ["replica-a", "replica-b"]
        .into_iter()
        .map(|name| {
            let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
            let mut command = operator_command(free_port(), &ns);
            command
                .args([
                    "--converging-interval",
                    "1",
                    "--degraded-interval",
                    "2",
                    "--detection-interval",
                    "1",
                ])
                .env("KUBECONFIG", &kubeconfig)
                .env("POD_NAMESPACE", &ns)
                .env("POD_NAME", name)
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            KillOnDrop(Some(command.spawn().unwrap()))
        })
        .collect();

    // A pilot light with every component, a switchover (the approval policy is enforced here:
    // the request records its creator), and the PilotLight's deletion with its cleanup.
    failover_setup(&mut s).await;

    // Detection proposes a failover (the operator creates a request as itself, which the approval
    // policy checks); cancelled, and the primary recovers.
    let check = detect(&mut s, json!({"mode": "Propose", "unhealthyFor": "1s"})).await;
    let emulator = Emulator::new();
    emulator.set_health_check_status(&check, "Failure").await;
    let proposed = eventually(Duration::from_secs(60), || async {
        let list = requests(&s).list(&Default::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|r| phase(r) == Some(RequestPhase::AwaitingApproval))
    })
    .await
    .expect("a proposed failover");
    let proposed = proposed.metadata.name.unwrap();
    patch_request(&requests(&s), &proposed, json!({"cancel": true}))
        .await
        .expect("cancel the proposal");
    wait_phase(&s, &proposed, &[RequestPhase::Cancelled], Duration::from_secs(30)).await;
    emulator.set_health_check_status(&check, "Success").await;
    primary_healthy(&s, "True").await;

    create_request(&s, "switch", "Switchover", json!({})).await;
    let done = wait_phase(
        &s,
        "switch",
        &[RequestPhase::Succeeded, RequestPhase::Failed],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(
        done.status.as_ref().and_then(|st| st.phase),
        Some(RequestPhase::Succeeded),
        "{:#?}",
        done.status
    );
    assert_eq!(
        endpoints(&s).await.get("activeRegion").map(String::as_str),
        Some("us-west-2")
    );
    // A dry-run evacuation of it (created truthfully: the chart's evacuation policy applies to
    // every Evacuation): the operator watches Evacuations, makes the request and writes the
    // evacuation's status with the chart's rights.
    let evacuation_name = format!("helm-{ns}");
    let evacuation: Evacuation = serde_json::from_value(json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "Evacuation",
        "metadata": {"name": evacuation_name, "annotations": {"pilotlight.dev/created-by": "testenv-admin"}},
        "spec": {"type": "Failback", "reason": "helm test", "dryRun": true,
                 "pilotLights": [{"namespace": ns, "name": "app"}]},
    }))
    .unwrap();
    Api::<Evacuation>::all(s.client.clone())
        .create(&PostParams::default(), &evacuation)
        .await
        .expect("create the Evacuation");
    let _evacuation = Deleted(evacuation_name.clone());
    let evacuated = wait_evacuation(
        &s,
        &evacuation_name,
        &[EvacuationPhase::Succeeded, EvacuationPhase::Failed],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        evacuated.phase(),
        Some(EvacuationPhase::Succeeded),
        "{:#?}",
        evacuated.status
    );
    s.delete_pilotlight().await;
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(s.client.clone(), &ns);
    let holder = leases
        .get(&lease)
        .await
        .expect("the leader Lease")
        .spec
        .and_then(|l| l.holder_identity);
    assert!(holder.is_some_and(|h| h.starts_with("replica-")), "a replica leads");
    drop(replicas);

    // The audit log is written as requests complete: give the last ones a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (used, refused) = audited(&user, &named);
    assert!(refused.is_empty(), "requests refused to the operator: {refused:#?}");
    // Everything the chart grants is used; everything used is allowed (by the chart, or to every
    // user, like the SelfSubjectReview that tells the operator its own name).
    let unused: Vec<_> = grants.difference(&used).collect();
    let allowed = can_i(&user, &ns);
    let ungranted: Vec<_> = used.difference(&allowed).collect();
    assert!(
        unused.is_empty() && ungranted.is_empty(),
        "the chart grants exactly what the operator uses.\ngranted, never used: {unused:#?}\nused, not granted: {ungranted:#?}"
    );
    for (name, log) in
        ["replica-a", "replica-b"].map(|n| (n, std::fs::read_to_string(dir.join(format!("{n}.log"))).unwrap()))
    {
        assert!(!log.contains("Forbidden"), "{name} logged a refusal:\n{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pilot-light-helm-{}", unique_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_creator_stamp_is_rendered_when_the_cluster_serves_it_or_when_asked() {
    let has_stamp = |docs: &[Value]| kinds(docs).iter().any(|k| k == "MutatingAdmissionPolicy");
    assert!(
        !has_stamp(&template("ops", &[])),
        "helm template knows no cluster: auto renders nothing"
    );
    let docs = template("ops", &["approvalPolicy.stampCreator=true"]);
    let policy = find(
        &docs,
        "MutatingAdmissionPolicy",
        "failoverrequest-creator.pilotlight.dev",
    );
    let expression = policy["spec"]["mutations"][0]["applyConfiguration"]["expression"]
        .as_str()
        .unwrap();
    assert!(expression.contains("request.userInfo.username"), "{expression}");
    find(
        &docs,
        "MutatingAdmissionPolicyBinding",
        "failoverrequest-creator.pilotlight.dev",
    );
    let off = template(
        "ops",
        &["approvalPolicy.stampCreator=true", "approvalPolicy.enabled=false"],
    );
    assert!(!has_stamp(&off), "no stamp without the approval guard");
}
