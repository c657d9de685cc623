//! Which health checks a PilotLight keeps: the primary endpoint's (from the spec), and in
//! `failoverRouting` mode the two switch checks and the primary's gate (endpoint healthy and
//! primary switch on). Pure.

use crate::aws::route53::{CheckSettings, HealthCheck, HealthCheckSettings};

use super::Change;

/// The ids of the health checks kept, by role, once they exist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthIds {
    pub endpoint: Option<String>,
    pub primary_switch: Option<String>,
    pub standby_switch: Option<String>,
    /// What the PRIMARY failover record follows: the endpoint check and the primary switch
    /// together, or the switch alone when the spec has no endpoint check.
    pub primary_gate: Option<String>,
}

/// Decides the health checks: keeps each wanted one that exists (an endpoint check whose type
/// and interval match is updated in place) and creates the missing ones.
pub fn decide(
    observed: &[HealthCheck],
    endpoint: Option<(&HealthCheckSettings, String)>,
    switch: Option<((CheckSettings, String), (CheckSettings, String))>,
    changes: &mut Vec<Change>,
) -> HealthIds {
    let mut ids = HealthIds::default();
    let has_endpoint = endpoint.is_some();
    if let Some((settings, name)) = endpoint {
        ids.endpoint = keep_endpoint(observed, settings, name, changes);
    }
    if let Some(((primary, primary_name), (standby, standby_name))) = switch {
        ids.primary_switch = keep_exact(observed, primary, primary_name, changes);
        ids.standby_switch = keep_exact(observed, standby, standby_name, changes);
        ids.primary_gate = match (has_endpoint, &ids.endpoint, &ids.primary_switch) {
            (false, _, Some(switch)) => Some(switch.clone()),
            (true, Some(e), Some(s)) => {
                let mut children = vec![e.clone(), s.clone()];
                children.sort();
                keep_exact(
                    observed,
                    CheckSettings::AllOf { children },
                    "primary gate: endpoint healthy and switch on".into(),
                    changes,
                )
            }
            _ => None,
        };
    }
    ids
}

/// Deletes the PilotLight's health checks that are not kept (call once no record refers to
/// them). Calculated ones first: Route 53 refuses to delete a check a calculated one uses.
pub fn remove_unwanted(observed: &[HealthCheck], ids: &HealthIds) -> Vec<Change> {
    let kept: Vec<&String> = [
        &ids.endpoint,
        &ids.primary_switch,
        &ids.standby_switch,
        &ids.primary_gate,
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut unwanted: Vec<&HealthCheck> = observed.iter().filter(|h| !kept.contains(&&h.id)).collect();
    unwanted.sort_by_key(|h| !matches!(h.settings, CheckSettings::AllOf { .. }));
    unwanted
        .into_iter()
        .map(|h| Change::DeleteHealthCheck { id: h.id.clone() })
        .collect()
}

fn keep_endpoint(
    observed: &[HealthCheck],
    settings: &HealthCheckSettings,
    name: String,
    changes: &mut Vec<Change>,
) -> Option<String> {
    let endpoints = || observed.iter().filter_map(|h| h.settings.endpoint().map(|e| (h, e)));
    let exact = endpoints().find(|(_, e)| *e == settings);
    // Type and interval cannot change in place; anything else can.
    let updatable =
        endpoints().find(|(_, e)| e.type_ == settings.type_ && e.request_interval == settings.request_interval);
    match (exact, updatable) {
        (Some((h, _)), _) => Some(h.id.clone()),
        (None, Some((h, _))) => {
            changes.push(Change::UpdateHealthCheck {
                id: h.id.clone(),
                settings: settings.clone(),
            });
            Some(h.id.clone())
        }
        (None, None) => {
            changes.push(Change::CreateHealthCheck {
                settings: CheckSettings::Endpoint(settings.clone()),
                name,
            });
            None
        }
    }
}

fn keep_exact(
    observed: &[HealthCheck],
    want: CheckSettings,
    name: String,
    changes: &mut Vec<Change>,
) -> Option<String> {
    match observed.iter().find(|h| h.settings == want) {
        Some(h) => Some(h.id.clone()),
        None => {
            changes.push(Change::CreateHealthCheck { settings: want, name });
            None
        }
    }
}
