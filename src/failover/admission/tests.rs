use super::*;
use crate::api::{ConditionStatus, FailoverRequestSpec, PilotLightRef, PilotLightStatus, StepState};
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

fn pilotlight(ready: bool) -> PilotLight {
    let mut pl: PilotLight =
        serde_yaml::from_str(include_str!("../../../examples/pilotlight-full.yaml")).expect("example parses");
    pl.metadata.namespace = Some("shop".into());
    let status = if ready {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    pl.status = Some(PilotLightStatus {
        conditions: vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
            type_: "ComputeReady".into(),
            status: status.as_str().into(),
            reason: "Checked".into(),
            message: "checked".into(),
            last_transition_time: Time(Timestamp::from_second(1_800_000_000).unwrap()),
            observed_generation: None,
        }],
        ..Default::default()
    });
    pl
}

fn request(name: &str, type_: FailoverType, approved_by: Option<&str>, created_by: Option<&str>) -> FailoverRequest {
    let mut r = FailoverRequest::new(
        name,
        FailoverRequestSpec {
            pilot_light_ref: PilotLightRef { name: "app".into() },
            type_,
            reason: "test".into(),
            dry_run: false,
            force: false,
            approved_by: approved_by.map(str::to_owned),
            prewarm: false,
            cancel: false,
        },
    );
    r.metadata.namespace = Some("shop".into());
    if let Some(creator) = created_by {
        r.metadata.annotations = Some([(CREATED_BY.to_owned(), creator.to_owned())].into());
    }
    r
}

fn facts<'a>(request: &'a FailoverRequest, pl: Option<&'a PilotLight>) -> Facts<'a> {
    Facts {
        request,
        pilotlight: pl,
        holder: None,
        unreachable_source: None,
        origin: plan::Origin::Person,
        evacuation_approver: None,
    }
}

#[test]
fn the_creator_cannot_approve_even_without_the_admission_policy() {
    let r = |by, creator| request("switch", FailoverType::Switchover, by, creator);
    assert!(!approved(&r(None, Some("alice"))));
    assert!(!approved(&r(Some("alice"), Some("alice"))));
    assert!(approved(&r(Some("bob"), Some("alice"))));
    assert!(
        approved(&r(Some("bob"), None)),
        "creator unknown: the policy is not installed"
    );
}

#[test]
fn a_missing_pilotlight_or_a_holder_rejects_with_the_reason() {
    let r = request("f", FailoverType::Failover, None, None);
    assert_eq!(
        decide(&facts(&r, None), &[]),
        Verdict::Reject("PilotLight app does not exist in namespace shop".into())
    );
    let pl = pilotlight(true);
    let mut held = facts(&r, Some(&pl));
    held.holder = Some("FailoverRequest other is already Running".into());
    assert_eq!(
        decide(&held, &[]),
        Verdict::Reject("FailoverRequest other is already Running".into())
    );
}

#[test]
fn a_planned_move_needs_its_source_region_to_answer() {
    let pl = pilotlight(true);
    let r = request("s", FailoverType::Switchover, Some("bob"), Some("alice"));
    let mut f = facts(&r, Some(&pl));
    f.unreachable_source = Some("connection refused".into());
    let Verdict::Reject(why) = decide(&f, &[]) else {
        panic!("a switchover without its source region must be rejected");
    };
    assert!(
        why.contains("needs us-east-1, which does not answer (connection refused)"),
        "{why}"
    );
}

#[test]
fn an_unready_standby_refuses_a_failover_unless_forced() {
    let pl = pilotlight(false);
    let mut r = request("f", FailoverType::Failover, Some("bob"), Some("alice"));
    assert!(matches!(decide(&facts(&r, Some(&pl)), &[]), Verdict::Reject(why) if why.contains("not Ready")));
    r.spec.force = true;
    assert!(matches!(
        decide(&facts(&r, Some(&pl)), &[]),
        Verdict::Start { approved: true, .. }
    ));
}

#[test]
fn approval_waits_for_a_second_person_and_names_the_self_approver() {
    let pl = pilotlight(true);
    let waiting = request("s", FailoverType::Switchover, None, Some("alice"));
    let Verdict::AwaitApproval { plan, message } = decide(&facts(&waiting, Some(&pl)), &[]) else {
        panic!("an unapproved switchover waits");
    };
    assert!(!plan.is_empty() && plan.iter().all(|s| s.state == StepState::Pending));
    assert_eq!(
        message,
        "Awaiting approval: another person must set spec.approvedBy to their user name"
    );
    let self_approved = request("s", FailoverType::Switchover, Some("alice"), Some("alice"));
    assert!(matches!(
        decide(&facts(&self_approved, Some(&pl)), &[]),
        Verdict::AwaitApproval { message, .. } if message.contains("alice created this request and approved it themselves, which does not count")
    ));
    let approved = request("s", FailoverType::Switchover, Some("bob"), Some("alice"));
    assert!(matches!(
        decide(&facts(&approved, Some(&pl)), &[]),
        Verdict::Start { approved: true, .. }
    ));
}

#[test]
fn a_drill_starts_without_approval_and_a_dry_run_only_plans() {
    let pl = pilotlight(true);
    let drill = request("d", FailoverType::Drill, None, Some("alice"));
    assert!(matches!(
        decide(&facts(&drill, Some(&pl)), &[]),
        Verdict::Start { approved: false, .. }
    ));
    let mut dry = request("f", FailoverType::Failover, None, Some("alice"));
    dry.spec.dry_run = true;
    let Verdict::DryRun(plan) = decide(&facts(&dry, Some(&pl)), &[]) else {
        panic!("a dry run only plans");
    };
    assert_eq!(plan.first().map(|s| s.name.as_str()), Some("PromoteDatabase"));
}

#[test]
fn the_plan_written_while_waiting_is_kept() {
    let pl = pilotlight(true);
    let r = request("s", FailoverType::Switchover, Some("bob"), Some("alice"));
    let written = plan::plan(&pl.spec, FailoverType::Drill);
    assert!(matches!(decide(&facts(&r, Some(&pl)), &written), Verdict::Start { plan, .. } if plan == written));
}

fn at(seconds: i64) -> Option<Time> {
    Some(Time(Timestamp::from_second(1_800_000_000 + seconds).unwrap()))
}

#[test]
fn the_oldest_active_request_holds_the_pilotlight() {
    let mut me = request("me", FailoverType::Drill, None, None);
    me.metadata.creation_timestamp = at(10);
    let mut older = request("older", FailoverType::Failover, None, None);
    older.metadata.creation_timestamp = at(5);
    let mut newer_running = request("newer", FailoverType::Switchover, None, None);
    newer_running.metadata.creation_timestamp = at(20);
    let mut ended = request("ended", FailoverType::Failover, None, None);
    ended.metadata.creation_timestamp = at(1);
    ended.status = Some(FailoverRequestStatus {
        phase: Some(RequestPhase::Succeeded),
        ..Default::default()
    });
    assert_eq!(
        holder(&[ended.clone(), me.clone()], &me),
        None,
        "an ended request holds nothing"
    );
    assert_eq!(
        holder(&[ended.clone(), older.clone(), me.clone()], &me).as_deref(),
        Some(
            "FailoverRequest older (Failover) is already waiting to be admitted for PilotLight app; one request at a time: wait for it to end, or cancel it (kubectl pilotlight cancel older), then create this one again"
        )
    );
    assert_eq!(
        holder(&[newer_running.clone(), me.clone()], &me),
        None,
        "a newer pending one waits for me"
    );
    newer_running.status = Some(FailoverRequestStatus {
        phase: Some(RequestPhase::Running),
        ..Default::default()
    });
    assert!(
        holder(&[newer_running.clone(), me.clone()], &me)
            .unwrap()
            .contains("newer (Switchover) is already Running")
    );
    let mut look = me.clone();
    look.metadata.name = Some("look".into());
    look.spec.dry_run = true;
    assert_eq!(
        holder(&[newer_running.clone(), look.clone()], &look),
        None,
        "a dry run waits for nobody"
    );
    let mut older_look = look.clone();
    older_look.metadata.creation_timestamp = at(2);
    assert_eq!(holder(&[older_look, me.clone()], &me), None, "and holds nothing");
}
