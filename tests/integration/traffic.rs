//! Route 53 end to end: the health check on the primary endpoint (created, tagged, adopted), the
//! application record kept on the active region's target, and a missing hosted zone.

use std::time::Duration;

use crate::common::*;
use aws_sdk_route53::types::{AliasTarget, ResourceRecordSet, RrType, TagResourceType};
use serde_json::json;

async fn scenario(prefix: &str) -> (Scenario, String, String) {
    let mut s = Scenario::new(prefix).await;
    let (zone, domain) = create_zone().await;
    let seed = seed();
    let alb = |region: &str| {
        json!({
            "dnsName": seed["alb"][region]["dnsName"],
            "hostedZoneId": seed["alb"][region]["canonicalHostedZoneId"],
        })
    };
    s.manifest["spec"] = json!({
        "regions": {"primary": "us-east-1", "standby": "us-west-2"},
        "traffic": {"mode": "recordUpdate", "route53": {
            "hostedZoneId": zone,
            "recordName": format!("api.{domain}"),
            "primaryTarget": alb("us-east-1"),
            "standbyTarget": alb("us-west-2"),
            "healthCheck": {
                "type": "HTTPS",
                "fqdn": seed["alb"]["us-east-1"]["dnsName"],
                "path": "/health",
                "requestInterval": 10,
                "failureThreshold": 3,
            },
        }},
    });
    (s, zone, domain)
}

/// The alias target DNS name of `name` (type A) in `zone`.
async fn alias_of(zone: &str, name: &str) -> Option<String> {
    let out = route53()
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(name)
        .start_record_type(RrType::A)
        .max_items(1)
        .send()
        .await
        .expect("list records");
    let record = out.resource_record_sets().first()?;
    (record.name().trim_end_matches('.') == name && record.r#type() == &RrType::A)
        .then(|| {
            record
                .alias_target()
                .map(|a| a.dns_name().trim_end_matches('.').to_owned())
        })
        .flatten()
}

fn alb_dns(region: &str) -> String {
    seed()["alb"][region]["dnsName"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn creates_the_health_check_and_points_the_record_at_the_primary() {
    let (mut s, zone, domain) = scenario("traffic-create").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s
        .wait("TrafficReady", "True", Some("Routed"), Duration::from_secs(60))
        .await;
    let id = pl
        .status
        .unwrap()
        .traffic
        .unwrap()
        .health_check_id
        .expect("health check id");

    let r53 = route53().await;
    let check = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .expect("health check");
    let config = check.health_check().unwrap().health_check_config().unwrap();
    assert_eq!(config.request_interval(), Some(10));
    assert_eq!(config.failure_threshold(), Some(3));
    assert_eq!(config.resource_path(), Some("/health"));
    assert_eq!(
        config.fully_qualified_domain_name(),
        Some(alb_dns("us-east-1").as_str())
    );
    let tags = r53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id(&id)
        .send()
        .await
        .expect("tags");
    let owner = format!("{}/app", s.ns.name);
    assert!(
        tags.resource_tag_set()
            .unwrap()
            .tags()
            .iter()
            .any(|t| t.key() == Some("pilotlight.dev/owner") && t.value() == Some(owner.as_str())),
        "{tags:?}"
    );
    let record = format!("api.{domain}");
    assert_eq!(alias_of(&zone, &record).await, Some(alb_dns("us-east-1")));
    operator.stop().await;

    // Someone points the record at the standby by hand; a restarted operator points it back.
    let repoint = ResourceRecordSet::builder()
        .name(&record)
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .dns_name(alb_dns("us-west-2"))
                .hosted_zone_id(seed()["alb"]["us-west-2"]["canonicalHostedZoneId"].as_str().unwrap())
                .evaluate_target_health(false)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    upsert_record(&r53, &zone, repoint, "repointed by hand")
        .await
        .expect("repoint record");
    let operator = s.start_operator().await;
    let repaired = eventually(Duration::from_secs(60), || async {
        (alias_of(&zone, &record).await == Some(alb_dns("us-east-1"))).then_some(())
    })
    .await;
    assert!(repaired.is_some(), "record pointed back at the active (primary) target");
    let calls = Emulator::new().calls_by(&operator.app).await;
    assert!(
        !calls.iter().any(|c| c.action == "CreateHealthCheck"),
        "the restarted operator adopts its health check"
    );
    operator.stop().await;
    let reasons = s.event_reasons().await;
    assert!(reasons.iter().any(|r| r == "PointingRecord"), "{reasons:?}");
    // The first PointingRecord (creation) is Normal; the repair must be a Warning.
    let warnings = s.warning_notes().await;
    assert!(
        warnings.iter().any(|n| n.contains("pointing it back")),
        "the repair is a Warning: {warnings:?}"
    );
}

#[tokio::test]
async fn a_recreated_pilotlight_adopts_its_health_check() {
    let (mut s, _, _) = scenario("traffic-adopt").await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s.wait("TrafficReady", "True", None, Duration::from_secs(60)).await;
    let id = pl.status.unwrap().traffic.unwrap().health_check_id.unwrap();
    // Deleted with the default Retain policy, then created again: no status to go by.
    s.delete_pilotlight().await;
    operator.stop().await;
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s.wait("TrafficReady", "True", None, Duration::from_secs(60)).await;
    assert_eq!(pl.status.unwrap().traffic.unwrap().health_check_id, Some(id));
    let calls = Emulator::new().calls_by(&operator.app).await;
    assert!(
        !calls.iter().any(|c| c.action == "CreateHealthCheck"),
        "adopted, not duplicated"
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_missing_hosted_zone_is_reported_without_a_hot_loop() {
    let (mut s, _, _) = scenario("traffic-nozone").await;
    let operator = s.start_operator().await;
    s.apply(|m| m["spec"]["traffic"]["route53"]["hostedZoneId"] = json!("Z00000000000000DEAD"))
        .await;
    let (_, message) = s.wait_for_reason("TrafficReady", "False", "AwsResourceNotFound").await;
    assert!(message.contains("NoSuchHostedZone"), "{message}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let calls = Emulator::new().calls_by(&operator.app).await;
    let route53_calls = calls.iter().filter(|c| c.service == "route53").count();
    assert!(
        route53_calls <= 4,
        "{route53_calls} Route 53 calls for a misconfigured PilotLight"
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_changed_threshold_updates_the_check_in_place_and_delete_policy_removes_it() {
    let (mut s, zone, domain) = scenario("traffic-update").await;
    let operator = s.start_operator().await;
    s.apply(|m| m["spec"]["deletionPolicy"] = json!("Delete")).await;
    let pl = s.wait("TrafficReady", "True", None, Duration::from_secs(60)).await;
    let id = pl.status.unwrap().traffic.unwrap().health_check_id.unwrap();

    s.apply(|m| m["spec"]["traffic"]["route53"]["healthCheck"]["failureThreshold"] = json!(5))
        .await;
    let r53 = route53().await;
    let updated = eventually(Duration::from_secs(60), || async {
        let check = r53.get_health_check().health_check_id(&id).send().await.ok()?;
        let threshold = check.health_check()?.health_check_config()?.failure_threshold();
        (threshold == Some(5)).then_some(())
    })
    .await;
    assert!(updated.is_some(), "the same health check now has threshold 5");

    s.delete_pilotlight().await;
    let gone = r53.get_health_check().health_check_id(&id).send().await;
    assert!(gone.is_err(), "the operator's health check is deleted: {gone:?}");
    let record = format!("api.{domain}");
    assert_eq!(
        alias_of(&zone, &record).await,
        Some(alb_dns("us-east-1")),
        "records carry traffic and stay"
    );
    let calls = Emulator::new().calls_by(&operator.app).await;
    assert_eq!(
        calls.iter().filter(|c| c.action == "CreateHealthCheck").count(),
        1,
        "updated in place, not replaced"
    );
    operator.stop().await;
}
