//! The new PilotLight status from the components' reports: conditions, `Ready`, its trend,
//! `phase`. Pure.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::{ComponentHealth, ComponentReport};
use crate::api::{
    ConditionStatus, ConditionType, HistoryEntry, PilotLightSpec, PilotLightStatus, set_condition, with_entry,
};

/// The status fields convergence computes and applies. Everything else (`lastFailover`,
/// `lastDrill`, `primaryHealth`, conditions of other types) is left to whoever owns it:
/// server-side apply only touches the fields in the patch, and a stale cached copy must not
/// overwrite newer values.
pub fn owned(status: &PilotLightStatus) -> PilotLightStatus {
    PilotLightStatus {
        observed_generation: status.observed_generation,
        active_region: status.active_region.clone(),
        phase: status.phase,
        conditions: status
            .conditions
            .iter()
            .filter(|c| {
                c.type_ == ConditionType::Ready.as_str()
                    || c.type_ == ConditionType::Prewarmed.as_str()
                    || ConditionType::COMPONENTS.iter().any(|t| t.as_str() == c.type_)
            })
            .cloned()
            .collect(),
        database: status.database.clone(),
        storage: status.storage.clone(),
        compute: status.compute.clone(),
        traffic: status.traffic.clone(),
        prewarm: status.prewarm.clone(),
        readiness_history: status.readiness_history.clone(),
        ..Default::default()
    }
}

/// `status.prewarm` and the `Prewarmed` condition from the prewarm decision (both removed when
/// prewarm is off). Not part of `Ready`: a prewarmed standby is intended.
pub fn prewarmed(
    status: &mut PilotLightStatus,
    decision: Option<&crate::pilotlight::compute::prewarm::Decision>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let Some(d) = decision else {
        status.prewarm = None;
        status
            .conditions
            .retain(|c| c.type_ != ConditionType::Prewarmed.as_str());
        return;
    };
    status.prewarm = d.status.clone();
    let (condition, reason, message) = &d.condition;
    set_condition(
        &mut status.conditions,
        ConditionType::Prewarmed,
        *condition,
        reason,
        message,
        generation,
        now,
    );
}

/// `status` (the components' parts already filled in) with its conditions, `Ready`, the
/// readiness trend and `phase` set from `reports`, and the parts of components no longer in
/// `spec` removed.
pub fn conclude(
    spec: &PilotLightSpec,
    mut status: PilotLightStatus,
    reports: &[(ConditionType, ComponentReport)],
    generation: Option<i64>,
    now: Timestamp,
) -> PilotLightStatus {
    // Conditions of components no longer in the spec go.
    status
        .conditions
        .retain(|c| c.type_ == ConditionType::Ready.as_str() || reports.iter().any(|(t, _)| t.as_str() == c.type_));
    for (type_, report) in reports {
        set_condition(
            &mut status.conditions,
            *type_,
            report.condition_status(),
            report.reason,
            &report.message,
            generation,
            now,
        );
    }
    let ready = ComponentReport::ready(reports);
    let was_ready = is_ready(&status);
    set_condition(
        &mut status.conditions,
        ConditionType::Ready,
        ready.condition_status(),
        ready.reason,
        &ready.message,
        generation,
        now,
    );
    // The trend `kubectl pilotlight status` shows: every change of Ready between True and not.
    let now_ready = ready.health == ComponentHealth::Healthy;
    if was_ready != Some(now_ready) {
        status.readiness_history = with_entry(
            &status.readiness_history,
            HistoryEntry {
                time: Time(now),
                event: if now_ready { "Ready" } else { "NotReady" }.to_owned(),
                message: Some(format!("{}: {}", ready.reason, ready.message)),
            },
        );
    }
    status.phase = Some(ComponentReport::phase(reports));
    status.observed_generation = generation;
    if spec.storage.is_none() {
        status.storage = None;
    }
    if spec.compute.is_none() {
        status.compute = None;
    }
    if !super::traffic::TrafficInputs::new(spec, "").is_configured() {
        status.traffic = None;
    }
    status
}

/// Whether `Ready` is True (`None` before the first check).
pub fn is_ready(status: &PilotLightStatus) -> Option<bool> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == ConditionType::Ready.as_str())
        .map(|c| c.status == ConditionStatus::True.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PilotLightSpec {
        let pl: crate::api::PilotLight =
            serde_yaml::from_str(include_str!("../../examples/pilotlight-full.yaml")).expect("example parses");
        pl.spec
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    #[test]
    fn ready_follows_the_worst_component_and_its_changes_make_the_trend() {
        let healthy = ComponentReport::healthy("Replicating", "lag 1s".into());
        let reports = vec![
            (ConditionType::DatabaseReplicating, healthy.clone()),
            (ConditionType::ComputeReady, healthy.clone()),
        ];
        let first = conclude(&spec(), PilotLightStatus::default(), &reports, Some(3), at(0));
        assert_eq!(is_ready(&first), Some(true));
        assert_eq!(first.observed_generation, Some(3));
        assert_eq!(first.readiness_history.len(), 1);
        assert_eq!(first.readiness_history[0].event, "Ready");

        let again = conclude(&spec(), first.clone(), &reports, Some(3), at(60));
        assert_eq!(
            again.readiness_history, first.readiness_history,
            "no change, no new entry"
        );

        let degraded = vec![
            (
                ConditionType::DatabaseReplicating,
                ComponentReport::degraded("LagHigh", "lag 90s".into()),
            ),
            (ConditionType::ComputeReady, healthy),
        ];
        let worse = conclude(&spec(), again, &degraded, Some(3), at(120));
        assert_eq!(is_ready(&worse), Some(false));
        assert_eq!(worse.readiness_history.last().unwrap().event, "NotReady");
    }

    #[test]
    fn conditions_and_parts_of_removed_components_go() {
        let mut spec = spec();
        spec.compute = None;
        let mut previous = PilotLightStatus {
            compute: Some(Default::default()),
            ..Default::default()
        };
        set_condition(
            &mut previous.conditions,
            ConditionType::ComputeReady,
            ConditionStatus::True,
            "Dormant",
            "at zero",
            Some(1),
            at(0),
        );
        let reports = vec![(
            ConditionType::DatabaseReplicating,
            ComponentReport::healthy("Replicating", "ok".into()),
        )];
        let status = conclude(&spec, previous, &reports, Some(2), at(10));
        assert!(status.compute.is_none());
        assert!(!status.conditions.iter().any(|c| c.type_ == "ComputeReady"));
        assert!(status.conditions.iter().any(|c| c.type_ == "DatabaseReplicating"));
    }
}
