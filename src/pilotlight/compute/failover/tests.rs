use super::*;

fn group(min: i32, desired: i32, max: i32) -> Group {
    Group {
        name: "app-dr".into(),
        min_size: min,
        desired_capacity: desired,
        max_size: max,
        ..Group::default()
    }
}

#[test]
fn scaling_up_sets_the_sizes_and_never_lowers_the_maximum() {
    let dormant = group(0, 0, 10);
    assert_eq!(
        group_capacity(Some(&dormant), "app-dr", "us-west-2", (2, 4, 6)),
        Next::Call((2, 4, 10))
    );
    assert_eq!(
        group_capacity(Some(&group(0, 0, 4)), "app-dr", "us-west-2", (2, 4, 6)),
        Next::Call((2, 4, 6))
    );
    // Someone scaled it further already: left as it is.
    assert_eq!(
        group_capacity(Some(&group(3, 5, 10)), "app-dr", "us-west-2", (2, 4, 6)),
        Next::Done("app-dr in us-west-2 already at 3/5/10".into())
    );
}

#[test]
fn scaling_to_zero_wants_min_and_desired_at_zero_and_keeps_the_maximum() {
    assert_eq!(
        group_capacity(Some(&group(2, 4, 10)), "app-dr", "us-west-2", (0, 0, 0)),
        Next::Call((0, 0, 10))
    );
    assert!(matches!(
        group_capacity(Some(&group(0, 0, 10)), "app-dr", "us-west-2", (0, 0, 0)),
        Next::Done(_)
    ));
    assert_eq!(
        group_capacity(None, "app-dr", "us-west-2", (0, 0, 0)),
        Next::Fail("Auto Scaling group app-dr not found in us-west-2".into())
    );
}

#[test]
fn targets_are_healthy_when_every_target_group_has_enough() {
    let counts = |a: usize, b: usize| vec![("tg-a".to_owned(), a, 4), ("tg-b".to_owned(), b, 4)];
    assert_eq!(
        targets_healthy(&counts(2, 3), 2),
        Next::Done("2/4 healthy in tg-a, 3/4 healthy in tg-b".into())
    );
    assert_eq!(
        targets_healthy(&counts(2, 1), 2),
        Next::Wait("2/4 healthy in tg-a, 1/4 healthy in tg-b; 2 needed".into())
    );
}

#[test]
fn the_smoke_test_gets_its_url_or_the_standby_target_and_wants_the_expected_status() {
    let mut pl: crate::api::PilotLight =
        serde_yaml::from_str(include_str!("../../../../examples/pilotlight-full.yaml")).expect("example parses");
    pl.spec.failover.smoke_test.url = None;
    let url = smoke_test_url(&pl.spec).expect("from the standby target");
    assert!(
        url.starts_with("https://") && url.ends_with(&pl.spec.failover.smoke_test.path),
        "{url}"
    );
    pl.spec.failover.smoke_test.url = Some("http://10.0.0.1:8080/".into());
    assert_eq!(
        smoke_test_url(&pl.spec).unwrap(),
        format!("http://10.0.0.1:8080{}", pl.spec.failover.smoke_test.path)
    );
    pl.spec.failover.smoke_test.url = None;
    pl.spec.traffic = None;
    assert!(smoke_test_url(&pl.spec).is_err());

    assert_eq!(
        smoke_test_verdict("u", Ok(200), 200),
        Next::Done("GET u answered 200".into())
    );
    assert_eq!(
        smoke_test_verdict("u", Ok(503), 200),
        Next::Fail("GET u answered 503, expected 200".into())
    );
    assert_eq!(
        smoke_test_verdict("u", Err("connection refused".into()), 200),
        Next::Fail("GET u failed: connection refused".into())
    );
}
