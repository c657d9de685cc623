//! Auto Scaling: the standby Auto Scaling Group.

use aws_sdk_autoscaling::{
    error::{ProvideErrorMetadata, SdkError},
    types::{AutoScalingGroup, LaunchTemplateSpecification, Tag},
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::{AwsError, OWNER_TAG, RegionalClients, found};

fn error<E>(operation: &'static str, region: &str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsError::from_sdk("autoscaling", operation, region, e)
}

/// An Auto Scaling Group as the operator needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub name: String,
    pub min_size: i32,
    pub desired_capacity: i32,
    pub max_size: i32,
    /// Subnet ids, in AWS's order.
    pub subnet_ids: Vec<String>,
    pub target_group_arns: Vec<String>,
    /// (launch template name, version) when the group uses a launch template.
    pub launch_template: Option<(String, String)>,
    /// Value of the operator's owner tag: set when the operator created the group.
    pub owner: Option<String>,
    pub instances: usize,
    /// Instances whose lifecycle state is `InService`.
    pub in_service: usize,
}

impl From<&AutoScalingGroup> for Group {
    fn from(g: &AutoScalingGroup) -> Self {
        Self {
            name: g.auto_scaling_group_name().unwrap_or_default().to_owned(),
            min_size: g.min_size().unwrap_or_default(),
            desired_capacity: g.desired_capacity().unwrap_or_default(),
            max_size: g.max_size().unwrap_or_default(),
            subnet_ids: g
                .vpc_zone_identifier()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            target_group_arns: g.target_group_arns().to_vec(),
            launch_template: g.launch_template().map(|t| {
                (
                    t.launch_template_name().unwrap_or_default().to_owned(),
                    t.version().unwrap_or("$Default").to_owned(),
                )
            }),
            owner: g
                .tags()
                .iter()
                .find(|t| t.key() == Some(OWNER_TAG))
                .and_then(|t| t.value().map(str::to_owned)),
            instances: g.instances().len(),
            in_service: g
                .instances()
                .iter()
                .filter(|i| i.lifecycle_state() == Some(&aws_sdk_autoscaling::types::LifecycleState::InService))
                .count(),
        }
    }
}

/// The named groups that exist (AWS omits missing names). Up to 100 names per call, so one call
/// serves many PilotLights.
pub async fn describe_groups(aws: &RegionalClients, names: &[String]) -> Result<Vec<Group>, AwsError> {
    let mut groups = Vec::with_capacity(names.len());
    for chunk in names.chunks(100) {
        let out = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(chunk.to_vec()))
            .max_records(100)
            .send()
            .await
            .map_err(|e| error("DescribeAutoScalingGroups", &aws.region, e))?;
        groups.extend(out.auto_scaling_groups().iter().map(Group::from));
    }
    Ok(groups)
}

/// What the operator sets on the group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSettings {
    pub name: String,
    pub launch_template_name: String,
    pub min_size: i32,
    pub desired_capacity: i32,
    pub max_size: i32,
    pub subnet_ids: Vec<String>,
}

impl GroupSettings {
    fn launch_template(&self) -> LaunchTemplateSpecification {
        LaunchTemplateSpecification::builder()
            .launch_template_name(&self.launch_template_name)
            .version("$Default")
            .build()
    }
}

/// Creates the group with its target groups, tagged with its owner.
pub async fn create_group(
    aws: &RegionalClients,
    settings: &GroupSettings,
    target_group_arns: &[String],
    owner: &str,
) -> Result<(), AwsError> {
    aws.autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(&settings.name)
        .launch_template(settings.launch_template())
        .min_size(settings.min_size)
        .desired_capacity(settings.desired_capacity)
        .max_size(settings.max_size)
        .vpc_zone_identifier(settings.subnet_ids.join(","))
        .set_target_group_arns((!target_group_arns.is_empty()).then(|| target_group_arns.to_vec()))
        .tags(
            Tag::builder()
                .key(OWNER_TAG)
                .value(owner)
                .propagate_at_launch(false)
                .resource_id(&settings.name)
                .resource_type("auto-scaling-group")
                .build(),
        )
        .send()
        .await
        .map_err(|e| error("CreateAutoScalingGroup", &aws.region, e))?;
    Ok(())
}

/// Sets only the sizes of an existing group: what a failover, drill or fence changes.
pub async fn set_capacity(
    aws: &RegionalClients,
    name: &str,
    min_size: i32,
    desired_capacity: i32,
    max_size: i32,
) -> Result<(), AwsError> {
    aws.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(name)
        .min_size(min_size)
        .desired_capacity(desired_capacity)
        .max_size(max_size)
        .send()
        .await
        .map_err(|e| error("UpdateAutoScalingGroup", &aws.region, e))?;
    Ok(())
}

/// Sets sizes, subnets and launch template of an existing group.
pub async fn update_group(aws: &RegionalClients, settings: &GroupSettings) -> Result<(), AwsError> {
    aws.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&settings.name)
        .launch_template(settings.launch_template())
        .min_size(settings.min_size)
        .desired_capacity(settings.desired_capacity)
        .max_size(settings.max_size)
        .vpc_zone_identifier(settings.subnet_ids.join(","))
        .send()
        .await
        .map_err(|e| error("UpdateAutoScalingGroup", &aws.region, e))?;
    Ok(())
}

pub async fn attach_target_groups(aws: &RegionalClients, group: &str, arns: &[String]) -> Result<(), AwsError> {
    aws.autoscaling
        .attach_load_balancer_target_groups()
        .auto_scaling_group_name(group)
        .set_target_group_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|e| error("AttachLoadBalancerTargetGroups", &aws.region, e))?;
    Ok(())
}

pub async fn detach_target_groups(aws: &RegionalClients, group: &str, arns: &[String]) -> Result<(), AwsError> {
    aws.autoscaling
        .detach_load_balancer_target_groups()
        .auto_scaling_group_name(group)
        .set_target_group_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|e| error("DetachLoadBalancerTargetGroups", &aws.region, e))?;
    Ok(())
}

/// Deletes the group and terminates its instances (the standby group holds none when dormant).
pub async fn delete_group(aws: &RegionalClients, group: &str) -> Result<(), AwsError> {
    let out = aws
        .autoscaling
        .delete_auto_scaling_group()
        .auto_scaling_group_name(group)
        .force_delete(true)
        .send()
        .await
        .map_err(|e| error("DeleteAutoScalingGroup", &aws.region, e));
    found(out).map(|_| ())
}
