use super::*;
use crate::pilotlight::{ComponentHealth, test_regions as regions};

fn spec() -> ElastiCacheSpec {
    serde_json::from_value(serde_json::json!({
        "cacheId": "app-cache-dr",
        "engine": "Redis",
        "nodeType": "cache.r6g.large",
        "nodeCount": 2,
        "subnetGroupName": "dr-cache",
        "securityGroupIds": ["sg-0123456789abcdef0"],
    }))
    .unwrap()
}

fn ready() -> Observation {
    Observation {
        cache: None,
        subnet_group_exists: true,
        missing_security_groups: vec![],
        node_type_offered: true,
    }
}

fn cache(status: &str) -> Cache {
    Cache {
        status: status.into(),
        endpoint: Some("app-cache-dr.abc.use1.cache.amazonaws.com:6379".into()),
    }
}

fn decide_in(active: &str, o: &Observation) -> Decision {
    let regions = regions();
    decide(&regions, Serving::of(&regions, Some(active)), &spec(), o)
}

/// How to break an observation, and what the report then says.
type Case = (fn(&mut Observation), &'static str, &'static str);

#[test]
fn in_steady_state_nothing_runs_and_the_prerequisites_make_it_ready() {
    let d = decide_in("us-east-1", &ready());
    assert_eq!(
        (d.report.health, d.report.reason),
        (ComponentHealth::Healthy, "ReadyToCreate")
    );
    assert!(
        d.report.message.contains("app-cache-dr (redis, 2 × cache.r6g.large)"),
        "{}",
        d.report.message
    );
    assert_eq!(d.status, CacheStatus::default());
}

#[test]
fn each_missing_prerequisite_is_named() {
    let cases: [Case; 3] = [
        (
            |o| o.subnet_group_exists = false,
            "CacheSubnetGroupNotFound",
            "dr-cache",
        ),
        (
            |o| o.missing_security_groups = vec!["sg-0123456789abcdef0".into()],
            "CacheSecurityGroupsNotFound",
            "sg-0123456789abcdef0",
        ),
        (
            |o| o.node_type_offered = false,
            "CacheNodeTypeNotOffered",
            "cache.r6g.large",
        ),
    ];
    for (break_it, reason, named) in cases {
        let mut o = ready();
        break_it(&mut o);
        let d = decide_in("us-east-1", &o);
        assert_eq!(
            (d.report.health, d.report.reason),
            (ComponentHealth::Misconfigured, reason)
        );
        assert!(d.report.message.contains(named), "{}", d.report.message);
    }
}

#[test]
fn after_a_failover_the_cache_itself_is_judged() {
    let mut o = ready();
    o.cache = Some(cache("available"));
    let d = decide_in("us-west-2", &o);
    assert_eq!(
        (d.report.health, d.report.reason),
        (ComponentHealth::Healthy, "CacheAvailable")
    );
    assert_eq!(
        d.status.endpoint.as_deref(),
        Some("app-cache-dr.abc.use1.cache.amazonaws.com:6379")
    );
    o.cache = None;
    let d = decide_in("us-west-2", &o);
    assert_eq!(
        (d.report.health, d.report.reason),
        (ComponentHealth::Degraded, "CacheMissing")
    );
    o.cache = Some(cache("creating"));
    assert_eq!(decide_in("us-west-2", &o).report.reason, "CacheNotAvailable");
}

#[test]
fn a_cache_left_while_the_primary_serves_is_reported_not_deleted() {
    let mut o = ready();
    o.cache = Some(cache("available"));
    let d = decide_in("us-east-1", &o);
    assert_eq!(d.report.reason, "CacheExists");
    assert!(d.report.message.contains("costs money"), "{}", d.report.message);
}
