//! The switch of `failoverRouting` mode: what the failover records' health follows, named and
//! observed. Route 53's checkers evaluate it on the data plane, so a failover flips it without
//! Route 53's control plane (in us-east-1): a metric published in the standby region, or a
//! Route 53 ARC routing control changed through any of its cluster's five regional endpoints.

use crate::{
    api::{ClusterEndpointRef, Regions, RoutingControlRef, TrafficSwitch},
    aws::{
        arc::{ArcStatus, Cluster, ControlPanel, ControlState, RoutingControl, SafetyRule},
        cloudwatch::MetricSwitch,
        route53::CheckSettings,
        states::AlarmValue,
    },
    pilotlight::schedule::stable_hash,
};

/// Name of the operator's ARC cluster, control panel and alarm for one PilotLight.
pub fn resource_name(owner: &str) -> String {
    format!("pilot-light-{:016x}", stable_hash(owner))
}

/// Name of the safety rule that keeps at least one region's routing control On.
pub const SAFETY_RULE: &str = "at-least-one-region-on";

pub fn metric_switch(owner: &str) -> MetricSwitch {
    MetricSwitch {
        alarm_name: format!("{}-traffic-switch", resource_name(owner)),
        owner: owner.to_owned(),
    }
}

/// A client token that is the same for every attempt to create `what`: a create whose answer
/// was lost is not repeated as a second resource.
pub fn client_token(owner: &str, what: &str) -> String {
    format!("pl-{:016x}-{:016x}", stable_hash(owner), stable_hash(what))
}

/// What the switch is made of, as observed.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum SwitchObservation {
    /// `recordUpdate` mode (or no traffic spec): no switch.
    #[default]
    None,
    Alarm {
        exists: bool,
        state: Option<AlarmValue>,
    },
    RoutingControl(Box<ArcObservation>),
}

/// The PilotLight's routing controls and what the cluster says of them.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ArcObservation {
    pub cluster: Option<Cluster>,
    pub panel: Option<ControlPanel>,
    pub controls: Vec<RoutingControl>,
    pub rules: Vec<SafetyRule>,
    /// States by ARN from the first cluster endpoint that answered, or why none did.
    pub states: Option<Result<Vec<(String, ControlState)>, String>>,
}

impl ArcObservation {
    /// The routing control of `region`.
    pub fn control(&self, region: &str) -> Option<&RoutingControl> {
        self.controls.iter().find(|c| c.name == region)
    }

    fn state(&self, arn: &str) -> Option<ControlState> {
        match &self.states {
            Some(Ok(states)) => states.iter().find(|(a, _)| a == arn).map(|(_, s)| *s),
            _ => None,
        }
    }

    /// The routing controls of both regions, once they exist.
    pub fn refs(&self, regions: &Regions) -> Vec<RoutingControlRef> {
        [regions.primary.as_str(), regions.standby.as_str()]
            .into_iter()
            .filter_map(|r| {
                self.control(r).map(|c| RoutingControlRef {
                    region: r.to_owned(),
                    arn: c.arn.clone(),
                })
            })
            .collect()
    }
}

/// The health checks the primary's and the standby's failover records follow (each "on" while
/// its region's switch is on), once what they look at exists.
pub fn switch_checks(
    switch: TrafficSwitch,
    regions: &Regions,
    owner: &str,
    observed: &SwitchObservation,
) -> Option<(CheckSettings, CheckSettings)> {
    match (switch, observed) {
        (TrafficSwitch::MetricAlarm, SwitchObservation::Alarm { exists: true, .. }) => {
            let alarm = |inverted| CheckSettings::Alarm {
                region: regions.standby.to_string(),
                name: metric_switch(owner).alarm_name,
                inverted,
            };
            Some((alarm(false), alarm(true)))
        }
        (TrafficSwitch::RoutingControl, SwitchObservation::RoutingControl(arc)) => {
            let primary = arc.control(regions.primary.as_str())?;
            let standby = arc.control(regions.standby.as_str())?;
            Some((
                CheckSettings::RoutingControl {
                    arn: primary.arn.clone(),
                },
                CheckSettings::RoutingControl {
                    arn: standby.arn.clone(),
                },
            ))
        }
        _ => None,
    }
}

/// Where the switch sends traffic now, as far as the observation tells.
pub fn sends_to(regions: &Regions, observed: &SwitchObservation) -> Option<String> {
    match observed {
        SwitchObservation::None => None,
        SwitchObservation::Alarm { state, .. } => match state {
            Some(AlarmValue::Alarm) => Some(regions.standby.to_string()),
            Some(AlarmValue::Ok | AlarmValue::InsufficientData) => Some(regions.primary.to_string()),
            _ => None,
        },
        SwitchObservation::RoutingControl(arc) => {
            let on = |region: &str| arc.control(region).and_then(|c| arc.state(&c.arn)) == Some(ControlState::On);
            match (on(regions.primary.as_str()), on(regions.standby.as_str())) {
                (true, _) => Some(regions.primary.to_string()),
                (false, true) => Some(regions.standby.to_string()),
                (false, false) => None,
            }
        }
    }
}

/// Why the switch cannot be flipped now, if it cannot (its health checks aside).
pub fn not_ready(observed: &SwitchObservation) -> Option<String> {
    match observed {
        SwitchObservation::None => None,
        SwitchObservation::Alarm { exists: false, .. } => Some("the switch alarm does not exist yet".into()),
        SwitchObservation::Alarm { .. } => None,
        SwitchObservation::RoutingControl(arc) => match (&arc.cluster, &arc.states) {
            (None, _) => Some("the ARC cluster does not exist yet".into()),
            (Some(c), _) if c.status != ArcStatus::Deployed => {
                Some(format!("ARC cluster {} is {:?}, not deployed yet", c.name, c.status))
            }
            (_, None) => Some("the routing controls do not exist yet".into()),
            (_, Some(Err(e))) => Some(format!("no ARC cluster endpoint answered: {e}")),
            (_, Some(Ok(_))) => None,
        },
    }
}

/// The cluster's endpoints, kept in status so that a failover reaches them without the
/// recovery control configuration API (in us-west-2).
pub fn endpoint_refs(observed: &SwitchObservation) -> Vec<ClusterEndpointRef> {
    let cluster = match observed {
        SwitchObservation::RoutingControl(arc) => arc.cluster.as_ref(),
        _ => None,
    };
    match cluster {
        Some(cluster) => cluster
            .endpoints
            .iter()
            .map(|e| ClusterEndpointRef {
                region: e.region.clone(),
                endpoint: e.url.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}
