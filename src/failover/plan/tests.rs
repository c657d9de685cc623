use super::*;
use crate::api::FAILOVER_IN_PROGRESS;
use crate::api::{FailoverType::*, StepState::*};
use crate::step::Direction;

fn full() -> PilotLight {
    let docs = include_str!("../../../examples/pilotlight-full.yaml");
    let mut pl: PilotLight = serde_yaml::from_str(docs).expect("example parses");
    pl.metadata.namespace = Some("shop".into());
    pl
}

fn shape(steps: &[StepStatus]) -> Vec<(String, Vec<String>)> {
    steps.iter().map(|s| (s.name.clone(), s.depends_on.clone())).collect()
}

fn step(name: &str, deps: &[&str]) -> (String, Vec<String>) {
    (name.to_owned(), deps.iter().map(|d| (*d).to_owned()).collect())
}

#[test]
fn failover_promotes_and_scales_in_parallel_then_switches_traffic() {
    let mut pl = full();
    pl.spec.compute.as_mut().unwrap().primary_auto_scaling_group_name = Some("app-asg".into());
    assert_eq!(
        shape(&plan(&pl.spec, Failover)),
        vec![
            step("PromoteDatabase", &[]),
            step("ScaleUpCompute", &[]),
            step("WaitTargetsHealthy", &["ScaleUpCompute"]),
            step("SwitchTraffic", &["PromoteDatabase", "WaitTargetsHealthy"]),
            step("UpdateEndpoints", &["PromoteDatabase"]),
            step("UpdateWriterRecord", &["PromoteDatabase"]),
            step("ScaleUpDatabase", &["PromoteDatabase"]),
            step("FenceOldPrimary", &["SwitchTraffic"]),
            step("ReverseReplication", &[]),
        ]
    );
    assert!(
        plan(&pl.spec, Failover)
            .iter()
            .all(|s| s.state == Pending && s.attempts == 0)
    );
}

#[test]
fn the_writer_cname_is_a_step_of_its_own_only_when_configured() {
    let mut pl = full();
    pl.spec
        .database
        .as_mut()
        .unwrap()
        .aurora
        .as_mut()
        .unwrap()
        .writer_endpoint_record = None;
    for type_ in [Failover, Switchover, Failback] {
        let names: Vec<_> = plan(&pl.spec, type_).into_iter().map(|s| s.name).collect();
        assert!(names.contains(&"UpdateEndpoints".to_owned()), "{type_:?}: {names:?}");
        assert!(
            !names.contains(&"UpdateWriterRecord".to_owned()),
            "{type_:?}: {names:?}"
        );
    }
    // Route 53's control plane may be down: the CNAME waits for it instead of failing the request.
    assert!(StepKind::UpdateWriterRecord.deferrable());
    assert!(!StepKind::UpdateEndpoints.deferrable());
}

#[test]
fn plans_have_steps_only_for_configured_components() {
    let mut pl = full();
    pl.spec.database = None;
    pl.spec.storage = None;
    assert_eq!(
        shape(&plan(&pl.spec, Switchover)),
        vec![
            step("ScaleUpCompute", &[]),
            step("WaitTargetsHealthy", &["ScaleUpCompute"]),
            step("SwitchTraffic", &["WaitTargetsHealthy"]),
        ]
    );
    pl.spec.compute = None;
    pl.spec.traffic = None;
    assert!(plan(&pl.spec, Switchover).is_empty());
    assert!(refusal(&pl, Switchover, false).unwrap().contains("configures nothing"));
}

#[test]
fn a_warm_drill_prewarms_first_and_other_requests_ignore_prewarm() {
    let mut request = crate::api::FailoverRequest::against("app", Drill, "drill", "alice").spec;
    request.prewarm = true;
    assert_eq!(
        shape(&plan_request(&full().spec, &request)),
        vec![
            step("PrewarmCompute", &[]),
            step("ScaleUpCompute", &["PrewarmCompute"]),
            step("WaitTargetsHealthy", &["ScaleUpCompute"]),
            step("SmokeTest", &["WaitTargetsHealthy"]),
            step("ScaleDownCompute", &["SmokeTest"]),
        ]
    );
    request.prewarm = false;
    assert_eq!(plan_request(&full().spec, &request), plan(&full().spec, Drill));
}

#[test]
fn a_drill_scales_up_smoke_tests_and_always_scales_down() {
    assert_eq!(
        shape(&plan(&full().spec, Drill)),
        vec![
            step("ScaleUpCompute", &[]),
            step("WaitTargetsHealthy", &["ScaleUpCompute"]),
            step("SmokeTest", &["WaitTargetsHealthy"]),
            step("ScaleDownCompute", &["SmokeTest"]),
        ]
    );
}

#[test]
fn failback_switches_back_and_scales_the_standby_down() {
    let mut pl = full();
    assert_eq!(
        shape(&plan(&pl.spec, Failback)),
        vec![
            step("PromoteDatabase", &[]),
            step("SwitchTraffic", &["PromoteDatabase"]),
            step("UpdateEndpoints", &["PromoteDatabase"]),
            step("UpdateWriterRecord", &["PromoteDatabase"]),
            step("ScaleDownCompute", &["SwitchTraffic"]),
        ]
    );
    pl.spec.compute.as_mut().unwrap().primary_auto_scaling_group_name = Some("app-asg".into());
    let names: Vec<_> = plan(&pl.spec, Failback).into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"ScaleUpCompute".to_owned()) && names.contains(&"WaitTargetsHealthy".to_owned()));
}

fn with_states(states: &[(&str, StepState)]) -> Vec<StepStatus> {
    let mut steps = plan(&full().spec, Drill);
    for (name, state) in states {
        steps.iter_mut().find(|s| s.name == *name).unwrap().state = *state;
    }
    steps
}

#[test]
fn steps_start_when_their_dependencies_succeeded_and_resume_when_running() {
    let steps = plan(&full().spec, Failover);
    assert_eq!(
        startable(&steps, false, Drill),
        vec!["PromoteDatabase", "ScaleUpCompute", "ReverseReplication"]
    );
    let steps = with_states(&[("ScaleUpCompute", Succeeded), ("WaitTargetsHealthy", Running)]);
    assert_eq!(startable(&steps, false, Drill), vec!["WaitTargetsHealthy"]);
    let steps = with_states(&[
        ("ScaleUpCompute", Succeeded),
        ("WaitTargetsHealthy", Succeeded),
        ("SmokeTest", Succeeded),
    ]);
    assert_eq!(startable(&steps, false, Drill), vec!["ScaleDownCompute"]);
}

#[test]
fn after_a_failure_only_the_cleanup_starts_once_nothing_else_runs() {
    let steps = with_states(&[("ScaleUpCompute", Succeeded), ("WaitTargetsHealthy", Failed)]);
    assert_eq!(startable(&steps, true, Drill), vec!["ScaleDownCompute"]);
    let steps = with_states(&[("ScaleUpCompute", Running)]);
    assert_eq!(startable(&steps, true, Drill), vec!["ScaleUpCompute"]);
    let steps = plan(&full().spec, Failover);
    assert!(startable(&steps, true, Failover).is_empty());
}

#[test]
fn a_failback_that_fails_before_the_switch_never_scales_down_the_region_that_still_serves() {
    let mut steps = plan(&full().spec, Failback);
    for step in steps.iter_mut().filter(|s| s.name != "ScaleDownCompute") {
        step.state = if step.name == "SwitchTraffic" {
            Failed
        } else {
            Succeeded
        };
    }
    assert!(startable(&steps, true, Failback).is_empty(), "{:?}", shape(&steps));
}

#[test]
fn approval_rules() {
    let mut pl = full();
    assert!(
        needs_approval(&pl, Failover, Origin::Person)
            && needs_approval(&pl, Switchover, Origin::Person)
            && !needs_approval(&pl, Drill, Origin::Person)
    );
    pl.spec.failover.approval.required = false;
    assert!(
        needs_approval(&pl, Failover, Origin::Person),
        "data loss needs approval unless allowed"
    );
    assert!(!needs_approval(&pl, Switchover, Origin::Person) && !needs_approval(&pl, Failback, Origin::Person));
    pl.spec.failover.allow_data_loss_without_approval = true;
    assert!(!needs_approval(&pl, Failover, Origin::Person));
    // Detection proposes (waits, whatever the policy) unless the mode is Automatic.
    pl.spec.detection = Some(serde_json::from_value(serde_json::json!({"mode": "Propose"})).unwrap());
    assert!(needs_approval(&pl, Failover, Origin::Detection));
    pl.spec.detection.as_mut().unwrap().mode = crate::api::DetectionMode::Automatic;
    pl.spec.failover.allow_data_loss_without_approval = false;
    pl.spec.failover.approval.required = true;
    assert!(!needs_approval(&pl, Failover, Origin::Detection));
    assert!(!needs_approval(&pl, Drill, Origin::Schedule));
}

fn condition(type_: &str, status: &str, reason: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: format!("{reason} message"),
        observed_generation: None,
        last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ),
    }
}

#[test]
fn a_failover_into_an_unready_standby_is_refused_unless_forced() {
    let mut pl = full();
    assert!(refusal(&pl, Failover, false).unwrap().contains("not been checked"));
    pl.status = Some(crate::api::PilotLightStatus {
        conditions: vec![
            condition("DatabaseReplicating", "Unknown", "RegionUnreachable"),
            condition("ComputeReady", "True", "Dormant"),
        ],
        ..Default::default()
    });
    assert_eq!(
        refusal(&pl, Failover, false),
        None,
        "an unreachable primary is why one fails over"
    );
    pl.status.as_mut().unwrap().conditions[1] = condition("ComputeReady", "False", "ImageCopyFailed");
    let why = refusal(&pl, Failover, false).unwrap();
    assert!(
        why.contains("ComputeReady is False (ImageCopyFailed") && why.contains("force"),
        "{why}"
    );
    assert_eq!(refusal(&pl, Failover, true), None);
    pl.status.as_mut().unwrap().conditions[1] = condition("ComputeReady", "False", FAILOVER_IN_PROGRESS);
    assert_eq!(
        refusal(&pl, Failover, false),
        None,
        "a condition left by the drill that just ended says nothing about the standby"
    );
    assert_eq!(
        refusal(&pl, Switchover, false),
        None,
        "readiness gates only the unplanned failover"
    );
}

#[test]
fn direction_follows_the_active_region() {
    let mut pl = full();
    pl.status = Some(Default::default());
    assert!(refusal(&pl, Failback, false).unwrap().contains("nothing to fail back"));
    pl.status.as_mut().unwrap().active_region = Some("us-west-2".into());
    assert!(refusal(&pl, Switchover, false).unwrap().contains("already active"));
    assert!(refusal(&pl, Drill, false).unwrap().contains("already active"));
    assert_eq!(refusal(&pl, Failback, false), None);
    let back = Direction::of(&pl.spec, Failback);
    assert_eq!((back.from, back.to), ("us-west-2", "us-east-1"));
    assert!(!back.to_standby(&pl.spec));
}

#[test]
fn an_rds_database_gets_the_same_database_steps_as_aurora() {
    let pl: PilotLight =
        serde_yaml::from_str(include_str!("../../../examples/pilotlight-rds.yaml")).expect("example parses");
    assert_eq!(
        shape(&plan(&pl.spec, Failover)),
        vec![
            step("PromoteDatabase", &[]),
            step("UpdateEndpoints", &["PromoteDatabase"]),
            step("ScaleUpDatabase", &["PromoteDatabase"]),
        ]
    );
    assert_eq!(
        shape(&plan(&pl.spec, Failback)),
        vec![
            step("PromoteDatabase", &[]),
            step("UpdateEndpoints", &["PromoteDatabase"])
        ]
    );
}

fn with_cache(required: bool) -> PilotLight {
    let mut pl = full();
    pl.spec.cache = Some(
        serde_json::from_value(serde_json::json!({"elastiCache": {
            "cacheId": "app-cache-dr", "engine": "Valkey", "nodeType": "cache.r7g.large",
            "subnetGroupName": "dr-cache", "required": required,
        }}))
        .unwrap(),
    );
    pl
}

#[test]
fn the_dr_cache_is_created_beside_compute_and_deleted_after_a_drill_or_a_failback() {
    let steps = shape(&plan(&with_cache(false).spec, Failover));
    assert!(steps.contains(&step("CreateCache", &[])), "{steps:?}");
    let switch = steps.iter().find(|(n, _)| n == "SwitchTraffic").unwrap();
    assert!(
        !switch.1.contains(&"CreateCache".to_owned()),
        "an optional cache does not hold up traffic"
    );
    let steps = shape(&plan(&with_cache(true).spec, Failover));
    let switch = steps.iter().find(|(n, _)| n == "SwitchTraffic").unwrap();
    assert!(
        switch.1.contains(&"CreateCache".to_owned()),
        "a required one does: {steps:?}"
    );

    let drill = shape(&plan(&with_cache(false).spec, Drill));
    assert!(drill.contains(&step("CreateCache", &[])));
    assert!(
        drill.contains(&step("DeleteCache", &["CreateCache", "SmokeTest"])),
        "{drill:?}"
    );
    let failback = shape(&plan(&with_cache(false).spec, Failback));
    assert!(failback.iter().any(|(n, _)| n == "DeleteCache"));
    assert!(!failback.iter().any(|(n, _)| n == "CreateCache"));
}

#[test]
fn a_skipped_optional_step_does_not_hold_up_what_follows_and_a_drill_cleans_up_its_cache() {
    let mut steps = plan(&with_cache(false).spec, Drill);
    for s in steps.iter_mut() {
        s.state = match s.name.as_str() {
            "CreateCache" => Skipped,
            "DeleteCache" => Pending,
            _ => Succeeded,
        };
    }
    assert_eq!(startable(&steps, false, Drill), vec!["DeleteCache"]);
}

#[test]
fn an_unready_cache_stops_a_failover_only_when_required() {
    for (required, refused) in [(false, false), (true, true)] {
        let mut pl = with_cache(required);
        pl.status = Some(crate::api::PilotLightStatus {
            conditions: vec![condition("CacheReady", "False", "CacheSubnetGroupNotFound")],
            ..Default::default()
        });
        assert_eq!(refusal(&pl, Failover, false).is_some(), refused, "required {required}");
    }
}
