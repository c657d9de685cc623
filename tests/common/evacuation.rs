//! Evacuations in tests: a namespace of small PilotLights, evacuations of them, waits.

use std::{collections::BTreeMap, time::Duration};

use futures::future::join_all;
use kube::{
    Api,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use pilot_light::api::{EVACUATION_LABEL, Evacuation, EvacuationPhase, FailoverRequest, MemberPhase, StepState};
use serde_json::{Value, json};

use super::{failover::*, *};

/// PilotLights `app0..app{n}` in the scenario's namespace, each an Aurora global database of its
/// own (the rest of a pilot light adds nothing an evacuation treats differently), with the
/// default failover policy (a Failover needs approval). `tiers[i]` labels `app{i}`.
pub async fn members(s: &Scenario, tiers: &[Option<u32>]) -> Vec<AuroraNames> {
    let labels: Vec<Value> = tiers
        .iter()
        .map(|tier| match tier {
            Some(tier) => json!({"team": "shop", "pilotlight.dev/tier": tier.to_string()}),
            None => json!({"team": "shop"}),
        })
        .collect();
    labelled_members(s, &labels, Duration::from_secs(120)).await
}

/// PilotLights `app0..app{n}` as [`members`] makes them, `app{i}` with the labels `labels[i]`;
/// returns once all are Ready, each within `timeout`.
pub async fn labelled_members(s: &Scenario, labels: &[Value], timeout: Duration) -> Vec<AuroraNames> {
    let mut all = Vec::new();
    for (i, labels) in labels.iter().enumerate() {
        let names = AuroraNames::unique();
        create_primary_cluster("us-east-1", &names.primary).await;
        let mut manifest = aurora_pilotlight(&format!("app{i}"), &names.primary, &names.standby, &names.global);
        manifest["metadata"]["labels"] = labels.clone();
        apply_pilotlight(&s.client, &s.ns.name, manifest).await;
        all.push(names);
    }
    join_all((0..labels.len()).map(|i| {
        let name = format!("app{i}");
        async move {
            wait_condition(&s.client, &s.ns.name, &name, "Ready", "True", None, timeout).await;
        }
    }))
    .await;
    all
}

pub fn evacuations(s: &Scenario) -> Api<Evacuation> {
    Api::all(s.client.clone())
}

/// Creates Evacuation `name` of every `team=shop` PilotLight of the namespace, recorded as
/// created by alice; `extra` is merged into the spec. Deleted when the guard drops.
pub async fn create_evacuation(s: &Scenario, name: &str, type_: &str, extra: Value) -> Deleted {
    let mut spec = json!({
        "type": type_,
        "reason": "INC-42: us-east-1 is down",
        "namespaces": [s.ns.name],
        "selector": {"matchLabels": {"team": "shop"}},
    });
    spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let evacuation: Evacuation = serde_json::from_value(json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "Evacuation",
        "metadata": {"name": name, "annotations": {"pilotlight.dev/created-by": "alice"}},
        "spec": spec,
    }))
    .unwrap();
    evacuations(s)
        .create(&PostParams::default(), &evacuation)
        .await
        .expect("create Evacuation");
    Deleted(name.to_owned())
}

/// Deletes a cluster-scoped Evacuation when the test ends, whatever its outcome.
pub struct Deleted(pub String);

impl Drop for Deleted {
    fn drop(&mut self) {
        // A client of its own: the test's runs on the runtime this drop blocks.
        let name = self.0.clone();
        run_to_completion_in_drop(async move {
            let _ = Api::<Evacuation>::all(client().await)
                .delete(&name, &DeleteParams::default())
                .await;
        });
    }
}

pub async fn patch_evacuation(s: &Scenario, name: &str, spec: Value) {
    evacuations(s)
        .patch(name, &PatchParams::default(), &Patch::Merge(json!({ "spec": spec })))
        .await
        .expect("patch Evacuation");
}

pub async fn wait_evacuation(s: &Scenario, name: &str, phases: &[EvacuationPhase], timeout: Duration) -> Evacuation {
    eventually(timeout, || async {
        let e = evacuations(s).get(name).await.ok()?;
        e.phase().filter(|p| phases.contains(p)).map(|_| e.clone())
    })
    .await
    .unwrap_or_else(|| panic!("Evacuation {name} did not reach {phases:?} within {timeout:?}"))
}

/// The evacuation's requests, by PilotLight name.
pub async fn children(s: &Scenario, name: &str) -> BTreeMap<String, FailoverRequest> {
    requests(s)
        .list(&ListParams::default().labels(&format!("{EVACUATION_LABEL}={name}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| (r.spec.pilot_light_ref.name.clone(), r))
        .collect()
}

pub fn member_phases(e: &Evacuation) -> BTreeMap<String, MemberPhase> {
    e.status
        .as_ref()
        .unwrap()
        .members
        .iter()
        .map(|m| (m.name.clone(), m.phase))
        .collect()
}

/// When a request's PromoteDatabase step finished, or the request ended (whole seconds).
pub fn released_at(r: &FailoverRequest) -> jiff::Timestamp {
    let status = r.status.as_ref().unwrap();
    status
        .steps
        .iter()
        .find(|s| s.name == "PromoteDatabase" && s.state == StepState::Succeeded)
        .and_then(|s| s.finished_at.clone())
        .or(status.completed_at.clone())
        .expect("a released request")
        .0
}

pub fn started_at(r: &FailoverRequest) -> jiff::Timestamp {
    r.metadata.creation_timestamp.clone().unwrap().0
}
