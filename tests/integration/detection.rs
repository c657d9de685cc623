//! Detection of a failing primary (the emulator's Route 53 checkers report failure) in each
//! mode, its guards, and drills on a schedule.

use std::time::Duration;

use crate::common::{failover::*, *};
use kube::{Api, ResourceExt, api::ListParams};
use pilot_light::api::{FailoverRequest, PilotLight, RequestPhase};
use serde_json::{Value, json};

/// A full pilot light, Ready, with `detection` set; returns its health check id.
async fn watched(s: &mut Scenario, detection: Value) -> String {
    failover_setup(s).await;
    detect(s, detection).await
}

async fn requests_of(s: &Scenario) -> Vec<FailoverRequest> {
    requests(s)
        .list(&ListParams::default())
        .await
        .expect("list requests")
        .items
}

#[tokio::test]
async fn notify_mode_reports_and_creates_nothing() {
    let mut s = Scenario::new("detect-notify").await;
    let operator = s.start_operator().await;
    let alarm = format!("{}-api-5xx", s.ns.name);
    let emulator = Emulator::new();
    emulator.set_alarm_state("us-east-1", &alarm, "OK").await;
    let check = watched(
        &mut s,
        json!({"mode": "Notify", "unhealthyFor": "1s", "alarms": [alarm]}),
    )
    .await;
    emulator.set_health_check_status(&check, "Failure").await;

    let pl = primary_healthy(&s, "False").await;
    let unhealthy = condition(pl.status.as_ref().unwrap(), "PrimaryHealthy").clone();
    assert!(
        unhealthy.message.contains("8/8 checkers report failure"),
        "{unhealthy:?}"
    );
    let health = pl.status.unwrap().primary_health.unwrap();
    assert_eq!(health.healthy, Some(false));
    assert!(health.since.is_some());
    eventually(Duration::from_secs(10), || async {
        s.event_reasons()
            .await
            .contains(&"PrimaryUnhealthy".to_owned())
            .then_some(())
    })
    .await
    .expect("a PrimaryUnhealthy Warning Event");
    assert!(
        operator.metrics.render().contains(&format!(
            "pilot_light_primary_healthy{{namespace=\"{}\",name=\"app\"}} 0",
            s.ns.name
        )),
        "the metric says it"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(requests_of(&s).await.is_empty(), "Notify creates no request");

    emulator.set_health_check_status(&check, "Success").await;
    primary_healthy(&s, "True").await;

    // An alarm named in the spec going off is a failing primary too, whatever Route 53 says.
    emulator.set_alarm_state("us-east-1", &alarm, "ALARM").await;
    let pl = primary_healthy(&s, "False").await;
    let message = &condition(pl.status.as_ref().unwrap(), "PrimaryHealthy").message;
    assert!(message.contains(&format!("alarm {alarm} is in ALARM")), "{message}");
    operator.stop().await;
}

/// Waits for a `PrimaryUnhealthy` Event about the object `uid`.
async fn told_unhealthy(s: &Scenario, uid: &str) -> Option<()> {
    eventually(Duration::from_secs(10), || async {
        event_reasons_matching(&s.client, &s.ns.name, &format!("involvedObject.uid={uid}"))
            .await
            .contains(&"PrimaryUnhealthy".to_owned())
            .then_some(())
    })
    .await
}

#[tokio::test]
async fn a_pilotlight_created_again_under_its_name_is_watched_afresh() {
    let mut s = Scenario::new("detect-again").await;
    let operator = s.start_operator().await;
    let alarm = format!("{}-api-5xx", s.ns.name);
    let emulator = Emulator::new();
    emulator.set_alarm_state("us-east-1", &alarm, "ALARM").await;
    s.apply(|m| m["spec"]["detection"] = json!({"mode": "Notify", "unhealthyFor": "1s", "alarms": [alarm]}))
        .await;
    let first = primary_healthy(&s, "False").await.uid().expect("uid");
    told_unhealthy(&s, &first)
        .await
        .expect("the first PilotLight's PrimaryUnhealthy Event");

    // The same manifest again, while the alarm is still going off: a new object, told afresh.
    s.delete_pilotlight().await;
    s.apply(|_| {}).await;
    let second = primary_healthy(&s, "False").await.uid().expect("uid");
    assert_ne!(first, second);
    told_unhealthy(&s, &second)
        .await
        .expect("the new PilotLight's own PrimaryUnhealthy Event");
    operator.stop().await;
}

#[tokio::test]
async fn propose_mode_creates_exactly_one_request_that_waits_for_approval() {
    let mut s = Scenario::new("detect-propose").await;
    let operator = s.start_operator().await;
    let check = watched(&mut s, json!({"mode": "Propose", "unhealthyFor": "2s"})).await;
    Emulator::new().set_health_check_status(&check, "Failure").await;

    let created = eventually(Duration::from_secs(30), || async {
        requests_of(&s).await.into_iter().next()
    })
    .await
    .expect("a proposed FailoverRequest");
    let name = created.name_any();
    let waiting = wait_phase(&s, &name, &[RequestPhase::AwaitingApproval], Duration::from_secs(30)).await;
    assert_eq!(
        waiting.annotations().get("pilotlight.dev/origin").map(String::as_str),
        Some("detection")
    );
    assert_eq!(
        waiting
            .annotations()
            .get("pilotlight.dev/created-by")
            .map(String::as_str),
        Some("testenv-admin"),
        "the operator records itself (here it runs as the test's admin)"
    );
    assert!(
        waiting.spec.reason.contains("checkers report failure"),
        "{}",
        waiting.spec.reason
    );
    // The primary stays down: still exactly one request.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(requests_of(&s).await.len(), 1, "one request per spell");
    assert!(s.event_reasons().await.contains(&"FailoverProposed".to_owned()));
    let pl = pilotlight(&s).await;
    assert_eq!(pl.status.unwrap().primary_health.unwrap().request_name, Some(name));
    operator.stop().await;
}

#[tokio::test]
async fn automatic_mode_fails_over_by_itself() {
    let mut s = Scenario::new("detect-auto").await;
    let operator = s.start_operator().await;
    let check = watched(&mut s, json!({"mode": "Automatic", "unhealthyFor": "1s"})).await;
    // The policy requires approval for people; Automatic is the approval.
    s.apply(|m| m["spec"]["failover"]["approval"]["required"] = json!(true))
        .await;
    Emulator::new().set_health_check_status(&check, "Failure").await;

    let created = eventually(Duration::from_secs(30), || async {
        requests_of(&s).await.into_iter().next()
    })
    .await
    .expect("an automatic FailoverRequest");
    let done = wait_phase(
        &s,
        &created.name_any(),
        &[RequestPhase::Succeeded, RequestPhase::Failed, RequestPhase::Rejected],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(phase(&done), Some(RequestPhase::Succeeded), "{:#?}", done.status);
    assert_eq!(
        endpoints(&s).await.get("activeRegion").map(String::as_str),
        Some("us-west-2")
    );
    assert!(s.event_reasons().await.contains(&"AutomaticFailover".to_owned()));
    operator.stop().await;
}

#[tokio::test]
async fn a_flap_shorter_than_the_hold_time_creates_nothing() {
    let mut s = Scenario::new("detect-flap").await;
    let operator = s.start_operator().await;
    let check = watched(&mut s, json!({"mode": "Automatic", "unhealthyFor": "6s"})).await;
    let emulator = Emulator::new();
    emulator.set_health_check_status(&check, "Failure").await;
    primary_healthy(&s, "False").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    emulator.set_health_check_status(&check, "Success").await;
    primary_healthy(&s, "True").await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(requests_of(&s).await.is_empty(), "the flap created nothing");
    operator.stop().await;
}

#[tokio::test]
async fn an_unready_standby_blocks_automatic_failover_with_a_clear_event() {
    let mut s = Scenario::new("detect-unready").await;
    let operator = s.start_operator().await;
    let check = watched(&mut s, json!({"mode": "Automatic", "unhealthyFor": "1s"})).await;
    // The AMI copy is older than a second: ComputeReady turns False (ImageStale).
    s.apply(|m| m["spec"]["compute"]["maxImageAge"] = json!("1s")).await;
    s.wait("ComputeReady", "False", Some("ImageStale"), Duration::from_secs(30))
        .await;
    Emulator::new().set_health_check_status(&check, "Failure").await;

    let note = eventually(Duration::from_secs(30), || async {
        s.warning_notes()
            .await
            .into_iter()
            .find(|n| n.contains("no failover") && n.contains("standby is not Ready"))
    })
    .await
    .expect("a FailoverNotStarted Event that says why");
    assert!(note.contains("ImageStale"), "{note}");
    assert!(requests_of(&s).await.is_empty(), "nothing created");
    operator.stop().await;
}

#[tokio::test]
async fn a_schedule_creates_drills_and_a_failed_smoke_test_turns_drill_passed_false() {
    let mut s = Scenario::new("drills").await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    let broken = http_endpoint(500).await;
    s.apply(|m| {
        m["spec"]["failover"]["smokeTest"] = json!({"url": broken});
        m["spec"]["drills"] = json!({"schedule": "* * * * *", "timeZone": "Europe/Berlin", "maxAge": "1h"});
    })
    .await;
    let (pl, message) = s.wait_for_reason("DrillPassed", "False", "NeverDrilled").await;
    let next = pl
        .status
        .unwrap()
        .drill_schedule
        .unwrap()
        .next_at
        .expect("the next drill's time")
        .0;
    assert_eq!(next.as_second() % 60, 0, "on a whole minute");
    assert!(message.contains("no drill"), "{message}");

    // Within a minute (and a bit) the schedule creates the drill, named after its time.
    let drill = eventually(Duration::from_secs(80), || async {
        requests_of(&s)
            .await
            .into_iter()
            .find(|r| r.name_any().starts_with("app-drill-"))
    })
    .await
    .expect("a scheduled drill");
    assert_eq!(drill.name_any(), format!("app-drill-{}", next.as_second()));
    assert_eq!(
        drill.annotations().get("pilotlight.dev/origin").map(String::as_str),
        Some("schedule")
    );
    let done = wait_phase(
        &s,
        &drill.name_any(),
        &[RequestPhase::Failed, RequestPhase::Succeeded],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        phase(&done),
        Some(RequestPhase::Failed),
        "the smoke test fails: {:#?}",
        done.status
    );

    let (pl, message) = s.wait_for_reason("DrillPassed", "False", "DrillFailed").await;
    assert!(message.contains(&drill.name_any()), "{message}");
    let status = pl.status.unwrap();
    assert_eq!(
        status.drill_history.last().map(|e| e.event.as_str()),
        Some("DrillFailed")
    );
    assert!(
        status.readiness_history.iter().any(|e| e.event == "Ready"),
        "readiness trend kept"
    );
    assert!(operator.metrics.render().contains(&format!(
        "pilot_light_drill_passed{{namespace=\"{}\",name=\"app\"}} 0",
        s.ns.name
    )));
    operator.stop().await;
}

#[tokio::test]
async fn a_drill_due_while_another_request_is_open_is_skipped_with_an_event() {
    let mut s = Scenario::new("drill-skip").await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    // With approval required, the switchover stays open, waiting for it.
    s.apply(|m| m["spec"]["failover"]["approval"] = json!({"required": true}))
        .await;
    create_request(&s, "waiting", "Switchover", json!({})).await;
    wait_phase(
        &s,
        "waiting",
        &[RequestPhase::AwaitingApproval],
        Duration::from_secs(30),
    )
    .await;
    s.apply(|m| m["spec"]["drills"] = json!({"schedule": "* * * * *", "timeZone": "UTC"}))
        .await;
    let (pl, _) = s.wait_for_reason("DrillPassed", "False", "NeverDrilled").await;
    let due = pl.status.unwrap().drill_schedule.unwrap().next_at.expect("nextAt").0;

    let skipped = eventually(Duration::from_secs(80), || async {
        s.warning_notes()
            .await
            .into_iter()
            .find(|m| m.contains("was skipped: FailoverRequest waiting is open"))
    })
    .await
    .expect("a DrillSkipped Warning naming the open request");
    assert!(skipped.contains(&format!("the drill due at {due}")), "{skipped}");
    let api: Api<PilotLight> = Api::namespaced(s.client.clone(), &s.ns.name);
    let pl = eventually(Duration::from_secs(10), || async {
        let pl = api.get("app").await.ok()?;
        let next = pl.status.as_ref()?.drill_schedule.as_ref()?.next_at.as_ref()?.0;
        (next > due).then_some(pl)
    })
    .await
    .expect("nextAt moves on past the skipped drill");
    assert!(
        requests_of(&s)
            .await
            .iter()
            .all(|r| !r.name_any().starts_with("app-drill-")),
        "no drill was created"
    );
    assert_eq!(
        condition(pl.status.as_ref().unwrap(), "DrillPassed").reason,
        "NeverDrilled"
    );
    operator.stop().await;
}
