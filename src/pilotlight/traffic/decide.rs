//! What traffic convergence changes, and what it reports. Pure.

use crate::{
    api::{SwitchStatus, TrafficMode, TrafficSpec, TrafficStatus, TrafficSwitch},
    aws::{arc::ArcStatus, arc::ControlState, route53::Record},
    pilotlight::{ComponentReport, PlannedChange},
};

use super::{
    Change, Observation, TrafficInputs, health, health_check_settings, records,
    switch::{self, ArcObservation, SwitchObservation},
};

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub changes: Vec<Change>,
    pub report: ComponentReport,
    pub status: TrafficStatus,
}

/// Decides health check, switch and record changes. `active_region` and `writer_endpoint` come
/// from the database component (`None`: not known, so what follows them is left as it is).
/// The switch is never flipped here: only a FailoverRequest moves traffic in
/// `failoverRouting` mode.
pub fn decide(
    inputs: &TrafficInputs<'_>,
    active_region: Option<&str>,
    writer_endpoint: Option<&str>,
    observed: &Observation,
) -> Decision {
    let mut changes = Vec::new();
    let mut waiting = Vec::new();
    let mut status = TrafficStatus::default();
    if let Some(t) = inputs.traffic {
        decide_app(
            inputs,
            t,
            active_region,
            observed,
            &mut changes,
            &mut waiting,
            &mut status,
        );
    }
    if let Some(w) = inputs.writer_record {
        status.writer_record_target = observed.writer_record.as_ref().map(Record::target);
        match writer_endpoint {
            Some(endpoint) => records::keep_sets(
                &mut changes,
                &w.hosted_zone_id.0,
                observed.writer_record.as_slice(),
                vec![records::writer_record(w, endpoint)],
            ),
            None => waiting.push(format!(
                "the writer endpoint is not known yet, so {} is left where it points",
                w.name
            )),
        }
    }
    let report = report(inputs, &status, &changes, &waiting);
    Decision {
        changes,
        report,
        status,
    }
}

/// The application record, its health checks and (in `failoverRouting` mode) the switch.
fn decide_app(
    inputs: &TrafficInputs<'_>,
    t: &TrafficSpec,
    active_region: Option<&str>,
    observed: &Observation,
    changes: &mut Vec<Change>,
    waiting: &mut Vec<String>,
    status: &mut TrafficStatus,
) {
    let r = &t.route53;
    let regions = inputs.regions;
    let mut record_changes = Vec::new();
    let mut switch_changes = Vec::new();
    status.record_target = records::describe_sets(&observed.app_records);
    let want_records = match t.switch() {
        None => match active_region {
            Some(active) => Some(vec![records::app_record(r, active == regions.standby.as_str())]),
            None => {
                waiting.push(format!(
                    "the active region is not known yet, so {} is left where it points",
                    r.record_name
                ));
                None
            }
        },
        Some(kind) => {
            decide_switch(inputs, kind, active_region, &observed.switch, &mut switch_changes);
            None
        }
    };
    if let Some(want) = want_records {
        records::keep_sets(&mut record_changes, &r.hosted_zone_id.0, &observed.app_records, want);
    }
    let endpoint = health_check_settings(t).map(|s| (s, format!("{} primary ({})", inputs.owner, regions.primary)));
    let switch_checks = t
        .switch()
        .and_then(|kind| switch::switch_checks(kind, regions, inputs.owner, &observed.switch))
        .map(|(p, s)| {
            (
                (p, format!("{} switch ({})", inputs.owner, regions.primary)),
                (s, format!("{} switch ({})", inputs.owner, regions.standby)),
            )
        });
    let mut check_changes = Vec::new();
    let ids = health::decide(
        &observed.health_checks,
        endpoint.as_ref().map(|(s, n)| (s, n.clone())),
        switch_checks,
        &mut check_changes,
    );
    status.health_check_id = ids.endpoint.clone();
    match (t.switch(), &ids.primary_gate, &ids.standby_switch) {
        (Some(kind), Some(gate), Some(standby)) => {
            let want = records::failover_records(r, gate, standby);
            records::keep_sets(&mut record_changes, &r.hosted_zone_id.0, &observed.app_records, want);
            status.switch = Some(switch_status(inputs, kind, observed, &ids, record_changes.is_empty()));
        }
        (Some(kind), _, _) => {
            // The records stay as they are (and keep resolving) until the switch exists.
            waiting.push("the switch's health checks do not exist yet".into());
            status.switch = Some(switch_status(inputs, kind, observed, &ids, false));
        }
        (None, _, _) => {}
    }
    // Checks no longer wanted go once no record change is left that could still refer to them.
    let settled = record_changes.is_empty()
        && (t.switch().is_none() || (ids.primary_gate.is_some() && ids.standby_switch.is_some()));
    if settled {
        check_changes.extend(health::remove_unwanted(&observed.health_checks, &ids));
    }
    changes.extend(switch_changes);
    changes.extend(check_changes);
    changes.extend(record_changes);
}

/// The switch's alarm or ARC resources that are missing, and the first routing control turned
/// on when none is.
fn decide_switch(
    inputs: &TrafficInputs<'_>,
    kind: TrafficSwitch,
    active_region: Option<&str>,
    observed: &SwitchObservation,
    changes: &mut Vec<Change>,
) {
    match (kind, observed) {
        (TrafficSwitch::MetricAlarm, SwitchObservation::Alarm { exists: false, .. }) => {
            changes.push(Change::PutSwitchAlarm {
                region: inputs.regions.standby.to_string(),
                switch: switch::metric_switch(inputs.owner),
            })
        }
        (TrafficSwitch::RoutingControl, SwitchObservation::RoutingControl(arc)) => {
            decide_routing_controls(inputs, active_region, arc, changes)
        }
        _ => {}
    }
}

fn decide_routing_controls(
    inputs: &TrafficInputs<'_>,
    active_region: Option<&str>,
    arc: &ArcObservation,
    changes: &mut Vec<Change>,
) {
    let name = switch::resource_name(inputs.owner);
    let Some(cluster) = &arc.cluster else {
        changes.push(Change::CreateCluster { name });
        return;
    };
    if cluster.status != ArcStatus::Deployed {
        return;
    }
    let Some(panel) = &arc.panel else {
        changes.push(Change::CreateControlPanel {
            cluster_arn: cluster.arn.clone(),
            name,
        });
        return;
    };
    let regions = [inputs.regions.primary.as_str(), inputs.regions.standby.as_str()];
    let missing: Vec<&str> = regions.into_iter().filter(|r| arc.control(r).is_none()).collect();
    changes.extend(missing.iter().map(|region| Change::CreateRoutingControl {
        cluster_arn: cluster.arn.clone(),
        panel_arn: panel.arn.clone(),
        region: region.to_string(),
    }));
    if !missing.is_empty() {
        return;
    }
    if !arc.rules.iter().any(|r| r.name == switch::SAFETY_RULE) {
        changes.push(Change::CreateSafetyRule {
            panel_arn: panel.arn.clone(),
            controls: arc.refs(inputs.regions).into_iter().map(|c| c.arn).collect(),
        });
    }
    let none_on = matches!(&arc.states, Some(Ok(states)) if states.iter().all(|(_, s)| *s == ControlState::Off));
    if let (true, Some(active)) = (none_on, active_region)
        && let Some(control) = arc.control(active)
    {
        changes.push(Change::TurnOnRoutingControl {
            cluster: cluster.clone(),
            arn: control.arn.clone(),
            region: active.to_owned(),
        });
    }
}

fn switch_status(
    inputs: &TrafficInputs<'_>,
    kind: TrafficSwitch,
    observed: &Observation,
    ids: &health::HealthIds,
    records_in_place: bool,
) -> SwitchStatus {
    let arc = match &observed.switch {
        SwitchObservation::RoutingControl(arc) => Some(arc),
        _ => None,
    };
    let not_ready = switch::not_ready(&observed.switch).or_else(|| {
        (ids.primary_gate.is_none() || ids.standby_switch.is_none())
            .then(|| "the switch's health checks do not exist yet".to_owned())
            .or_else(|| (!records_in_place).then(|| "the failover records are not in place yet".to_owned()))
    });
    let sends_to = switch::sends_to(inputs.regions, &observed.switch);
    SwitchStatus {
        type_: kind,
        ready: not_ready.is_none(),
        message: not_ready.unwrap_or_else(|| match &sends_to {
            Some(region) => format!("{} sends traffic to {region}", kind.name()),
            None => format!("{} is in place", kind.name()),
        }),
        sends_to,
        primary_health_check_id: ids.primary_gate.clone(),
        standby_health_check_id: ids.standby_switch.clone(),
        routing_controls: arc.map(|a| a.refs(inputs.regions)).unwrap_or_default(),
        cluster_endpoints: switch::endpoint_refs(&observed.switch),
    }
}

/// What the component reports: the first change, else what it waits for, else whether the
/// switch can be flipped, else where it routes.
fn report(
    inputs: &TrafficInputs<'_>,
    status: &TrafficStatus,
    changes: &[Change],
    waiting: &[String],
) -> ComponentReport {
    if !changes.is_empty() {
        return ComponentReport::converging(
            changes[0].reason(),
            changes.iter().map(Change::describe).collect::<Vec<_>>().join("; "),
        );
    }
    if !waiting.is_empty() {
        return ComponentReport::converging("WaitingForActiveRegion", waiting.join("; "));
    }
    if let Some(s) = status.switch.as_ref().filter(|s| !s.ready) {
        return ComponentReport::degraded("SwitchNotReady", s.message.clone());
    }
    let mut parts = Vec::new();
    if let Some(id) = &status.health_check_id {
        parts.push(format!("health check {id}"));
    }
    if let (Some(t), Some(target)) = (inputs.traffic, &status.record_target) {
        let mode = match t.mode {
            TrafficMode::FailoverRouting => "failover records",
            TrafficMode::RecordUpdate => "record",
        };
        parts.push(format!("{mode} {} -> {target}", t.route53.record_name));
    }
    if let Some(s) = &status.switch {
        parts.push(s.message.clone());
    }
    if let (Some(w), Some(target)) = (inputs.writer_record, &status.writer_record_target) {
        parts.push(format!("{} -> {target}", w.name));
    }
    ComponentReport::healthy("Routed", parts.join("; "))
}
