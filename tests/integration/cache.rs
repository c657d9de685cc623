//! The DR cache (`spec.cache.elastiCache`) end to end: nothing in steady state, created by a
//! Failover beside compute and named in the endpoints ConfigMap, deleted by the Failback; a
//! Drill creates and deletes it; one that cannot be created leaves the failover Succeeded.

use std::time::Duration;

use crate::common::{failover::*, *};
use pilot_light::api::{RequestPhase::*, StepState};
use serde_json::{Value, json};

const FINAL: &[pilot_light::api::RequestPhase] = &[Succeeded, Failed, Rejected, Cancelled];

/// A Ready [`failover_setup`] with a DR cache `id` of `engine` in subnet group `<id>-subnets`.
async fn with_cache(prefix: &str, engine: &str) -> (Scenario, Operator, String) {
    let mut s = Scenario::new(prefix).await;
    let id = format!("c-{}", unique_suffix());
    let group = format!("{id}-subnets");
    create_cache_subnet_group("us-west-2", &group).await;
    let operator = s.start_operator().await;
    let cache: Value = json!({"elastiCache": {
        "cacheId": id, "engine": engine, "nodeType": "cache.r6g.large", "nodeCount": 2,
        "subnetGroupName": group,
        "securityGroupIds": [seed()["vpc"]["us-west-2"]["securityGroupId"]],
    }});
    failover_setup_with(&mut s, |m| m["spec"]["cache"] = cache).await;
    (s, operator, id)
}

fn step<'a>(r: &'a pilot_light::api::FailoverRequest, name: &str) -> &'a pilot_light::api::StepStatus {
    r.status
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .find(|x| x.name == name)
        .unwrap()
}

#[tokio::test]
async fn a_failover_creates_the_cache_and_names_it_and_the_failback_deletes_it() {
    let (s, operator, id) = with_cache("cache-move", "Redis").await;
    let pl = pilotlight(&s).await;
    let ready = condition(pl.status.as_ref().unwrap(), "CacheReady");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "ReadyToCreate"),
        "{ready:?}"
    );
    assert_eq!(
        replication_group_status("us-west-2", &id).await,
        None,
        "nothing runs in steady state"
    );

    create_request(&s, "unplanned", "Failover", json!({})).await;
    let done = wait_phase(&s, "unplanned", FINAL, Duration::from_secs(120)).await;
    assert_eq!(phase(&done), Some(Succeeded), "{:#?}", done.status);
    assert_eq!(step(&done, "CreateCache").state, StepState::Succeeded);
    assert_eq!(
        replication_group_status("us-west-2", &id).await.as_deref(),
        Some("available")
    );
    let endpoint = eventually(Duration::from_secs(30), || async {
        endpoints(&s).await.get("cacheEndpoint").cloned()
    })
    .await
    .expect("the ConfigMap names the DR cache");
    assert!(endpoint.contains(&id) && endpoint.ends_with(":6379"), "{endpoint}");
    s.wait("CacheReady", "True", Some("CacheAvailable"), Duration::from_secs(60))
        .await;

    create_request(&s, "home", "Failback", json!({})).await;
    let done = wait_phase(&s, "home", FINAL, Duration::from_secs(120)).await;
    assert_eq!(phase(&done), Some(Succeeded), "{:#?}", done.status);
    assert_eq!(step(&done, "DeleteCache").state, StepState::Succeeded);
    assert_eq!(replication_group_status("us-west-2", &id).await, None);
    let gone = eventually(Duration::from_secs(30), || async {
        (!endpoints(&s).await.contains_key("cacheEndpoint")).then_some(())
    })
    .await;
    assert!(gone.is_some(), "cacheEndpoint leaves the ConfigMap with the failback");
    operator.stop().await;
}

#[tokio::test]
async fn a_drill_creates_a_memcached_cache_and_deletes_it_after() {
    let (mut s, operator, id) = with_cache("cache-drill", "Memcached").await;
    let healthy = http_endpoint(200).await;
    s.apply(|m| m["spec"]["failover"]["smokeTest"] = json!({"url": healthy}))
        .await;
    let emulator = Emulator::new();
    let mark = call_log_mark(&emulator).await;
    create_request(&s, "rehearsal", "Drill", json!({})).await;
    let done = wait_phase(&s, "rehearsal", FINAL, Duration::from_secs(120)).await;
    assert_eq!(phase(&done), Some(Succeeded), "{:#?}", done.status);
    assert_eq!(step(&done, "CreateCache").state, StepState::Succeeded);
    assert_eq!(step(&done, "DeleteCache").state, StepState::Succeeded);
    let cluster = elasticache("us-west-2")
        .await
        .describe_cache_clusters()
        .cache_cluster_id(&id)
        .send()
        .await;
    assert!(cluster.is_err(), "deleted after the drill: {cluster:?}");
    assert!(
        !endpoints(&s).await.contains_key("cacheEndpoint"),
        "a drill's cache is not for applications"
    );
    let calls = mutating_calls(&emulator, &operator.app, mark).await;
    let cache_calls: Vec<&String> = calls.iter().filter(|c| c.contains("CacheCluster")).collect();
    assert_eq!(
        cache_calls,
        ["us-west-2 CreateCacheCluster", "us-west-2 DeleteCacheCluster"],
        "a Memcached cache cluster, each once"
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_cache_that_cannot_be_created_leaves_the_failover_succeeded_with_a_warning() {
    let (mut s, operator, id) = with_cache("cache-optional", "Valkey").await;
    s.apply(|m| m["spec"]["cache"]["elastiCache"]["subnetGroupName"] = json!(format!("{id}-gone")))
        .await;
    let (_, message) = s
        .wait_for_reason("CacheReady", "False", "CacheSubnetGroupNotFound")
        .await;
    assert!(message.contains(&format!("{id}-gone")), "{message}");
    create_request(&s, "unplanned", "Failover", json!({})).await;
    let done = wait_phase(&s, "unplanned", FINAL, Duration::from_secs(120)).await;
    assert_eq!(phase(&done), Some(Succeeded), "{:#?}", done.status);
    let create = step(&done, "CreateCache");
    assert_eq!(create.state, StepState::Skipped);
    let skipped = create.message.clone().unwrap();
    assert!(
        skipped.contains("required is false") && skipped.contains("CacheSubnetGroupNotFound"),
        "{skipped}"
    );
    let warned = eventually(Duration::from_secs(30), || async {
        s.warning_notes()
            .await
            .into_iter()
            .find(|n| n.contains("goes on without it"))
    })
    .await;
    assert!(warned.is_some(), "a Warning Event says the cache was skipped");
    operator.stop().await;
}
