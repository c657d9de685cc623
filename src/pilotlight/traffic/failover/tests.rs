use super::*;
use crate::aws::route53::RecordValue;

fn alias(dns_name: &str) -> Record {
    Record {
        name: "api.example.com".into(),
        type_: "A".into(),
        value: RecordValue::Alias {
            hosted_zone_id: "Z1".into(),
            dns_name: dns_name.into(),
        },
    }
}

#[test]
fn a_record_is_changed_unless_it_already_has_the_value() {
    let want = alias("standby-alb.us-west-2.elb.amazonaws.com");
    assert_eq!(record_change(None, &want), Next::Call(()));
    assert_eq!(
        record_change(Some(&alias("primary-alb.us-east-1.elb.amazonaws.com")), &want),
        Next::Call(())
    );
    assert_eq!(
        record_change(Some(&want), &want),
        Next::Done("api.example.com already points to standby-alb.us-west-2.elb.amazonaws.com".into())
    );
}
