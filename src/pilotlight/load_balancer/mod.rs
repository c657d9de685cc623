//! The DR load balancer (`spec.traffic.loadBalancer`): readiness only. It, its listener and its
//! target group must exist in the standby region, the listener must forward to the target
//! group, and the standby Auto Scaling Group must be attached to it. Drift is reported, never
//! repaired: the load balancer is the user's.

use crate::{
    api::{LoadBalancerSpec, PilotLightSpec},
    aws::{
        AwsClients, AwsError, autoscaling,
        elbv2::{self, Listener, LoadBalancer},
    },
    pilotlight::ComponentReport,
};

/// What the standby region says.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub load_balancer: Option<LoadBalancer>,
    pub listeners: Vec<Listener>,
    pub target_group_exists: bool,
    /// The standby group's target groups (`None`: no `spec.compute`, or no group yet).
    pub group_target_groups: Option<Vec<String>>,
}

/// Up to four describes in the standby region.
pub async fn observe(aws: &AwsClients, spec: &PilotLightSpec, lb: &LoadBalancerSpec) -> Result<Observation, AwsError> {
    let clients = aws.region(spec.regions.standby.as_str());
    let load_balancer = elbv2::load_balancer(&clients, &lb.name).await?;
    let listeners = match &load_balancer {
        Some(found) => elbv2::listeners(&clients, &found.arn).await?,
        None => Vec::new(),
    };
    let target_group_exists = elbv2::target_group_exists(&clients, lb.target_group_arn.as_str()).await?;
    let group_target_groups = match &spec.compute {
        Some(compute) => {
            let name = compute.auto_scaling_group.name.clone();
            autoscaling::describe_groups(&clients, std::slice::from_ref(&name))
                .await?
                .into_iter()
                .next()
                .map(|g| g.target_group_arns)
        }
        None => None,
    };
    Ok(Observation {
        load_balancer,
        listeners,
        target_group_exists,
        group_target_groups,
    })
}

/// How ready the DR load balancer is. Pure.
pub fn decide(spec: &PilotLightSpec, lb: &LoadBalancerSpec, obs: &Observation) -> ComponentReport {
    let standby = spec.regions.standby.as_str();
    let (name, tg) = (lb.name.as_str(), lb.target_group_arn.as_str());
    let Some(found) = &obs.load_balancer else {
        return ComponentReport::misconfigured(
            "LoadBalancerNotFound",
            format!("DR load balancer {name} does not exist in {standby}: a failover would move traffic to nothing"),
        );
    };
    if found.state != "active" {
        return ComponentReport::degraded(
            "LoadBalancerNotActive",
            format!("DR load balancer {name} in {standby} is {}, not active", found.state),
        );
    }
    if !obs.target_group_exists {
        return ComponentReport::misconfigured(
            "TargetGroupNotFound",
            format!("target group {tg} does not exist in {standby}"),
        );
    }
    let listener = obs
        .listeners
        .iter()
        .find(|l| lb.listener_port.is_none() || l.port == lb.listener_port);
    let Some(listener) = listener else {
        return ComponentReport::misconfigured(
            "ListenerNotFound",
            match lb.listener_port {
                Some(port) => format!("DR load balancer {name} has no listener on port {port}"),
                None => format!("DR load balancer {name} has no listener"),
            },
        );
    };
    let port = listener.port.map(|p| format!(" on port {p}")).unwrap_or_default();
    if !listener.forwards_to.iter().any(|t| t == tg) {
        return ComponentReport::degraded(
            "ListenerNotForwarding",
            format!(
                "the listener{port} of {name} forwards to {} instead of {tg}: after a failover the standby's instances would get no traffic (the operator never changes your load balancer)",
                match listener.forwards_to.is_empty() {
                    true => "no target group".to_owned(),
                    false => listener.forwards_to.join(", "),
                }
            ),
        );
    }
    let group = spec.compute.as_ref().map(|c| c.auto_scaling_group.name.as_str());
    match (group, &obs.group_target_groups) {
        (Some(group), Some(attached)) if !attached.iter().any(|t| t == tg) => ComponentReport::degraded(
            "GroupNotAttached",
            format!(
                "standby group {group} is not attached to {tg}: its instances would never receive {name}'s traffic; add it to spec.compute.autoScalingGroup.targetGroupArns"
            ),
        ),
        (Some(group), None) => ComponentReport::converging(
            "GroupNotCreated",
            format!("standby group {group} does not exist yet, so its attachment to {tg} is not known"),
        ),
        _ => ComponentReport::healthy(
            "Wired",
            format!(
                "DR load balancer {name} in {standby} is active; its listener{port} forwards to {tg}{}",
                group
                    .map(|g| format!(", which standby group {g} is attached to"))
                    .unwrap_or_default()
            ),
        ),
    }
}

#[cfg(test)]
mod tests;
