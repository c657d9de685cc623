use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn failover_requests_are_spaced_at_the_rate_and_never_more_in_any_second() {
    let mut pacer = Pacer::new(5.0);
    let t0 = Instant::now();
    let slots: Vec<Duration> = (0..12)
        .map(|_| match pacer.reserve(t0, Caller::Failover) {
            Slot::At(at) => at - t0,
            Slot::Busy(_) => panic!("a failover request always gets a slot"),
        })
        .collect();
    assert_eq!(slots[..6], [ms(0), ms(200), ms(400), ms(600), ms(800), ms(1000)]);
    for start in &slots {
        let in_second = slots.iter().filter(|s| *s >= start && **s < *start + ms(1000)).count();
        assert!(in_second <= 5, "{in_second} requests in the second from {start:?}");
    }
}

#[test]
fn an_idle_budget_sends_at_once() {
    let mut pacer = Pacer::new(5.0);
    let t0 = Instant::now();
    assert_eq!(pacer.reserve(t0, Caller::Failover), Slot::At(t0));
    let later = t0 + ms(5000);
    assert_eq!(pacer.reserve(later, Caller::Convergence), Slot::At(later));
    assert_eq!(pacer.reserve(later, Caller::Failover), Slot::At(later + ms(200)));
}

#[test]
fn convergence_waits_while_failover_requests_queue_and_takes_no_slot() {
    let mut pacer = Pacer::new(10.0);
    let t0 = Instant::now();
    for _ in 0..3 {
        pacer.reserve(t0, Caller::Failover);
    }
    assert_eq!(pacer.reserve(t0, Caller::Convergence), Slot::Busy(t0 + ms(300)));
    // The convergence request held nothing: the next failover request is not pushed back.
    assert_eq!(pacer.reserve(t0, Caller::Failover), Slot::At(t0 + ms(300)));
    assert_eq!(pacer.reserve(t0 + ms(400), Caller::Convergence), Slot::At(t0 + ms(400)));
}

#[test]
fn rates_parse_over_the_defaults_and_zero_lifts_a_budget() {
    let rates = BudgetRates::parse(["rds=2.5", "route53=0", "s3=50"]).unwrap();
    assert_eq!(rates.0.get("rds"), Some(&2.5));
    assert_eq!(rates.0.get("route53"), None);
    assert_eq!(rates.0.get("s3"), Some(&50.0));
    assert_eq!(rates.0.get("autoscaling"), Some(&10.0));
    assert_eq!(BudgetRates::default().0.get("route53"), Some(&5.0));
}

#[test]
fn bad_rates_say_what_is_wrong() {
    let unknown = BudgetRates::parse(["lambda=3"]).unwrap_err();
    assert!(unknown.contains("unknown service 'lambda'"), "{unknown}");
    assert!(unknown.contains("route53"), "{unknown}");
    let shape = BudgetRates::parse(["rds"]).unwrap_err();
    assert!(shape.contains("SERVICE=REQUESTS_PER_SECOND"), "{shape}");
    let negative = BudgetRates::parse(["rds=-1"]).unwrap_err();
    assert!(negative.contains("not a non-negative number"), "{negative}");
}

#[test]
fn regional_services_have_a_budget_per_region_and_route53_one_for_all() {
    let budgets = RateBudgets::new(BudgetRates::default());
    let east = budgets.pacer("rds", "us-east-1").unwrap();
    let west = budgets.pacer("rds", "us-west-2").unwrap();
    assert!(!Arc::ptr_eq(&east, &west));
    let r1 = budgets.pacer("route53", "us-east-1").unwrap();
    let r2 = budgets.pacer("route53", "us-west-2").unwrap();
    assert!(Arc::ptr_eq(&r1, &r2));
    assert!(budgets.pacer("s3", "us-east-1").is_none());
}
