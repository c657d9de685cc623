use super::*;
use crate::api::{DetectionMode::*, PilotLightStatus};

fn checker(region: &str, ok: bool) -> CheckerObservation {
    CheckerObservation {
        region: region.into(),
        status: if ok {
            "Success: HTTP Status Code 200, OK"
        } else {
            "Failure: HTTP Status Code 503"
        }
        .into(),
    }
}

fn checkers(failing: usize, total: usize) -> Vec<CheckerObservation> {
    (0..total).map(|i| checker(&format!("r{i}"), i >= failing)).collect()
}

#[test]
fn route53_fails_the_endpoint_when_at_most_18_percent_of_checkers_pass() {
    let v = |failing| verdict(Ok(&checkers(failing, 8)), &[], Ok(&[]));
    assert_eq!(v(0).healthy, Some(true));
    assert_eq!(v(6).healthy, Some(true), "2 of 8 (25 %) still pass");
    assert_eq!(v(7).healthy, Some(false), "1 of 8 (12.5 %) is too few");
    assert!(
        v(7).evidence[0].contains("7/8 checkers report failure (r0, r1"),
        "{:?}",
        v(7).evidence
    );
    assert_eq!(verdict(Err("throttled"), &[], Ok(&[])).healthy, None);
    assert_eq!(verdict(Ok(&[]), &[], Ok(&[])).healthy, None);
}

#[test]
fn an_alarm_in_alarm_makes_the_primary_unhealthy() {
    let names = vec!["api-5xx".to_owned()];
    let alarm = |state: &str| AlarmState {
        name: "api-5xx".into(),
        state: state.into(),
        reason: "Threshold Crossed".into(),
    };
    let v = verdict(Ok(&checkers(0, 8)), &names, Ok(&[alarm("ALARM")]));
    assert_eq!(v.healthy, Some(false));
    assert!(v.evidence.iter().any(|e| e.contains("api-5xx is in ALARM")));
    assert_eq!(
        verdict(Ok(&checkers(0, 8)), &names, Ok(&[alarm("OK")])).healthy,
        Some(true)
    );
    assert_eq!(verdict(Err("no check"), &names, Ok(&[alarm("OK")])).healthy, Some(true));
    let missing = verdict(Ok(&checkers(0, 8)), &names, Ok(&[]));
    assert!(missing.evidence.iter().any(|e| e.contains("does not exist")));
}

fn ready_pl(mode: &str) -> PilotLight {
    let mut pl: PilotLight = serde_json::from_value(serde_json::json!({
        "apiVersion": "pilotlight.dev/v1alpha1", "kind": "PilotLight",
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {
            "regions": {"primary": "us-east-1", "standby": "us-west-2"},
            "compute": {
                "launchTemplate": {"name": "lt", "sourceImageId": "ami-0123456789abcdef0", "instanceType": "c5.xlarge"},
                "autoScalingGroup": {"name": "asg", "subnetIds": ["subnet-0123456789abcdef0"], "failover": {"minSize": 2, "desiredCapacity": 4, "maxSize": 10}}
            },
            "detection": {"mode": mode}
        }
    }))
    .unwrap();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let mut status = PilotLightStatus::default();
    for t in ["ComputeReady", "Ready"] {
        status
            .conditions
            .push(k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: t.into(),
                status: "True".into(),
                reason: "Dormant".into(),
                message: String::new(),
                observed_generation: None,
                last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now),
            });
    }
    pl.status = Some(status);
    pl
}

fn inputs<'a>(pl: &'a PilotLight, mode: DetectionMode, unhealthy_for_secs: i64) -> Inputs<'a> {
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    Inputs {
        now,
        pl,
        mode,
        unhealthy_for: Duration::from_secs(60),
        cooldown: Duration::from_secs(3600),
        unhealthy_since: Some(Timestamp::from_second(1_800_000_000 - unhealthy_for_secs).unwrap()),
        created: None,
        open_request: None,
    }
}

#[test]
fn each_mode_acts_only_after_the_hold_time() {
    let pl = ready_pl("Propose");
    let healthy = Inputs {
        unhealthy_since: None,
        ..inputs(&pl, Propose, 0)
    };
    assert_eq!(decide(&healthy), Decision::Nothing);
    assert_eq!(decide(&inputs(&pl, Notify, 600)), Decision::Notify);
    assert_eq!(
        decide(&inputs(&pl, Propose, 20)),
        Decision::Hold {
            remaining: Duration::from_secs(40)
        },
        "a flap shorter than unhealthyFor creates nothing"
    );
    assert_eq!(decide(&inputs(&pl, Propose, 60)), Decision::Create { automatic: false });
    assert_eq!(
        decide(&inputs(&pl, Automatic, 61)),
        Decision::Create { automatic: true }
    );
}

#[test]
fn guards_one_request_no_drill_cooldown_and_a_ready_standby() {
    let pl = ready_pl("Automatic");
    let created = Inputs {
        created: Some("app-detected-1"),
        ..inputs(&pl, Automatic, 600)
    };
    assert_eq!(decide(&created), Decision::Created("app-detected-1".into()));
    let drill = Inputs {
        open_request: Some(("app-drill-1", FailoverType::Drill)),
        ..inputs(&pl, Automatic, 600)
    };
    assert!(matches!(decide(&drill), Decision::Blocked(why) if why.contains("drill app-drill-1 is running")));
    let other = Inputs {
        open_request: Some(("by-hand", FailoverType::Switchover)),
        ..inputs(&pl, Automatic, 600)
    };
    assert!(matches!(decide(&other), Decision::Blocked(why) if why.contains("by-hand is open")));

    let mut cooling = ready_pl("Automatic");
    cooling.status.as_mut().unwrap().last_failover = Some(FailoverOutcome {
        request_name: "back".into(),
        type_: FailoverType::Failback,
        phase: RequestPhase::Succeeded,
        completed_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            Timestamp::from_second(1_800_000_000 - 600).unwrap(),
        )),
        recovery_time_seconds: None,
        data_loss_window_seconds: None,
        recovery_time: None,
        data_loss: None,
        active_region: Some("us-east-1".into()),
        message: None,
    });
    assert!(
        matches!(decide(&inputs(&cooling, Automatic, 600)), Decision::Blocked(why) if why.contains("cool-down after back"))
    );

    let mut unready = ready_pl("Automatic");
    let c = &mut unready.status.as_mut().unwrap().conditions[0];
    c.status = "False".into();
    c.reason = "ImageStale".into();
    assert!(
        matches!(decide(&inputs(&unready, Automatic, 600)), Decision::Blocked(why) if why.contains("standby is not Ready"))
    );
}
