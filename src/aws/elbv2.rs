//! Elastic Load Balancing v2: the health of the standby target groups' targets.

use super::{AwsError, RegionalClients, states::TargetState};

/// One registered target and its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub state: TargetState,
}

/// The targets registered with `target_group_arn`.
pub async fn target_health(aws: &RegionalClients, target_group_arn: &str) -> Result<Vec<Target>, AwsError> {
    let out = aws
        .elbv2
        .describe_target_health()
        .target_group_arn(target_group_arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elasticloadbalancing", "DescribeTargetHealth", &aws.region, e))?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .map(|d| Target {
            id: d.target().and_then(|t| t.id()).unwrap_or_default().to_owned(),
            state: d
                .target_health()
                .and_then(|h| h.state())
                .map_or_else(|| "unknown".into(), |s| s.as_str().into()),
        })
        .collect())
}

/// A load balancer as described.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancer {
    pub arn: String,
    /// `active`, `provisioning`, `failed`, ...
    pub state: String,
}

/// A listener and the target groups its default action forwards to.
#[derive(Clone, Debug, PartialEq)]
pub struct Listener {
    pub port: Option<i32>,
    pub forwards_to: Vec<String>,
}

/// The load balancer named `name`, if it exists.
pub async fn load_balancer(aws: &RegionalClients, name: &str) -> Result<Option<LoadBalancer>, AwsError> {
    let result = aws
        .elbv2
        .describe_load_balancers()
        .names(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elasticloadbalancing", "DescribeLoadBalancers", &aws.region, e))
        .map(|out| {
            out.load_balancers().first().map(|lb| LoadBalancer {
                arn: lb.load_balancer_arn().unwrap_or_default().to_owned(),
                state: lb
                    .state()
                    .and_then(|s| s.code())
                    .map_or("unknown", |c| c.as_str())
                    .to_owned(),
            })
        });
    Ok(super::found(result)?.flatten())
}

/// The listeners of load balancer `arn`.
pub async fn listeners(aws: &RegionalClients, arn: &str) -> Result<Vec<Listener>, AwsError> {
    let out = aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elasticloadbalancing", "DescribeListeners", &aws.region, e))?;
    Ok(out
        .listeners()
        .iter()
        .map(|l| Listener {
            port: l.port(),
            forwards_to: l
                .default_actions()
                .iter()
                .filter(|a| a.r#type().is_some_and(|t| t.as_str() == "forward"))
                .flat_map(|a| {
                    let single = a.target_group_arn().map(str::to_owned);
                    let weighted = a
                        .forward_config()
                        .map(|f| f.target_groups())
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|t| t.target_group_arn().map(str::to_owned));
                    single.into_iter().chain(weighted)
                })
                .collect(),
        })
        .collect())
}

/// Whether target group `arn` exists in this region.
pub async fn target_group_exists(aws: &RegionalClients, arn: &str) -> Result<bool, AwsError> {
    let result = aws
        .elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elasticloadbalancing", "DescribeTargetGroups", &aws.region, e));
    Ok(super::found(result)?.is_some_and(|out| !out.target_groups().is_empty()))
}
