//! `failoverRouting` without faults, against the emulator's DNS server and health checkers: the
//! switch alone moves the failover records' answer. A Drill leaves it alone, a Switchover flips
//! it to the standby and a Failback flips it back, with each switch. The outage cases are in
//! `tests/exclusive/data_plane.rs`.

use std::time::Duration;

use crate::common::{failover::*, *};
use pilot_light::api::RequestPhase::{self, *};
use serde_json::json;

const FINAL: &[RequestPhase] = &[Succeeded, Failed, Rejected, Cancelled];

/// Runs request `name` of `type_` to the end; it must Succeed.
async fn run(s: &Scenario, name: &str, type_: &str) {
    create_request(s, name, type_, json!({})).await;
    let r = wait_phase(s, name, FINAL, Duration::from_secs(120)).await;
    assert_eq!(phase(&r), Some(Succeeded), "{name}: {:#?}", r.status);
}

async fn the_switch_moves_traffic_and_a_drill_does_not(switch: &str) {
    let mut s = Scenario::new(&format!("dps-{}", switch.to_lowercase())).await;
    let operator = s.start_operator().await;
    let (_setup, record) = data_plane_setup(&mut s, switch).await;
    // The drill's smoke test asks this rather than the standby's (synthetic) load balancer.
    let healthy = http_endpoint(200).await;
    s.apply(|m| m["spec"]["failover"]["smokeTest"] = json!({"url": healthy, "path": "/healthz"}))
        .await;
    let (primary, standby) = (alb_address("us-east-1").await, alb_address("us-west-2").await);
    assert_ne!(primary, standby);

    run(&s, "drill", "Drill").await;
    assert_eq!(answer(&record).await, primary, "a drill leaves traffic on the primary");

    run(&s, "switch", "Switchover").await;
    assert_eq!(
        answer(&record).await,
        standby,
        "the switchover's switch answers the standby"
    );
    // Convergence reports the flipped switch on its next look.
    let reported = eventually(Duration::from_secs(30), || async {
        let pl = pilotlight(&s).await;
        let sends_to = pl.status?.traffic?.switch?.sends_to?;
        (sends_to == "us-west-2").then_some(())
    })
    .await;
    assert!(
        reported.is_some(),
        "status.traffic.switch.sendsTo is us-west-2: {:#?}",
        pilotlight(&s).await.status
    );

    run(&s, "back", "Failback").await;
    assert_eq!(
        answer(&record).await,
        primary,
        "the failback's switch answers the primary again"
    );
    operator.stop().await;
}

#[tokio::test]
async fn routing_controls_move_traffic_on_a_switchover_and_back_and_a_drill_leaves_them() {
    the_switch_moves_traffic_and_a_drill_does_not("routingControl").await;
}

#[tokio::test]
async fn the_metric_alarm_moves_traffic_on_a_switchover_and_back_and_a_drill_leaves_it() {
    the_switch_moves_traffic_and_a_drill_does_not("metricAlarm").await;
}
