//! Route 53 Application Recovery Controller: the cluster, control panel, routing controls and
//! safety rule of the `routingControl` switch (recovery control configuration API, served only
//! in us-west-2), and the routing control states (the cluster's data plane, five regional
//! endpoints, any one of which is enough).

use std::time::Duration;

use aws_sdk_route53recoverycluster::types::{RoutingControlState, UpdateRoutingControlStateEntry};
use aws_sdk_route53recoverycontrolconfig::types::{NewAssertionRule, RuleConfig, RuleType};

pub use super::states::ArcStatus;
use super::{AwsError, RegionalClients, found};

/// The only region of the recovery control configuration API
/// (<https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.html>: "you must specify
/// the US West (Oregon) Region").
pub const CONTROL_CONFIG_REGION: &str = "us-west-2";

/// How long one cluster endpoint gets to answer before the next one is tried.
pub const ENDPOINT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

const CONFIG: &str = "route53-recovery-control-config";
const CLUSTER: &str = "route53-recovery-cluster";

/// A routing control's state: On lets its health checks report healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlState {
    On,
    Off,
}

impl ControlState {
    fn to_sdk(self) -> RoutingControlState {
        match self {
            Self::On => RoutingControlState::On,
            Self::Off => RoutingControlState::Off,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterEndpoint {
    pub region: String,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub arn: String,
    pub name: String,
    pub status: ArcStatus,
    pub endpoints: Vec<ClusterEndpoint>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ControlPanel {
    pub arn: String,
    pub name: String,
    pub status: ArcStatus,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoutingControl {
    pub arn: String,
    pub name: String,
    pub status: ArcStatus,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SafetyRule {
    pub arn: String,
    pub name: String,
    pub status: ArcStatus,
}

/// One cluster endpoint's client (one attempt, short timeout: the next endpoint is the retry).
#[derive(Clone, Debug)]
pub struct EndpointClient {
    pub region: String,
    pub client: aws_sdk_route53recoverycluster::Client,
}

fn status(s: Option<&aws_sdk_route53recoverycontrolconfig::types::Status>) -> ArcStatus {
    ArcStatus::from(s.map_or("", |s| s.as_str()))
}

fn cluster(c: &aws_sdk_route53recoverycontrolconfig::types::Cluster) -> Cluster {
    Cluster {
        arn: c.cluster_arn().unwrap_or_default().to_owned(),
        name: c.name().unwrap_or_default().to_owned(),
        status: status(c.status()),
        endpoints: c
            .cluster_endpoints()
            .iter()
            .map(|e| ClusterEndpoint {
                region: e.region().unwrap_or_default().to_owned(),
                url: e.endpoint().unwrap_or_default().to_owned(),
            })
            .collect(),
    }
}

pub async fn describe_cluster(aws: &RegionalClients, arn: &str) -> Result<Option<Cluster>, AwsError> {
    let out = aws.arc_config.describe_cluster().cluster_arn(arn).send().await;
    let out = found(out.map_err(|e| AwsError::from_sdk(CONFIG, "DescribeCluster", &aws.region, e)))?;
    Ok(out.and_then(|o| o.cluster().map(cluster)))
}

/// The cluster called `name`, if any (the operator's own, found again after a restart).
pub async fn find_cluster_named(aws: &RegionalClients, name: &str) -> Result<Option<Cluster>, AwsError> {
    let mut token = None;
    loop {
        let out = aws
            .arc_config
            .list_clusters()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(CONFIG, "ListClusters", &aws.region, e))?;
        if let Some(c) = out.clusters().iter().find(|c| c.name() == Some(name)) {
            return Ok(Some(cluster(c)));
        }
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(None),
        }
    }
}

pub async fn create_cluster(aws: &RegionalClients, name: &str, client_token: &str) -> Result<(), AwsError> {
    aws.arc_config
        .create_cluster()
        .cluster_name(name)
        .client_token(client_token)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(CONFIG, "CreateCluster", &aws.region, e))?;
    Ok(())
}

pub async fn find_control_panel(
    aws: &RegionalClients,
    cluster_arn: &str,
    name: &str,
) -> Result<Option<ControlPanel>, AwsError> {
    let mut token = None;
    loop {
        let out = aws
            .arc_config
            .list_control_panels()
            .cluster_arn(cluster_arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(CONFIG, "ListControlPanels", &aws.region, e))?;
        if let Some(p) = out.control_panels().iter().find(|p| p.name() == Some(name)) {
            return Ok(Some(ControlPanel {
                arn: p.control_panel_arn().unwrap_or_default().to_owned(),
                name: name.to_owned(),
                status: status(p.status()),
            }));
        }
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(None),
        }
    }
}

pub async fn create_control_panel(
    aws: &RegionalClients,
    cluster_arn: &str,
    name: &str,
    client_token: &str,
) -> Result<(), AwsError> {
    aws.arc_config
        .create_control_panel()
        .cluster_arn(cluster_arn)
        .control_panel_name(name)
        .client_token(client_token)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(CONFIG, "CreateControlPanel", &aws.region, e))?;
    Ok(())
}

pub async fn routing_controls(aws: &RegionalClients, panel_arn: &str) -> Result<Vec<RoutingControl>, AwsError> {
    let mut controls = Vec::new();
    let mut token = None;
    loop {
        let out = aws
            .arc_config
            .list_routing_controls()
            .control_panel_arn(panel_arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(CONFIG, "ListRoutingControls", &aws.region, e))?;
        controls.extend(out.routing_controls().iter().map(|c| RoutingControl {
            arn: c.routing_control_arn().unwrap_or_default().to_owned(),
            name: c.name().unwrap_or_default().to_owned(),
            status: status(c.status()),
        }));
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(controls),
        }
    }
}

/// Creates the routing control of `region`, named after it.
pub async fn create_routing_control(
    aws: &RegionalClients,
    cluster_arn: &str,
    panel_arn: &str,
    region: &str,
    client_token: &str,
) -> Result<(), AwsError> {
    aws.arc_config
        .create_routing_control()
        .cluster_arn(cluster_arn)
        .control_panel_arn(panel_arn)
        .routing_control_name(region)
        .client_token(client_token)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(CONFIG, "CreateRoutingControl", &aws.region, e))?;
    Ok(())
}

/// The panel's assertion rules (gating rules are not the operator's).
pub async fn safety_rules(aws: &RegionalClients, panel_arn: &str) -> Result<Vec<SafetyRule>, AwsError> {
    let mut rules = Vec::new();
    let mut token = None;
    loop {
        let out = aws
            .arc_config
            .list_safety_rules()
            .control_panel_arn(panel_arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(CONFIG, "ListSafetyRules", &aws.region, e))?;
        rules.extend(
            out.safety_rules()
                .iter()
                .filter_map(|r| r.assertion())
                .map(|a| SafetyRule {
                    arn: a.safety_rule_arn().unwrap_or_default().to_owned(),
                    name: a.name().unwrap_or_default().to_owned(),
                    status: status(a.status()),
                }),
        );
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(rules),
        }
    }
}

/// An assertion rule that at least one of `controls` stays On: no update can turn traffic off
/// everywhere (<https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.safety-rules.html>).
pub async fn create_at_least_one_rule(
    aws: &RegionalClients,
    panel_arn: &str,
    name: &str,
    controls: &[String],
    client_token: &str,
) -> Result<(), AwsError> {
    let config = RuleConfig::builder()
        .r#type(RuleType::Atleast)
        .threshold(1)
        .inverted(false)
        .build();
    let rule = NewAssertionRule::builder()
        .name(name)
        .control_panel_arn(panel_arn)
        .set_asserted_controls(Some(controls.to_vec()))
        .rule_config(config)
        .wait_period_ms(5000)
        .build();
    aws.arc_config
        .create_safety_rule()
        .assertion_rule(rule)
        .client_token(client_token)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(CONFIG, "CreateSafetyRule", &aws.region, e))?;
    Ok(())
}

/// Whether a failed call to one cluster endpoint is worth making on the next: AWS asks clients
/// to try each of the five in turn, because any one of them may be down
/// (<https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html>). A
/// refusal (a safety rule, an unknown ARN) would be refused by every endpoint.
pub fn try_next_endpoint(error: &AwsError) -> bool {
    error.is_retryable()
}

/// Runs `call` on each endpoint in turn until one answers or one refuses. The error is the last
/// endpoint's, prefixed by how many were tried.
async fn on_any_endpoint<T, F, Fut>(endpoints: &[EndpointClient], mut call: F) -> Result<T, AwsError>
where
    F: FnMut(EndpointClient) -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let mut last = None;
    for endpoint in endpoints {
        match call(endpoint.clone()).await {
            Ok(v) => return Ok(v),
            Err(e) if try_next_endpoint(&e) => {
                tracing::warn!(region = %endpoint.region, error = %e, "ARC cluster endpoint failed, trying the next");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(match last {
        Some(mut e) => {
            e.message = format!(
                "all {} cluster endpoints failed; the last: {}",
                endpoints.len(),
                e.message
            );
            e
        }
        None => AwsError::invalid_request(
            CLUSTER,
            "UpdateRoutingControlStates",
            "-",
            "the cluster has no endpoints".into(),
        ),
    })
}

/// The states of `arns`, from the first endpoint that answers.
pub async fn states(endpoints: &[EndpointClient], arns: &[String]) -> Result<Vec<(String, ControlState)>, AwsError> {
    on_any_endpoint(endpoints, |endpoint| async move {
        let mut states = Vec::with_capacity(arns.len());
        for arn in arns {
            let out = endpoint
                .client
                .get_routing_control_state()
                .routing_control_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(CLUSTER, "GetRoutingControlState", &endpoint.region, e))?;
            let state = match out.routing_control_state() {
                RoutingControlState::On => ControlState::On,
                _ => ControlState::Off,
            };
            states.push((arn.clone(), state));
        }
        Ok(states)
    })
    .await
}

/// Sets all of `changes` in one UpdateRoutingControlStates (checked against the safety rules
/// as a whole), on the first endpoint that answers.
pub async fn update_states(endpoints: &[EndpointClient], changes: &[(String, ControlState)]) -> Result<(), AwsError> {
    let entries = changes
        .iter()
        .map(|(arn, state)| {
            UpdateRoutingControlStateEntry::builder()
                .routing_control_arn(arn)
                .routing_control_state(state.to_sdk())
                .build()
                .map_err(|e| AwsError::invalid_request(CLUSTER, "UpdateRoutingControlStates", "-", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    on_any_endpoint(endpoints, |endpoint| {
        let entries = entries.clone();
        async move {
            endpoint
                .client
                .update_routing_control_states()
                .set_update_routing_control_state_entries(Some(entries))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(CLUSTER, "UpdateRoutingControlStates", &endpoint.region, e))?;
            Ok(())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsErrorKind;

    fn error(kind: AwsErrorKind, code: &str) -> AwsError {
        AwsError {
            service: CLUSTER,
            operation: "UpdateRoutingControlStates",
            region: "us-east-1".into(),
            kind,
            code: Some(code.into()),
            message: "m".into(),
        }
    }

    #[test]
    fn an_unreachable_or_unavailable_endpoint_passes_to_the_next_and_a_refusal_does_not() {
        assert!(try_next_endpoint(&error(
            AwsErrorKind::Unavailable,
            "EndpointTemporarilyUnavailableException"
        )));
        assert!(try_next_endpoint(&error(
            AwsErrorKind::Throttled,
            "ThrottlingException"
        )));
        assert!(!try_next_endpoint(&error(AwsErrorKind::Rejected, "ConflictException")));
        assert!(!try_next_endpoint(&error(
            AwsErrorKind::NotFound,
            "ResourceNotFoundException"
        )));
    }

    #[tokio::test]
    async fn endpoints_are_tried_in_turn_until_one_answers() {
        let config = aws_sdk_route53recoverycluster::Config::builder()
            .behavior_version(aws_sdk_route53recoverycluster::config::BehaviorVersion::latest())
            .build();
        let endpoints: Vec<EndpointClient> = ["us-east-1", "us-west-2", "eu-west-1"]
            .iter()
            .map(|r| EndpointClient {
                region: (*r).into(),
                client: aws_sdk_route53recoverycluster::Client::from_conf(config.clone()),
            })
            .collect();
        let tried = std::sync::Mutex::new(Vec::new());
        let answer = on_any_endpoint(&endpoints, |e| {
            tried.lock().unwrap().push(e.region.clone());
            async move {
                match e.region.as_str() {
                    "eu-west-1" => Ok(e.region),
                    _ => Err(error(AwsErrorKind::Unavailable, "InternalServerException")),
                }
            }
        })
        .await;
        assert_eq!(answer.unwrap(), "eu-west-1");
        assert_eq!(*tried.lock().unwrap(), ["us-east-1", "us-west-2", "eu-west-1"]);

        let refused = on_any_endpoint(&endpoints, |_| async {
            Err::<(), _>(error(AwsErrorKind::Rejected, "ConflictException"))
        })
        .await;
        assert_eq!(refused.unwrap_err().code.as_deref(), Some("ConflictException"));

        let all_down = on_any_endpoint(&endpoints, |_| async {
            Err::<(), _>(error(AwsErrorKind::Unavailable, "x"))
        })
        .await;
        assert!(
            all_down
                .unwrap_err()
                .message
                .starts_with("all 3 cluster endpoints failed")
        );
    }
}
