use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, OwnerReference};

use super::*;
use crate::api::{EvacuationSpec, FailoverRequestStatus, PilotLightStatus, StepStatus};

fn time(second: i64) -> Time {
    Time(jiff::Timestamp::from_second(1_800_000_000 + second).unwrap())
}

fn pilotlight(ns: &str, name: &str, tier: Option<&str>, ready: bool) -> PilotLight {
    let mut pl: PilotLight = serde_yaml::from_str(include_str!("../../../examples/pilotlight-full.yaml")).unwrap();
    pl.metadata.namespace = Some(ns.into());
    pl.metadata.name = Some(name.into());
    pl.metadata.labels = Some([("app.kubernetes.io/part-of".to_owned(), "shop".to_owned())].into());
    if let Some(tier) = tier {
        pl.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert(TIER_LABEL.into(), tier.into());
    }
    pl.status = Some(PilotLightStatus {
        conditions: vec![Condition {
            type_: "ComputeReady".into(),
            status: if ready { "True" } else { "False" }.into(),
            reason: if ready { "Ready" } else { "GroupMissing" }.into(),
            message: "m".into(),
            last_transition_time: time(0),
            observed_generation: None,
        }],
        ..Default::default()
    });
    pl
}

fn evacuation(spec: serde_json::Value) -> Evacuation {
    let mut spec_json = serde_json::json!({"type": "Failover", "reason": "INC-1"});
    spec_json
        .as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    let spec: EvacuationSpec = serde_json::from_value(spec_json).unwrap();
    let mut e = Evacuation::new("east", spec);
    e.metadata.uid = Some("uid-1".into());
    e.metadata.annotations = Some([(crate::api::CREATED_BY.to_owned(), "alice".to_owned())].into());
    e
}

fn approved(mut e: Evacuation) -> Evacuation {
    e.spec.approved_by = Some("bob".into());
    e
}

fn key(ns: &str, name: &str) -> PilotLightKey {
    PilotLightKey {
        namespace: ns.into(),
        name: name.into(),
    }
}

/// A request the evacuation made for `pl`, in `phase`, with the PromoteDatabase step in `promote`.
fn request(e: &Evacuation, ns: &str, pl: &str, phase: Option<RequestPhase>, promote: StepState) -> FailoverRequest {
    let mut r = FailoverRequest::against(pl, e.spec.type_, "INC-1", "operator");
    r.metadata.name = Some(e.request_name(pl));
    r.metadata.namespace = Some(ns.into());
    r.metadata.owner_references = Some(vec![OwnerReference {
        kind: "Evacuation".into(),
        name: "east".into(),
        uid: "uid-1".into(),
        api_version: "pilotlight.dev/v1alpha1".into(),
        ..Default::default()
    }]);
    r.status = Some(FailoverRequestStatus {
        phase,
        message: phase.map(|p| format!("{p:?} message")),
        steps: vec![StepStatus {
            name: "PromoteDatabase".into(),
            state: promote,
            depends_on: vec![],
            started_at: None,
            finished_at: None,
            attempts: 0,
            message: None,
            operation: None,
        }],
        recovery_time_seconds: (phase == Some(RequestPhase::Succeeded)).then_some(pl.len() as f64),
        completed_at: phase.filter(|p| p.is_final()).map(|_| time(pl.len() as i64)),
        ..Default::default()
    });
    r
}

struct World {
    pls: BTreeMap<PilotLightKey, PilotLight>,
    requests: BTreeMap<PilotLightKey, FailoverRequest>,
}

impl World {
    fn new(pls: Vec<PilotLight>) -> Self {
        Self {
            pls: pls.into_iter().map(|pl| (key_of(&pl), pl)).collect(),
            requests: BTreeMap::new(),
        }
    }

    /// Resolves the members (first sight), then decides once.
    fn first(&self, e: &mut Evacuation) -> Decision {
        let candidates: Vec<PilotLight> = self.pls.values().cloned().collect();
        e.status = Some(EvacuationStatus {
            members: members(e, &candidates).unwrap(),
            ..Default::default()
        });
        self.decide(e)
    }

    fn decide(&self, e: &Evacuation) -> Decision {
        decide(&Observed {
            evacuation: e,
            pilotlights: &self.pls,
            requests: &self.requests,
            now: time(100),
        })
    }
}

fn shop_selector() -> serde_json::Value {
    serde_json::json!({"selector": {"matchLabels": {"app.kubernetes.io/part-of": "shop"}}})
}

#[test]
fn the_set_is_the_selector_and_the_list_ordered_by_tier_with_unlabelled_last() {
    let pls = vec![
        pilotlight("a", "web", Some("1"), true),
        pilotlight("b", "db", Some("0"), true),
        pilotlight("a", "batch", None, true),
        pilotlight("c", "typo", Some("first"), true),
    ];
    let mut spec = shop_selector();
    spec["namespaces"] = serde_json::json!(["a", "b", "c"]);
    spec["pilotLights"] = serde_json::json!([{"namespace": "z", "name": "gone"}]);
    let e = evacuation(spec);
    let members = members(&e, &pls).unwrap();
    let order: Vec<(String, u32, MemberPhase)> =
        members.iter().map(|m| (m.key().to_string(), m.tier, m.phase)).collect();
    assert_eq!(
        order,
        vec![
            ("b/db".into(), 0, MemberPhase::Waiting),
            ("a/web".into(), 1, MemberPhase::Waiting),
            ("a/batch".into(), LAST_TIER, MemberPhase::Waiting),
            ("c/typo".into(), LAST_TIER, MemberPhase::Waiting),
            ("z/gone".into(), LAST_TIER, MemberPhase::Skipped),
        ]
    );
    assert_eq!(members[4].message.as_deref(), Some("PilotLight does not exist"));
}

#[test]
fn namespaces_limit_the_selector_and_from_region_skips_those_active_elsewhere() {
    let mut moved = pilotlight("a", "moved", None, true);
    moved.status.as_mut().unwrap().active_region = Some("us-west-2".into());
    let pls = vec![
        pilotlight("a", "web", None, true),
        moved,
        pilotlight("other", "x", None, true),
    ];
    let mut spec = shop_selector();
    spec["namespaces"] = serde_json::json!(["a"]);
    spec["fromRegion"] = serde_json::json!("us-east-1");
    let members = members(&evacuation(spec), &pls).unwrap();
    assert_eq!(members.len(), 2);
    let moved = members.iter().find(|m| m.name == "moved").unwrap();
    assert_eq!(moved.phase, MemberPhase::Skipped);
    assert_eq!(
        moved.message.as_deref(),
        Some("active in us-west-2, not in spec.fromRegion us-east-1")
    );
}

#[test]
fn a_bad_selector_is_reported() {
    let mut e = evacuation(serde_json::json!({}));
    e.spec.selector = Some(LabelSelector {
        match_expressions: Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Sometimes".into(),
                values: None,
            },
        ]),
        match_labels: None,
    });
    let err = members(&e, &[]).unwrap_err();
    assert!(err.starts_with("spec.selector is not a valid label selector"), "{err}");
}

#[test]
fn nothing_starts_before_approval_and_the_approver_sees_who_is_not_ready() {
    let world = World::new(vec![
        pilotlight("a", "web", None, true),
        pilotlight("a", "api", None, false),
    ]);
    let mut e = evacuation(shop_selector());
    let d = world.first(&mut e);
    assert!(d.start.is_empty());
    assert_eq!(d.status.phase, Some(EvacuationPhase::AwaitingApproval));
    let message = d.status.message.clone().unwrap();
    assert!(
        message.contains("Failover of 2 PilotLights (1 would not start now"),
        "{message}"
    );
    let api = d.status.members.iter().find(|m| m.name == "api").unwrap();
    let readiness = api.readiness.clone().unwrap();
    assert!(readiness.contains("ComputeReady is False"), "{readiness}");
    assert!(readiness.contains("spec.force"), "{readiness}");
    assert_eq!(
        d.status.members.iter().find(|m| m.name == "web").unwrap().readiness,
        None
    );
}

#[test]
fn self_approval_does_not_count() {
    let world = World::new(vec![pilotlight("a", "web", None, true)]);
    let mut e = evacuation(shop_selector());
    e.spec.approved_by = Some("alice".into());
    let d = world.first(&mut e);
    assert!(d.start.is_empty());
    assert!(
        d.status
            .message
            .unwrap()
            .contains("alice created this evacuation and approved it themselves")
    );
}

#[test]
fn once_approved_ready_members_start_and_unready_ones_are_skipped_unless_forced() {
    let world = World::new(vec![
        pilotlight("a", "web", None, true),
        pilotlight("a", "api", None, false),
    ]);
    let mut e = approved(evacuation(shop_selector()));
    let d = world.first(&mut e);
    assert_eq!(d.start, vec![key("a", "web")]);
    let api = d.status.members.iter().find(|m| m.name == "api").unwrap();
    assert_eq!(api.phase, MemberPhase::Skipped);
    assert!(
        api.message
            .clone()
            .unwrap()
            .starts_with("not started: the standby is not Ready")
    );
    assert_eq!(d.status.phase, Some(EvacuationPhase::Running));
    assert_eq!(d.status.started_at, Some(time(100)));

    let mut forced = approved(evacuation(shop_selector()));
    forced.spec.force = true;
    assert_eq!(world.first(&mut forced).start, vec![key("a", "api"), key("a", "web")]);
}

#[test]
fn a_dry_run_starts_without_approval() {
    let world = World::new(vec![pilotlight("a", "web", None, true)]);
    let mut e = evacuation(shop_selector());
    e.spec.dry_run = true;
    assert_eq!(world.first(&mut e).start, vec![key("a", "web")]);
}

#[test]
fn a_tier_starts_once_every_lower_tier_has_promoted_its_database_or_ended() {
    let mut world = World::new(vec![
        pilotlight("a", "db1", Some("0"), true),
        pilotlight("a", "db2", Some("0"), true),
        pilotlight("a", "web", Some("1"), true),
    ]);
    let mut e = approved(evacuation(shop_selector()));
    let d = world.first(&mut e);
    assert_eq!(d.start, vec![key("a", "db1"), key("a", "db2")]);
    e.status = Some(d.status);

    world.requests.insert(
        key("a", "db1"),
        request(&e, "a", "db1", Some(RequestPhase::Running), StepState::Succeeded),
    );
    world.requests.insert(
        key("a", "db2"),
        request(&e, "a", "db2", Some(RequestPhase::Running), StepState::Running),
    );
    let d = world.decide(&e);
    assert!(d.start.is_empty(), "db2 has not promoted yet");
    assert_eq!(
        d.status.members.iter().find(|m| m.name == "web").unwrap().phase,
        MemberPhase::Waiting
    );

    world.requests.insert(
        key("a", "db2"),
        request(&e, "a", "db2", Some(RequestPhase::Failed), StepState::Failed),
    );
    let d = world.decide(&e);
    assert_eq!(
        d.start,
        vec![key("a", "web")],
        "a failed member does not hold the next tier"
    );
    assert_eq!(d.newly_failed.len(), 1);
    assert_eq!(d.newly_failed[0].pilot_light, "a/db2");
    assert_eq!(d.newly_failed[0].reason, "Failed message");
}

#[test]
fn no_more_than_max_concurrent_run_at_once() {
    let mut world = World::new(
        (0..5)
            .map(|i| pilotlight("a", &format!("app{i}"), None, true))
            .collect(),
    );
    let mut e = approved(evacuation(shop_selector()));
    e.spec.max_concurrent = 2;
    let d = world.first(&mut e);
    assert_eq!(d.start, vec![key("a", "app0"), key("a", "app1")]);
    e.status = Some(d.status);
    world.requests.insert(
        key("a", "app0"),
        request(&e, "a", "app0", Some(RequestPhase::Succeeded), StepState::Succeeded),
    );
    world.requests.insert(
        key("a", "app1"),
        request(&e, "a", "app1", Some(RequestPhase::Running), StepState::Running),
    );
    let d = world.decide(&e);
    assert_eq!(d.start, vec![key("a", "app2")]);
    assert_eq!(d.status.counts.as_ref().unwrap().waiting, 2);
}

#[test]
fn it_ends_with_counts_completion_times_and_rto_percentiles() {
    let mut world = World::new(vec![
        pilotlight("a", "ab", None, true),
        pilotlight("a", "abcd", None, true),
        pilotlight("a", "abcdef", None, true),
    ]);
    let mut e = approved(evacuation(shop_selector()));
    e.status = Some(world.first(&mut e).status);
    for (name, phase) in [
        ("ab", RequestPhase::Succeeded),
        ("abcd", RequestPhase::Succeeded),
        ("abcdef", RequestPhase::Failed),
    ] {
        world.requests.insert(
            key("a", name),
            request(&e, "a", name, Some(phase), StepState::Succeeded),
        );
    }
    let d = world.decide(&e);
    let s = &d.status;
    assert_eq!(s.phase, Some(EvacuationPhase::Failed));
    let counts = s.counts.clone().unwrap();
    assert_eq!((counts.total, counts.succeeded, counts.failed), (3, 2, 1));
    assert_eq!(s.recovery_time_p50_seconds, Some(2.0));
    assert_eq!(s.recovery_time_p95_seconds, Some(4.0));
    assert_eq!(s.first_completed_at, Some(time(2)));
    assert_eq!(s.last_completed_at, Some(time(6)));
    assert_eq!(s.completed_at, Some(time(100)));
    assert_eq!(s.failures.len(), 1);
    assert!(s.message.clone().unwrap().starts_with("Failed: 2 succeeded, 1 failed"));
}

#[test]
fn cancel_starts_nothing_more_cancels_unstarted_requests_and_lets_running_ones_finish() {
    let mut world = World::new(
        (0..4)
            .map(|i| pilotlight("a", &format!("app{i}"), None, true))
            .collect(),
    );
    let mut e = approved(evacuation(shop_selector()));
    e.spec.max_concurrent = 2;
    e.status = Some(world.first(&mut e).status);
    world.requests.insert(
        key("a", "app0"),
        request(&e, "a", "app0", Some(RequestPhase::Running), StepState::Running),
    );
    world
        .requests
        .insert(key("a", "app1"), request(&e, "a", "app1", None, StepState::Pending));
    e.spec.cancel = true;
    let d = world.decide(&e);
    assert!(d.start.is_empty());
    assert_eq!(d.cancel, vec![key("a", "app1")]);
    let phases: Vec<MemberPhase> = d.status.members.iter().map(|m| m.phase).collect();
    assert_eq!(
        phases,
        vec![
            MemberPhase::Running,
            MemberPhase::Running,
            MemberPhase::Cancelled,
            MemberPhase::Cancelled
        ]
    );
    assert_eq!(d.status.phase, Some(EvacuationPhase::Running));
    assert!(d.status.message.clone().unwrap().starts_with("Cancelling"));

    e.status = Some(d.status);
    world.requests.insert(
        key("a", "app0"),
        request(&e, "a", "app0", Some(RequestPhase::Succeeded), StepState::Succeeded),
    );
    world.requests.insert(
        key("a", "app1"),
        request(&e, "a", "app1", Some(RequestPhase::Cancelled), StepState::Pending),
    );
    let d = world.decide(&e);
    assert_eq!(d.status.phase, Some(EvacuationPhase::Cancelled));
}

#[test]
fn a_member_whose_request_was_deleted_is_cancelled_and_a_rejected_one_skipped() {
    let mut world = World::new(vec![
        pilotlight("a", "web", None, true),
        pilotlight("a", "api", None, true),
    ]);
    let mut e = approved(evacuation(shop_selector()));
    e.status = Some(world.first(&mut e).status);
    world.requests.insert(
        key("a", "api"),
        request(&e, "a", "api", Some(RequestPhase::Rejected), StepState::Pending),
    );
    let d = world.decide(&e);
    let by_name = |n: &str| d.status.members.iter().find(|m| m.name == n).unwrap().clone();
    assert_eq!(by_name("web").phase, MemberPhase::Cancelled);
    assert!(by_name("web").message.unwrap().contains("was deleted"));
    assert_eq!(by_name("api").phase, MemberPhase::Skipped);
    assert_eq!(by_name("api").message.as_deref(), Some("Rejected message"));
}

#[test]
fn nothing_selected_fails_loudly() {
    let world = World::new(vec![]);
    let mut e = approved(evacuation(shop_selector()));
    let d = world.first(&mut e);
    assert_eq!(d.status.phase, Some(EvacuationPhase::Failed));
    assert!(d.status.message.unwrap().starts_with("no PilotLight matches"));
}

#[test]
fn only_the_evacuations_own_request_is_approved_by_it() {
    let e = approved(evacuation(shop_selector()));
    let own = request(&e, "a", "web", None, StepState::Pending);
    assert_eq!(e.approver_of(&own), Some("bob (Evacuation east)".into()));
    let mut forced = own.clone();
    forced.spec.force = true;
    assert_eq!(
        e.approver_of(&forced),
        None,
        "a request that differs needs its own approval"
    );
    let mut foreign = own.clone();
    foreign.metadata.owner_references = None;
    assert_eq!(e.approver_of(&foreign), None);
    let unapproved = evacuation(shop_selector());
    assert_eq!(unapproved.approver_of(&own), None);
}

#[test]
fn request_names_are_fixed_and_fit_the_name_limit() {
    let e = evacuation(shop_selector());
    assert_eq!(e.request_name("web"), "east-web");
    let long = "x".repeat(253);
    let name = e.request_name(&long);
    assert!(name.len() <= 253, "{}", name.len());
    assert_eq!(name, e.request_name(&long));
    assert_ne!(name, e.request_name(&"y".repeat(253)));
}

#[test]
fn an_operator_of_one_namespace_covers_only_evacuations_of_that_namespace() {
    let mut e = evacuation(shop_selector());
    assert!(crate::evacuation::covers(None, &e));
    assert!(
        !crate::evacuation::covers(Some("a"), &e),
        "a selector over every namespace"
    );
    e.spec.namespaces = vec!["a".into()];
    assert!(crate::evacuation::covers(Some("a"), &e));
    e.spec.pilot_lights = vec![key("b", "x")];
    assert!(!crate::evacuation::covers(Some("a"), &e));
}
