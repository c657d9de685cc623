//! The RPO and RTO every ended request reports, with their basis: measured from the lag the
//! emulator publishes as AWS does (`AuroraGlobalDBReplicationLag`), a bound from a stale
//! sample, zero for a planned move, unknown (and why) when nothing was ever published.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use pilot_light::api::{EstimateBasis, FailoverRequestStatus, RequestPhase::*};
use serde_json::json;

use crate::common::{failover::*, *};

const FINAL: &[pilot_light::api::RequestPhase] = &[Succeeded, Failed, Rejected, Cancelled];

/// Runs request `name` of `type_` to its end and returns its status, which must be Succeeded.
async fn run(s: &Scenario, name: &str, type_: &str, extra: serde_json::Value) -> FailoverRequestStatus {
    create_request(s, name, type_, extra).await;
    let r = wait_phase(s, name, FINAL, Duration::from_secs(90)).await;
    let status = r.status.unwrap();
    assert_eq!(status.phase, Some(Succeeded), "{status:#?}");
    let rto = status.recovery_time.clone().expect("an RTO");
    assert_eq!(rto.basis, EstimateBasis::Measured, "{rto:?}");
    assert_eq!(status.recovery_time_seconds, rto.seconds);
    status
}

/// A Ready [`failover_setup`] whose standby cluster the emulator never publishes a lag for.
async fn ready_without_published_lag(prefix: &str) -> (Scenario, Operator) {
    let mut s = Scenario::new(prefix).await;
    Emulator::new()
        .set_replication_lag("us-west-2", &s.names.standby, None)
        .await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    (s, operator)
}

#[tokio::test]
async fn every_request_type_reports_its_rpo_with_a_basis() {
    let mut s = Scenario::new("rpo-each").await;
    let emulator = Emulator::new();
    emulator
        .set_replication_lag("us-west-2", &s.names.standby, Some(1200.0))
        .await;
    let operator = s.start_operator().await;
    failover_setup(&mut s).await;
    let seen = eventually(Duration::from_secs(30), || async {
        pilotlight(&s).await.status?.database?.replication_lag
    })
    .await;
    assert_eq!(seen.as_deref(), Some("1.2s"), "convergence reads the published lag");

    let failover = run(&s, "unplanned", "Failover", json!({})).await;
    let rpo = failover.data_loss.clone().expect("an RPO");
    assert_eq!(
        (rpo.basis, rpo.seconds),
        (EstimateBasis::Measured, Some(1.2)),
        "{rpo:?}"
    );
    assert!(rpo.sample_age_seconds.is_some_and(|age| age <= 150.0), "{rpo:?}");
    assert!(rpo.reason.contains("AuroraGlobalDBReplicationLag"), "{}", rpo.reason);
    assert_eq!(failover.data_loss_window_seconds, Some(1.2));
    let last = eventually(Duration::from_secs(30), || async {
        let last = pilotlight(&s).await.status?.last_failover?;
        (last.request_name == "unplanned").then_some(last)
    })
    .await
    .expect("lastFailover");
    assert_eq!(last.data_loss, Some(rpo));

    let back = run(&s, "back", "Failback", json!({})).await;
    let rpo = back.data_loss.expect("an RPO");
    assert_eq!((rpo.basis, rpo.seconds), (EstimateBasis::Zero, Some(0.0)), "{rpo:?}");

    // Back in us-east-1, the secondary in us-west-2 publishes again (at the lag set above).
    let healthy = http_endpoint(200).await;
    s.apply(|m| m["spec"]["failover"]["smokeTest"] = json!({"url": healthy, "path": "/healthz"}))
        .await;
    let drill = run(&s, "drill", "Drill", json!({})).await;
    let rpo = drill.data_loss.expect("an RPO");
    assert_eq!(rpo.basis, EstimateBasis::Measured, "{rpo:?}");
    assert!(rpo.reason.starts_with("a drill loses nothing"), "{}", rpo.reason);
    operator.stop().await;
}

#[tokio::test]
async fn with_no_lag_ever_published_the_rpo_is_unknown_and_says_why() {
    let (s, operator) = ready_without_published_lag("rpo-none").await;

    let status = run(&s, "unplanned", "Failover", json!({})).await;
    let rpo = status.data_loss.expect("an RPO, even unknown");
    assert_eq!((rpo.basis, rpo.seconds), (EstimateBasis::Unknown, None), "{rpo:?}");
    assert!(
        rpo.reason.contains("no AuroraGlobalDBReplicationLag") && rpo.reason.contains(&s.names.standby),
        "{}",
        rpo.reason
    );
    operator.stop().await;
}

#[tokio::test]
async fn with_only_a_stale_lag_sample_the_rpo_is_a_bound() {
    let (s, operator) = ready_without_published_lag("rpo-stale").await;
    // The last sample anyone published, five minutes ago.
    cloudwatch("us-west-2")
        .await
        .put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(
            MetricDatum::builder()
                .metric_name("AuroraGlobalDBReplicationLag")
                .dimensions(
                    Dimension::builder()
                        .name("DBClusterIdentifier")
                        .value(&s.names.standby)
                        .build(),
                )
                .value(1500.0)
                .unit(StandardUnit::Milliseconds)
                .timestamp(aws_smithy_types::DateTime::from(
                    SystemTime::now() - Duration::from_secs(300),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The standby is Degraded (ReplicationLagStale) as soon as convergence sees that sample: in
    // an outage, people force the failover.
    let status = run(&s, "unplanned", "Failover", json!({"force": true})).await;
    let rpo = status.data_loss.expect("an RPO");
    assert_eq!(rpo.basis, EstimateBasis::Bound, "{rpo:?}");
    let age = rpo.sample_age_seconds.expect("the sample's age");
    assert!((300.0..600.0).contains(&age), "{rpo:?}");
    assert_eq!(rpo.seconds, Some(1.5 + age), "{rpo:?}");
    operator.stop().await;
}
