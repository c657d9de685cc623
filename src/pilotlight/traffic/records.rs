//! The application record in each mode, and the database writer CNAME. Pure.

use crate::{
    api::{DnsRecordRef, RecordType, Route53Spec},
    aws::route53::{self, FailoverRole, Record, RecordAction, RecordValue},
};

use super::Change;

/// TTL of plain (CNAME) application records; aliases take their target's.
const APP_TTL: i64 = 60;

pub fn record_type(t: RecordType) -> &'static str {
    match t {
        RecordType::A => "A",
        RecordType::Aaaa => "AAAA",
        RecordType::Cname => "CNAME",
    }
}

fn value(r: &Route53Spec, to_standby: bool) -> RecordValue {
    let target = if to_standby {
        &r.standby_target
    } else {
        &r.primary_target
    };
    if r.record_type == RecordType::Cname {
        RecordValue::Values {
            ttl: APP_TTL,
            values: vec![route53::normalize_name(&target.dns_name)],
        }
    } else {
        RecordValue::Alias {
            hosted_zone_id: target.hosted_zone_id.to_string(),
            dns_name: route53::normalize_name(&target.dns_name),
        }
    }
}

/// The application record (simple routing) pointing at the standby target (`to_standby`) or
/// the primary one: `recordUpdate` mode.
pub fn app_record(r: &Route53Spec, to_standby: bool) -> Record {
    Record {
        name: route53::normalize_name(&r.record_name),
        type_: record_type(r.record_type).to_owned(),
        value: value(r, to_standby),
        failover: None,
    }
}

/// The failover pair of `failoverRouting` mode: the PRIMARY on the primary target following
/// `primary_gate`, the SECONDARY on the standby target following `standby_switch`. They never
/// change in a failover; the health checks do.
pub fn failover_records(r: &Route53Spec, primary_gate: &str, standby_switch: &str) -> Vec<Record> {
    let record = |to_standby: bool, check: &str| Record {
        failover: Some(FailoverRole {
            primary: !to_standby,
            set_identifier: if to_standby { "standby" } else { "primary" }.into(),
            health_check_id: Some(check.to_owned()),
        }),
        ..app_record(r, to_standby)
    };
    vec![record(false, primary_gate), record(true, standby_switch)]
}

/// The database writer CNAME pointing at `endpoint`.
pub fn writer_record(w: &DnsRecordRef, endpoint: &str) -> Record {
    Record {
        name: route53::normalize_name(&w.name),
        type_: "CNAME".into(),
        value: RecordValue::Values {
            ttl: w.ttl,
            values: vec![route53::normalize_name(endpoint)],
        },
        failover: None,
    }
}

/// Makes the record sets of one name and type `want`, in one batch: the sets that are not
/// wanted are deleted (a simple record and failover records cannot coexist), the wanted ones
/// that differ are upserted. Nothing when they already are `want`.
pub fn keep_sets(changes: &mut Vec<Change>, zone: &str, have: &[Record], want: Vec<Record>) {
    let same_set = |a: &Record, b: &Record| {
        a.failover.as_ref().map(|f| &f.set_identifier) == b.failover.as_ref().map(|f| &f.set_identifier)
    };
    let mut batch: Vec<(RecordAction, Record)> = have
        .iter()
        .filter(|h| !want.iter().any(|w| same_set(h, w)))
        .map(|h| (RecordAction::Delete, h.clone()))
        .collect();
    batch.extend(
        want.iter()
            .filter(|w| !have.contains(w))
            .map(|w| (RecordAction::Upsert, w.clone())),
    );
    if batch.is_empty() {
        return;
    }
    changes.push(Change::ChangeRecords {
        zone: zone.to_owned(),
        was: describe_sets(have),
        batch,
        after: want,
    });
}

/// Where record sets point, in words (`None` when there are none).
pub fn describe_sets(sets: &[Record]) -> Option<String> {
    if sets.is_empty() {
        return None;
    }
    Some(
        sets.iter()
            .map(|r| match &r.failover {
                Some(f) if f.primary => format!("PRIMARY {}", r.target()),
                Some(_) => format!("SECONDARY {}", r.target()),
                None => r.target(),
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}
