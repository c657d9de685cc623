use super::*;

fn spec(on_suspicion: bool, on_request: bool) -> PrewarmSpec {
    serde_json::from_value(serde_json::json!({"onSuspicion": on_suspicion, "onRequest": on_request})).unwrap()
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

/// Inputs at `now` with nothing going on.
fn inputs<'a>(spec: &'a PrewarmSpec, previous: Option<&'a PrewarmStatus>, now: i64) -> Inputs<'a> {
    Inputs {
        spec,
        failover_capacity: 4,
        instance_type: "c5.xlarge",
        suspicion: None,
        recovered_since: None,
        awaiting: None,
        running: None,
        previous,
        now: at(now),
    }
}

#[test]
fn a_suspicion_warms_the_standby_and_a_recovery_cools_it_down_then_scales_back() {
    let s = spec(true, false);
    let warm = decide(&Inputs {
        suspicion: Some((at(0), "us-east-1")),
        ..inputs(&s, None, 10)
    });
    assert_eq!(
        warm.capacity,
        CapacityUse::Prewarm(4),
        "defaults to the failover capacity"
    );
    assert_eq!(warm.transition, Some((None, PrewarmState::Warm)));
    let status = warm.status.unwrap();
    assert_eq!((status.trigger, status.since.0), (PrewarmTrigger::Suspicion, at(10)));
    assert_eq!(status.expires_at.0, at(10 + 30 * 60), "maxDuration defaults to 30m");
    assert_eq!(warm.condition.1, "OnSuspicion");

    // An hour of 4 × c5.xlarge at $0.17/h is $0.68; ten minutes in: $0.11.
    let still = decide(&Inputs {
        suspicion: Some((at(0), "us-east-1")),
        ..inputs(&s, Some(&status), 10 + 600)
    });
    assert_eq!(still.transition, None);
    assert_eq!(still.status.as_ref().unwrap().estimated_cost_usd, Some(0.11));
    assert!(
        still
            .condition
            .2
            .contains("estimated cost so far $0.11 (4 × c5.xlarge at $0.17/h"),
        "{}",
        still.condition.2
    );

    let cooling = decide(&Inputs {
        recovered_since: Some(at(700)),
        ..inputs(&s, Some(&status), 720)
    });
    assert_eq!(
        cooling.capacity,
        CapacityUse::Prewarm(4),
        "stays warm during the cool-down"
    );
    let cooling_status = cooling.status.unwrap();
    assert_eq!(cooling_status.state, PrewarmState::CoolingDown);
    assert_eq!(cooling_status.cools_down_at.as_ref().unwrap().0, at(700 + 300));
    assert_eq!(cooling.condition.1, "CoolingDown");

    let back = decide(&Inputs {
        recovered_since: Some(at(700)),
        ..inputs(&s, Some(&cooling_status), 1000)
    });
    assert_eq!(back.capacity, CapacityUse::PrewarmEnded);
    assert_eq!(
        back.transition,
        Some((Some(PrewarmState::CoolingDown), PrewarmState::ScaledBack))
    );
    assert_eq!(back.condition.0, ConditionStatus::False);
    let ended = back.status.unwrap();
    assert_eq!(ended.ended_at.as_ref().unwrap().0, at(1000));

    // Long after, the record stays and the group is plainly dormant again.
    let later = decide(&inputs(&s, Some(&ended), 1000 + 3600));
    assert_eq!(later.capacity, CapacityUse::Dormant);
    assert_eq!(later.status.unwrap().state, PrewarmState::ScaledBack);
}

#[test]
fn a_request_awaiting_approval_warms_and_its_rejection_scales_back() {
    let s = spec(false, true);
    let warm = decide(&Inputs {
        awaiting: Some("app-failover-x"),
        ..inputs(&s, None, 0)
    });
    assert_eq!(warm.condition.1, "AwaitingApproval");
    let status = warm.status.unwrap();
    assert_eq!(status.cause, "app-failover-x");
    let back = decide(&inputs(&s, Some(&status), 60));
    assert_eq!(back.capacity, CapacityUse::PrewarmEnded);
    assert!(
        back.condition.2.contains("no longer awaits approval"),
        "{}",
        back.condition.2
    );
}

#[test]
fn the_approved_request_takes_the_warm_standby_over() {
    let s = spec(false, true);
    let status = decide(&Inputs {
        awaiting: Some("r"),
        ..inputs(&s, None, 0)
    })
    .status
    .unwrap();
    let used = decide(&Inputs {
        running: Some("r"),
        ..inputs(&s, Some(&status), 120)
    });
    assert_eq!(
        used.capacity,
        CapacityUse::InUse,
        "the request's steps own the group now"
    );
    assert_eq!(used.transition, Some((Some(PrewarmState::Warm), PrewarmState::Used)));
    assert_eq!(used.condition.1, "UsedByRequest");
}

#[test]
fn max_duration_scales_back_and_the_same_cause_does_not_warm_again() {
    let s: PrewarmSpec =
        serde_json::from_value(serde_json::json!({"onSuspicion": true, "maxDuration": "10m", "capacity": 2})).unwrap();
    let suspicion = Some((at(0), "us-east-1"));
    let status = decide(&Inputs {
        suspicion,
        ..inputs(&s, None, 0)
    })
    .status
    .unwrap();
    assert_eq!(status.capacity, 2);
    let expired = decide(&Inputs {
        suspicion,
        ..inputs(&s, Some(&status), 600)
    });
    assert_eq!(expired.capacity, CapacityUse::PrewarmEnded);
    assert_eq!(expired.condition.1, "Expired");
    assert!(
        expired.condition.2.contains("maxDuration (10m)"),
        "{}",
        expired.condition.2
    );
    let expired = expired.status.unwrap();
    let same = decide(&Inputs {
        suspicion,
        ..inputs(&s, Some(&expired), 700)
    });
    assert_eq!(
        same.capacity,
        CapacityUse::PrewarmEnded,
        "no second prewarm for the same spell"
    );
    assert_eq!(same.transition, None);
    let new_spell = decide(&Inputs {
        suspicion: Some((at(650), "us-east-1")),
        ..inputs(&s, Some(&expired), 700)
    });
    assert_eq!(new_spell.capacity, CapacityUse::Prewarm(2), "a new spell warms again");
}

#[test]
fn a_suspicion_that_turns_into_a_request_is_the_same_prewarm() {
    let s = spec(true, true);
    let suspicion = Some((at(0), "us-east-1"));
    let status = decide(&Inputs {
        suspicion,
        ..inputs(&s, None, 0)
    })
    .status
    .unwrap();
    let request = decide(&Inputs {
        suspicion,
        awaiting: Some("app-detected-1800000000"),
        ..inputs(&s, Some(&status), 180)
    });
    assert_eq!(request.transition, None, "no restart");
    let next = request.status.unwrap();
    assert_eq!(
        (next.trigger, next.since.0, next.expires_at.0),
        (PrewarmTrigger::Request, at(0), status.expires_at.0)
    );
}

#[test]
fn off_triggers_and_unknown_prices_are_said() {
    let s = spec(false, true);
    let d = decide(&Inputs {
        suspicion: Some((at(0), "us-east-1")),
        ..inputs(&s, None, 10)
    });
    assert_eq!(d.capacity, CapacityUse::Dormant, "onSuspicion is off");
    assert_eq!(d.condition.1, "NotPrewarmed");
    let d = decide(&Inputs {
        awaiting: Some("r"),
        instance_type: "x9.huge",
        ..inputs(&s, None, 10)
    });
    assert_eq!(d.status.as_ref().unwrap().estimated_cost_usd, None);
    assert!(d.condition.2.contains("no price for x9.huge"), "{}", d.condition.2);
}

#[test]
fn the_price_table_in_the_docs_is_the_one_in_the_code() {
    let docs = include_str!("../../../../docs/prewarm.md");
    let rows: Vec<(String, f64)> = docs
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split('|').map(str::trim).collect();
            match cells.as_slice() {
                [t, p] if t.starts_with('`') => Some((t.trim_matches('`').to_owned(), p.parse().ok()?)),
                _ => None,
            }
        })
        .collect();
    let code: Vec<(String, f64)> = PRICES.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect();
    assert_eq!(rows, code, "docs/prewarm.md's price table differs from prewarm::PRICES");
}
