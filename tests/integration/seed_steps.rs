//! The seed articles' steps from one PilotLight: once it is Ready, AWS holds what the second
//! article's CLI commands create (Steps 1 and 2); a Failover on an RDS read replica does what
//! the first article does by hand.

use std::time::Duration;

use crate::common::*;
use aws_sdk_route53::types::RrType;
use aws_sdk_s3::types::{BucketVersioningStatus, DeleteMarkerReplicationStatus};

#[tokio::test]
async fn one_pilotlight_reproduces_steps_one_and_two() {
    let mut s = Scenario::new("seed-steps").await;
    let FullSetup {
        primary_bucket,
        standby_bucket,
        table,
        asg,
        template,
        image,
        zone,
        domain,
    } = full_setup(&mut s).await;
    let names = s.names.clone();
    let seed = seed();
    let operator = s.start_operator().await;
    s.apply(|_| {}).await;
    let pl = s.wait("Ready", "True", None, Duration::from_secs(120)).await;
    let status = pl.status.unwrap();
    for type_ in [
        "DatabaseReplicating",
        "StorageReplicating",
        "ComputeReady",
        "TrafficReady",
    ] {
        assert_eq!(condition(&status, type_).status, "True", "{type_}");
    }

    // Step 1: the global database with two members and a db.r5.large standby instance.
    let global = rds("us-east-1")
        .await
        .describe_global_clusters()
        .global_cluster_identifier(&names.global)
        .send()
        .await
        .unwrap();
    let members = global.global_clusters()[0].global_cluster_members();
    assert_eq!(members.len(), 2);
    assert_eq!(members.iter().filter(|m| m.is_writer() == Some(true)).count(), 1);
    let instances = cluster_instances("us-west-2", &names.standby).await;
    assert_eq!(instances[0].db_instance_class(), Some("db.r5.large"));

    // Step 1: versioned buckets and a replication rule with delete-marker replication.
    assert_eq!(
        versioning("us-east-1", &primary_bucket).await,
        Some(BucketVersioningStatus::Enabled)
    );
    assert_eq!(
        versioning("us-west-2", &standby_bucket).await,
        Some(BucketVersioningStatus::Enabled)
    );
    let replication = s3("us-east-1")
        .await
        .get_bucket_replication()
        .bucket(&primary_bucket)
        .send()
        .await
        .unwrap()
        .replication_configuration
        .unwrap();
    let rule = &replication.rules()[0];
    assert_eq!(
        rule.delete_marker_replication().and_then(|d| d.status()),
        Some(&DeleteMarkerReplicationStatus::Enabled)
    );
    assert!(rule.destination().unwrap().bucket().ends_with(&standby_bucket));

    // Step 1: the DynamoDB replica.
    let described = dynamodb("us-east-1")
        .await
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert!(
        described
            .table()
            .unwrap()
            .replicas()
            .iter()
            .any(|r| r.region_name() == Some("us-west-2")),
        "replica in us-west-2"
    );

    // Step 2: the copied AMI, the launch template, the ASG at 0/0/10 with its target group.
    let copies = image_copies(&image).await;
    assert_eq!(copies.len(), 1);
    let versions = ec2("us-west-2")
        .await
        .describe_launch_template_versions()
        .launch_template_name(&template)
        .versions("$Default")
        .send()
        .await
        .unwrap();
    assert_eq!(
        versions.launch_template_versions()[0]
            .launch_template_data()
            .unwrap()
            .image_id(),
        copies[0].image_id()
    );
    let group = standby_group(&asg).await.unwrap();
    assert_eq!(
        (group.min_size(), group.desired_capacity(), group.max_size()),
        (Some(0), Some(0), Some(10))
    );
    assert_eq!(
        group.target_group_arns(),
        [seed["alb"]["us-west-2"]["targetGroupArn"].as_str().unwrap()]
    );

    // Traffic: the health check (interval 10, threshold 3) and the writer CNAME.
    let id = status.traffic.as_ref().unwrap().health_check_id.clone().unwrap();
    let check = route53()
        .await
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap();
    let config = check.health_check().unwrap().health_check_config().unwrap();
    assert_eq!(
        (config.request_interval(), config.failure_threshold()),
        (Some(10), Some(3))
    );
    let writer = status.database.as_ref().unwrap().writer_endpoint.clone().unwrap();
    let cname = route53()
        .await
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .start_record_name(format!("db.{domain}"))
        .start_record_type(RrType::Cname)
        .max_items(1)
        .send()
        .await
        .unwrap();
    let record = &cname.resource_record_sets()[0];
    assert_eq!(record.r#type(), &RrType::Cname);
    assert_eq!(record.resource_records()[0].value().trim_end_matches('.'), writer);

    // Prometheus: one gauge per component.
    let metrics = operator.metrics.render();
    for component in [
        "DatabaseReplicating",
        "StorageReplicating",
        "ComputeReady",
        "TrafficReady",
    ] {
        let series = format!(
            "pilot_light_component_ready{{namespace=\"{}\",name=\"app\",component=\"{component}\"}} 1",
            s.ns.name
        );
        assert!(metrics.contains(&series), "{series} in:\n{metrics}");
    }

    // What applications mount.
    let data = endpoints(&s).await;
    assert_eq!(data.get("activeRegion").map(String::as_str), Some("us-east-1"));
    assert_eq!(data.get("databaseWriterEndpoint"), Some(&writer));
    operator.stop().await;
}

/// The first seed's failover from one PilotLight on an RDS read replica: "the RDS DB RR is
/// promoted to master, the instance size increased and a DB slave created"; "supporting services
/// (ec2 instances, load balancers) are created/scaled and primary DNS entries updated"; and the
/// advised CNAME on the database endpoint is pointed at the new master.
#[tokio::test]
async fn one_pilotlight_runs_the_first_seeds_failover_on_an_rds_read_replica() {
    use crate::common::failover::*;
    let mut s = Scenario::new("seed-001").await;
    let (source, replica) = (format!("{}-db", s.names.primary), format!("{}-dr", s.names.primary));
    create_source_instance("us-east-1", &source, false).await;
    let operator = s.start_operator().await;
    let setup = failover_setup_with(&mut s, |m| {
        let record = m["spec"]["database"]["aurora"]["writerEndpointRecord"].clone();
        m["spec"]["database"] = serde_json::json!({"rds": {
            "sourceInstanceIdentifier": source,
            "replicaInstanceIdentifier": replica,
            "replicaInstanceClass": "db.t3.medium",
            "promotedInstanceClass": "db.r5.xlarge",
            "promotedReplicas": 1,
            "writerEndpointRecord": record,
        }});
    })
    .await;
    let (lb, _) = create_load_balancer(&setup.target_group).await;
    s.apply(|m| {
        m["spec"]["traffic"]["loadBalancer"] = serde_json::json!({"name": lb, "targetGroupArn": setup.target_group})
    })
    .await;
    s.wait_for_reason("LoadBalancerReady", "True", "Wired").await;
    let app = s.manifest["spec"]["traffic"]["route53"]["recordName"]
        .as_str()
        .unwrap()
        .to_owned();
    let zone = setup.full.zone.clone();
    let db_record = format!("db.{}", setup.full.domain);

    create_request(&s, "outage", "Failover", serde_json::json!({})).await;
    let done = wait_phase(
        &s,
        "outage",
        &[
            pilot_light::api::RequestPhase::Succeeded,
            pilot_light::api::RequestPhase::Failed,
        ],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(
        phase(&done),
        Some(pilot_light::api::RequestPhase::Succeeded),
        "{:#?}",
        done.status
    );

    // The RR promoted to master, its size increased, and a DB slave of it.
    let master = db_instance("us-west-2", &replica).await.unwrap();
    assert_eq!(master.read_replica_source_db_instance_identifier(), None);
    assert_eq!(master.db_instance_class(), Some("db.r5.xlarge"));
    let slave = db_instance("us-west-2", &format!("{replica}-replica-1"))
        .await
        .expect("a DB slave");
    assert_eq!(
        slave.read_replica_source_db_instance_identifier(),
        Some(replica.as_str())
    );
    // Supporting services scaled, and DNS answering with the DR load balancer.
    let (min, desired, max) = capacity("us-west-2", &setup.full.asg).await;
    assert!(min >= 1 && desired >= 1 && max >= desired, "{min}/{desired}/{max}");
    let moved = eventually(Duration::from_secs(30), || async {
        (answer(&app).await == alb_address("us-west-2").await).then_some(())
    })
    .await;
    assert!(moved.is_some(), "{app} answers with the DR load balancer");
    // The database CNAME follows the new master.
    let endpoint = master.endpoint().unwrap().address().unwrap().to_owned();
    assert_eq!(
        record_target(&zone, &db_record, "CNAME").await.as_deref(),
        Some(endpoint.as_str())
    );
    operator.stop().await;
}
