//! `failoverRouting` end to end against the emulator's Route 53 data plane (its health checkers
//! and DNS server): a Failover while us-east-1, Route 53's control plane with it, is down, with
//! each switch; and a `recordUpdate` Failover in the same outage, which cannot move traffic.
//! Exclusive: the outage is a global fault rule.

use std::time::Duration;

use crate::{
    common::{failover::*, *},
    failover_faults::{CleanEmulator, FINAL, outage},
};
use pilot_light::api::{RequestPhase::*, StepState};
use serde_json::json;

/// us-east-1 down for every service, and Route 53's control plane (served from there) with it.
async fn us_east_1_and_route53_down(emulator: &Emulator) {
    outage(emulator, "us-east-1").await;
    emulator
        .add_fault(json!({"region": "*", "service": "route53", "kind": "outage"}))
        .await;
}

/// A Failover in the outage: it Succeeds, moves DNS to the standby without one Route 53 API
/// call, and the endpoints ConfigMap names the promoted writer.
async fn fails_over_in_the_outage(switch: &str, extra_faults: &[serde_json::Value]) {
    let _serial = crate::SERIAL.lock().await;
    let _clean = CleanEmulator;
    let mut s = Scenario::new(&format!("dp-{}", switch.to_lowercase())).await;
    let operator = s.start_operator().await;
    let (_setup, record) = data_plane_setup(&mut s, switch).await;
    let emulator = Emulator::new();
    emulator.set_durations(json!({"route53:HealthCheckScale": 0.02})).await;
    let mark = call_log_mark(&emulator).await;
    us_east_1_and_route53_down(&emulator).await;
    for fault in extra_faults {
        emulator.add_fault(fault.clone()).await;
    }

    create_request(&s, "unplanned", "Failover", json!({})).await;
    let r = wait_phase(&s, "unplanned", FINAL, Duration::from_secs(180)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    let states = step_states(&r);
    assert!(
        states
            .iter()
            .any(|(n, st)| n == "SwitchTraffic" && *st == StepState::Succeeded),
        "{states:?}"
    );
    assert_eq!(
        answer(&record).await,
        alb_address("us-west-2").await,
        "{record} answers the standby's load balancer"
    );
    let executor_route53: Vec<_> = emulator
        .calls_since(mark)
        .await
        .into_iter()
        .filter(|c| c.by_failover_executor_of(&operator.app) && c.service == "route53")
        .map(|c| c.action)
        .collect();
    assert_eq!(executor_route53, Vec::<String>::new(), "no Route 53 control-plane call");
    let endpoints = endpoints(&s).await;
    assert!(
        endpoints.contains_key("databaseGlobalWriterEndpoint"),
        "the global writer endpoint is published: {endpoints:?}"
    );
    assert_eq!(
        endpoints.get("activeRegion").map(String::as_str),
        Some("us-west-2"),
        "{endpoints:?}"
    );
    let (writer_region, _) = writer(&s.names.global).await;
    assert_eq!(writer_region, "us-west-2");
    operator.stop().await;
}

#[tokio::test]
async fn a_failover_with_routing_controls_moves_dns_while_us_east_1_and_route53_are_down() {
    // With us-east-1's endpoint gone too, four of the cluster's five endpoints do not answer.
    let faults: Vec<_> = ["us-west-2", "eu-west-1", "ap-northeast-1"]
        .iter()
        .map(|region| json!({"region": region, "service": "route53-recovery-cluster", "kind": "outage"}))
        .collect();
    fails_over_in_the_outage("routingControl", &faults).await;
}

#[tokio::test]
async fn a_failover_with_the_metric_alarm_moves_dns_while_us_east_1_and_route53_are_down() {
    fails_over_in_the_outage("metricAlarm", &[]).await;
}

#[tokio::test]
async fn a_record_update_failover_in_the_outage_fails_at_switch_traffic_and_says_why() {
    let _serial = crate::SERIAL.lock().await;
    let _clean = CleanEmulator;
    let mut s = Scenario::new("dp-record").await;
    let operator = s.start_operator().await;
    // The fixtures' traffic mode: recordUpdate.
    failover_setup(&mut s).await;
    let emulator = Emulator::new();
    us_east_1_and_route53_down(&emulator).await;

    create_request(&s, "unplanned", "Failover", json!({})).await;
    let r = wait_phase(&s, "unplanned", FINAL, Duration::from_secs(240)).await;
    let status = r.status.clone().unwrap();
    assert_eq!(status.phase, Some(Failed), "{status:#?}");
    let switch = status.steps.iter().find(|x| x.name == "SwitchTraffic").unwrap();
    assert_eq!(switch.state, StepState::Failed, "{switch:?}");
    let message = switch.message.as_deref().unwrap_or_default();
    assert!(
        message.contains("Route 53's control plane (served from us-east-1) is unreachable")
            && message.contains("failoverRouting"),
        "{message}"
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_flapping_primary_endpoint_keeps_traffic_on_the_primary() {
    let _serial = crate::SERIAL.lock().await;
    let _clean = CleanEmulator;
    let mut s = Scenario::new("dp-flap").await;
    let operator = s.start_operator().await;
    let (_setup, record) = data_plane_setup(&mut s, "metricAlarm").await;
    let emulator = Emulator::new();
    // Every probe result counts at once: no debounce hides the flaps.
    emulator.set_durations(json!({"route53:HealthCheckScale": 0})).await;
    let check = pilotlight(&s)
        .await
        .status
        .and_then(|st| st.traffic)
        .and_then(|t| t.health_check_id)
        .expect("the primary endpoint's health check");
    let primary = alb_address("us-east-1").await;
    for status in ["Failure", "Success", "Failure"] {
        emulator.set_health_check_status(&check, status).await;
        let seen = eventually(Duration::from_secs(10), || async {
            let healthy = emulator.health_check_healthy(&check).await?;
            (healthy == (status == "Success")).then_some(())
        })
        .await;
        assert!(seen.is_some(), "the checkers see the endpoint {status}");
        // The SECONDARY follows only the standby's switch, which nobody flipped.
        assert_eq!(answer(&record).await, primary, "with the endpoint {status}");
    }
    operator.stop().await;
}
