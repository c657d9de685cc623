use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The slots of `n` failover requests all asked for at `t0`, as offsets from it.
fn burst_of(pacer: &mut Pacer, t0: Instant, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| match pacer.reserve(t0, Caller::Failover) {
            Slot::At(at) => at - t0,
            Slot::Busy(_) => panic!("a failover request always gets a slot"),
        })
        .collect()
}

fn most_in_any(slots: &[Duration], window: Duration) -> usize {
    slots
        .iter()
        .map(|start| slots.iter().filter(|s| *s >= start && **s < *start + window).count())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_burst_up_to_the_rate_goes_at_once_and_no_second_holds_more() {
    let mut pacer = Pacer::new(5.0);
    let t0 = Instant::now();
    let slots = burst_of(&mut pacer, t0, 12);
    assert_eq!(slots[..5], [ms(0); 5], "a step's back-to-back calls are not delayed");
    assert_eq!(slots[5..10], [ms(1000); 5]);
    assert_eq!(slots[10..], [ms(2000); 2]);
    assert_eq!(most_in_any(&slots, ms(1000)), 5);
}

#[test]
fn a_fractional_rate_stays_under_it_in_every_second() {
    let mut pacer = Pacer::new(2.5);
    let t0 = Instant::now();
    let slots = burst_of(&mut pacer, t0, 9);
    assert_eq!(most_in_any(&slots, ms(1000)), 2);
    let mut slow = Pacer::new(0.5);
    assert_eq!(burst_of(&mut slow, t0, 3), [ms(0), ms(2000), ms(4000)]);
}

#[test]
fn the_window_slides_with_the_requests_actually_sent() {
    let mut pacer = Pacer::new(2.0);
    let t0 = Instant::now();
    assert_eq!(pacer.reserve(t0, Caller::Failover), Slot::At(t0));
    assert_eq!(pacer.reserve(t0 + ms(600), Caller::Failover), Slot::At(t0 + ms(600)));
    // Two in the window that started at t0: the third waits for the first to leave it.
    assert_eq!(pacer.reserve(t0 + ms(700), Caller::Failover), Slot::At(t0 + ms(1000)));
    assert_eq!(pacer.reserve(t0 + ms(5000), Caller::Failover), Slot::At(t0 + ms(5000)));
}

#[test]
fn an_idle_budget_sends_at_once() {
    let mut pacer = Pacer::new(1.0);
    let t0 = Instant::now();
    assert_eq!(pacer.reserve(t0, Caller::Failover), Slot::At(t0));
    let later = t0 + ms(5000);
    assert_eq!(pacer.reserve(later, Caller::Convergence), Slot::At(later));
    assert_eq!(pacer.reserve(later, Caller::Failover), Slot::At(later + ms(1000)));
}

#[test]
fn convergence_waits_while_failover_requests_queue_and_takes_no_slot() {
    let mut pacer = Pacer::new(3.0);
    let t0 = Instant::now();
    burst_of(&mut pacer, t0, 3);
    assert_eq!(pacer.reserve(t0, Caller::Convergence), Slot::Busy(t0 + ms(1000)));
    // The convergence request held nothing: the next failover request is not pushed back.
    assert_eq!(pacer.reserve(t0, Caller::Failover), Slot::At(t0 + ms(1000)));
    assert_eq!(
        pacer.reserve(t0 + ms(1000), Caller::Convergence),
        Slot::At(t0 + ms(1000))
    );
    assert_eq!(
        pacer.reserve(t0 + ms(1000), Caller::Convergence),
        Slot::At(t0 + ms(1000))
    );
    assert!(matches!(
        pacer.reserve(t0 + ms(1000), Caller::Convergence),
        Slot::Busy(_)
    ));
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
