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
