//! The world a measurement runs in: names, SDK clients, and the AWS state a request changes.

use std::collections::HashMap;

use crate::{
    PRIMARY, REVERSE_RULE, STANDBY,
    common::{failover::*, *},
};

pub struct World {
    pub global: String,
    pub cluster: HashMap<&'static str, String>,
    pub cluster_arn: HashMap<&'static str, String>,
    /// Writer endpoints, as the operator writes them into the db CNAME.
    pub endpoint: HashMap<&'static str, String>,
    pub group: HashMap<&'static str, String>,
    pub target_group: HashMap<&'static str, Option<String>>,
    pub bucket: HashMap<&'static str, String>,
    pub alb_dns: HashMap<&'static str, String>,
    pub alb_zone: HashMap<&'static str, String>,
    pub zone: String,
    pub app_record: String,
    /// The record the seed order UPSERTs: the application record in `recordUpdate` mode; in
    /// `failoverRouting` mode, whose failover records no one UPSERTs, a simple record of its own
    /// (the seed's timing does not depend on the name).
    pub seed_record: String,
    pub db_record: String,
    /// `spec.compute.autoScalingGroup.failover`: (min, desired, max).
    pub failover_sizes: (i32, i32, i32),
}

/// SDK clients straight to the emulator, built once (outside every timed section).
pub struct Sdk {
    pub rds: HashMap<&'static str, aws_sdk_rds::Client>,
    pub autoscaling: HashMap<&'static str, aws_sdk_autoscaling::Client>,
    pub elbv2: HashMap<&'static str, aws_sdk_elasticloadbalancingv2::Client>,
    pub s3: HashMap<&'static str, aws_sdk_s3::Client>,
    pub route53: aws_sdk_route53::Client,
}

impl Sdk {
    pub async fn new() -> Self {
        let mut sdk = Self {
            rds: HashMap::new(),
            autoscaling: HashMap::new(),
            elbv2: HashMap::new(),
            s3: HashMap::new(),
            route53: route53().await,
        };
        for region in [PRIMARY, STANDBY] {
            sdk.rds.insert(region, rds(region).await);
            sdk.autoscaling.insert(region, autoscaling(region).await);
            sdk.elbv2.insert(region, elbv2(region).await);
            sdk.s3.insert(region, s3(region).await);
        }
        sdk
    }
}

/// What a switchover or failover changes in AWS, read outside the timed sections.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsState {
    pub writer_region: String,
    pub standby_group: (i32, i32, i32),
    pub primary_group: (i32, i32, i32),
    /// Healthy targets of the standby group's target group.
    pub standby_healthy: usize,
    pub app_record: Option<String>,
    pub db_record: Option<String>,
    pub reverse_rule: bool,
}

pub async fn aws_state(w: &World, sdk: &Sdk) -> AwsState {
    let tg = w.target_group[STANDBY].as_deref().unwrap();
    let healthy = sdk.elbv2[STANDBY]
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .expect("describe target health")
        .target_health_descriptions()
        .iter()
        .filter(|d| d.target_health().and_then(|h| h.state()).map(|s| s.as_str()) == Some("healthy"))
        .count();
    let reverse_rule = sdk.s3[STANDBY]
        .get_bucket_replication()
        .bucket(&w.bucket[STANDBY])
        .send()
        .await
        .ok()
        .and_then(|o| o.replication_configuration().cloned())
        .is_some_and(|c| c.rules().iter().any(|r| r.id() == Some(REVERSE_RULE)));
    AwsState {
        writer_region: writer(&w.global).await.0,
        standby_group: capacity(STANDBY, &w.group[STANDBY]).await,
        primary_group: capacity(PRIMARY, &w.group[PRIMARY]).await,
        standby_healthy: healthy,
        app_record: answered_alb(w).await,
        db_record: record_target(&w.zone, &w.db_record, "CNAME").await,
        reverse_rule,
    }
}

/// Removes the reverse replication rule (the standby bucket has no other), so that every
/// switchover writes it, as the first one does.
pub async fn remove_reverse_rule(w: &World, sdk: &Sdk) {
    let _ = sdk.s3[STANDBY]
        .delete_bucket_replication()
        .bucket(&w.bucket[STANDBY])
        .send()
        .await;
}

pub async fn world(s: &Scenario, setup: &FailoverSetup, sdk: &Sdk) -> World {
    let seed = seed();
    let full = &setup.full;
    let mut w = World {
        global: s.names.global.clone(),
        cluster: HashMap::from([(PRIMARY, s.names.primary.clone()), (STANDBY, s.names.standby.clone())]),
        cluster_arn: HashMap::new(),
        endpoint: HashMap::new(),
        group: HashMap::from([(PRIMARY, setup.primary_asg.clone()), (STANDBY, full.asg.clone())]),
        target_group: HashMap::from([(PRIMARY, None), (STANDBY, Some(setup.target_group.clone()))]),
        bucket: HashMap::from([
            (PRIMARY, full.primary_bucket.clone()),
            (STANDBY, full.standby_bucket.clone()),
        ]),
        alb_dns: HashMap::new(),
        alb_zone: HashMap::new(),
        zone: full.zone.clone(),
        app_record: format!("api.{}", full.domain).to_ascii_lowercase(),
        seed_record: match s.manifest["spec"]["traffic"]["mode"].as_str() {
            Some("recordUpdate") => format!("api.{}", full.domain),
            _ => format!("seed.{}", full.domain),
        }
        .to_ascii_lowercase(),
        db_record: format!("db.{}", full.domain).to_ascii_lowercase(),
        failover_sizes: {
            let f = &s.manifest["spec"]["compute"]["autoScalingGroup"]["failover"];
            let n = |k: &str| f[k].as_i64().unwrap() as i32;
            (n("minSize"), n("desiredCapacity"), n("maxSize"))
        },
    };
    for region in [PRIMARY, STANDBY] {
        let out = sdk.rds[region]
            .describe_db_clusters()
            .db_cluster_identifier(&w.cluster[region])
            .send()
            .await
            .expect("describe cluster");
        let c = &out.db_clusters()[0];
        w.cluster_arn.insert(region, c.db_cluster_arn().unwrap().to_owned());
        w.endpoint
            .insert(region, c.endpoint().unwrap().trim_end_matches('.').to_ascii_lowercase());
        w.alb_dns.insert(
            region,
            seed["alb"][region]["dnsName"]
                .as_str()
                .unwrap()
                .trim_end_matches('.')
                .to_ascii_lowercase(),
        );
        w.alb_zone.insert(
            region,
            seed["alb"][region]["canonicalHostedZoneId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    w
}

/// The ALB whose address the application name answers through the emulator's DNS server (the
/// data plane, whichever the traffic mode), or what it answers instead.
async fn answered_alb(w: &World) -> Option<String> {
    let have = answer(&w.app_record).await;
    for region in [PRIMARY, STANDBY] {
        if have == alb_address(region).await {
            return Some(w.alb_dns[region].clone());
        }
    }
    (!have.is_empty()).then(|| format!("{have:?}"))
}

/// The seed order's record as an alias to `region`'s ALB.
pub fn alias_record(
    w: &World,
    region: &str,
    evaluate_target_health: bool,
) -> aws_sdk_route53::types::ResourceRecordSet {
    use aws_sdk_route53::types::{AliasTarget, ResourceRecordSet, RrType};
    ResourceRecordSet::builder()
        .name(&w.seed_record)
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&w.alb_zone[region])
                .dns_name(&w.alb_dns[region])
                .evaluate_target_health(evaluate_target_health)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// The state every measured request starts from: writer in the primary region, the standby
/// group dormant, traffic and the db CNAME on the primary, no reverse rule.
pub fn start_state(w: &World) -> AwsState {
    AwsState {
        writer_region: PRIMARY.into(),
        standby_group: (0, 0, w.failover_sizes.2),
        primary_group: (w.failover_sizes.0, w.failover_sizes.1, w.failover_sizes.2),
        standby_healthy: 0,
        app_record: Some(w.alb_dns[PRIMARY].clone()),
        db_record: Some(w.endpoint[PRIMARY].clone()),
        reverse_rule: false,
    }
}
