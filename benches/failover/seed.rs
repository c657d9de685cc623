//! The seed article's Lambda, sequentially with boto3-style waiters.

use std::time::{Duration, Instant};

use crate::{
    PRIMARY, STANDBY,
    common::{failover::*, *},
    world::{Sdk, World, alias_record},
};

pub struct SeedRun {
    pub promoted: Duration,
    pub healthy: Duration,
    pub in_sync: Duration,
    pub calls: usize,
}

/// Polls `check` as a boto3 waiter does: at once, then every `delay`.
pub async fn waiter<F, Fut>(delay: Duration, calls: &mut usize, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        *calls += 1;
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "seed order: {what} not reached in 30 min");
        tokio::time::sleep(delay).await;
    }
}

pub async fn seed_order(w: &World, sdk: &Sdk, delay: Duration) -> SeedRun {
    use aws_sdk_route53::types::ChangeStatus;
    let mut calls = 0;
    let t0 = Instant::now();
    calls += 1;
    sdk.rds[STANDBY]
        .failover_global_cluster()
        .global_cluster_identifier(&w.global)
        .target_db_cluster_identifier(&w.cluster_arn[STANDBY])
        .allow_data_loss(true)
        .send()
        .await
        .expect("seed order: FailoverGlobalCluster");
    waiter(delay, &mut calls, "the standby as writer", || async {
        let out = sdk.rds[STANDBY]
            .describe_global_clusters()
            .global_cluster_identifier(&w.global)
            .send()
            .await
            .expect("seed order: DescribeGlobalClusters");
        out.global_clusters()[0]
            .global_cluster_members()
            .iter()
            .any(|m| m.is_writer() == Some(true) && m.db_cluster_arn() == Some(w.cluster_arn[STANDBY].as_str()))
    })
    .await;
    let promoted = t0.elapsed();
    let (min, desired, max) = w.failover_sizes;
    calls += 1;
    sdk.autoscaling[STANDBY]
        .update_auto_scaling_group()
        .auto_scaling_group_name(&w.group[STANDBY])
        .min_size(min)
        .desired_capacity(desired)
        .max_size(max)
        .send()
        .await
        .expect("seed order: UpdateAutoScalingGroup");
    let tg = w.target_group[STANDBY].clone().unwrap();
    waiter(delay, &mut calls, "healthy targets", || async {
        let out = sdk.elbv2[STANDBY]
            .describe_target_health()
            .target_group_arn(&tg)
            .send()
            .await
            .expect("seed order: DescribeTargetHealth");
        let healthy = out
            .target_health_descriptions()
            .iter()
            .filter(|d| d.target_health().and_then(|h| h.state()).map(|s| s.as_str()) == Some("healthy"))
            .count();
        healthy >= min as usize
    })
    .await;
    let healthy = t0.elapsed();
    calls += 1;
    let change = upsert_record(&sdk.route53, &w.zone, alias_record(w, STANDBY, true), "seed order")
        .await
        .expect("seed order: ChangeResourceRecordSets");
    let id = change.change_info().unwrap().id().to_owned();
    waiter(delay, &mut calls, "INSYNC", || async {
        let out = sdk
            .route53
            .get_change()
            .id(&id)
            .send()
            .await
            .expect("seed order: GetChange");
        out.change_info().is_some_and(|i| i.status() == &ChangeStatus::Insync)
    })
    .await;
    SeedRun {
        promoted,
        healthy,
        in_sync: t0.elapsed(),
        calls,
    }
}

/// Undoes the seed order with the SDK (durations instant): writer back to the primary, the
/// standby group to 0/0, the application record back on the primary ALB.
pub async fn undo_seed_order(w: &World, sdk: &Sdk) {
    sdk.rds[PRIMARY]
        .switchover_global_cluster()
        .global_cluster_identifier(&w.global)
        .target_db_cluster_identifier(&w.cluster_arn[PRIMARY])
        .send()
        .await
        .expect("switch the writer back");
    eventually(Duration::from_secs(30), || async {
        (writer(&w.global).await.0 == PRIMARY).then_some(())
    })
    .await
    .expect("writer back in the primary region");
    sdk.autoscaling[STANDBY]
        .update_auto_scaling_group()
        .auto_scaling_group_name(&w.group[STANDBY])
        .min_size(0)
        .desired_capacity(0)
        .max_size(w.failover_sizes.2)
        .send()
        .await
        .expect("standby group to zero");
    upsert_record(
        &sdk.route53,
        &w.zone,
        alias_record(w, PRIMARY, false),
        "undo the seed order",
    )
    .await
    .expect("application record back on the primary");
}
