//! The changes compute convergence decides on, and how each is made.

use crate::{
    api::{ComputeSpec, Regions},
    aws::{
        AwsClients, AwsError,
        autoscaling::{self, GroupSettings},
        ec2::{self, LaunchTemplateData},
    },
    pilotlight::PlannedChange,
};

#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    CopyImage {
        region: String,
        source_region: String,
        source_image_id: String,
        name: String,
    },
    CreateLaunchTemplate {
        region: String,
        name: String,
        data: LaunchTemplateData,
    },
    NewLaunchTemplateVersion {
        region: String,
        name: String,
        data: LaunchTemplateData,
        /// What differs, for the Event.
        differences: Vec<&'static str>,
    },
    CreateGroup {
        region: String,
        settings: GroupSettings,
        target_group_arns: Vec<String>,
    },
    UpdateGroup {
        region: String,
        settings: GroupSettings,
        differences: Vec<&'static str>,
    },
    /// The cost guard: the group was scaled up while nothing needed it.
    ScaleDownGroup {
        region: String,
        settings: GroupSettings,
        found: (i32, i32, i32),
    },
    /// Prewarm: the group scaled up ahead of an approval.
    Prewarm {
        region: String,
        settings: GroupSettings,
        found: (i32, i32, i32),
    },
    /// The prewarm ended: back to zero.
    EndPrewarm {
        region: String,
        settings: GroupSettings,
        found: (i32, i32, i32),
    },
    AttachTargetGroups {
        region: String,
        group: String,
        arns: Vec<String>,
    },
    DetachTargetGroups {
        region: String,
        group: String,
        arns: Vec<String>,
    },
}

impl PlannedChange for Change {
    fn reason(&self) -> &'static str {
        match self {
            Self::CopyImage { .. } => "CopyingImage",
            Self::CreateLaunchTemplate { .. } => "CreatingLaunchTemplate",
            Self::NewLaunchTemplateVersion { .. } => "UpdatingLaunchTemplate",
            Self::CreateGroup { .. } => "CreatingAutoScalingGroup",
            Self::UpdateGroup { .. } => "UpdatingAutoScalingGroup",
            Self::ScaleDownGroup { .. } => "StandbyScaledUp",
            Self::Prewarm { .. } => "Prewarming",
            Self::EndPrewarm { .. } => "PrewarmEnded",
            Self::AttachTargetGroups { .. } => "AttachingTargetGroups",
            Self::DetachTargetGroups { .. } => "DetachingTargetGroups",
        }
    }

    fn sets_standby_capacity(&self) -> bool {
        matches!(
            self,
            Self::ScaleDownGroup { .. } | Self::Prewarm { .. } | Self::EndPrewarm { .. }
        )
    }

    /// The cost guard is a Warning: someone scaled the standby up and it costs money.
    fn is_warning(&self) -> bool {
        matches!(self, Self::ScaleDownGroup { .. })
    }

    fn describe(&self) -> String {
        match self {
            Self::CopyImage {
                region,
                source_region,
                source_image_id,
                ..
            } => format!("Copying AMI {source_image_id} from {source_region} to {region}"),
            Self::CreateLaunchTemplate { region, name, data } => format!(
                "Creating launch template {name} in {region} with {} and {}",
                data.image_id, data.instance_type
            ),
            Self::NewLaunchTemplateVersion {
                region,
                name,
                differences,
                ..
            } => format!(
                "New default version of launch template {name} in {region}: {} changed",
                differences.join(", ")
            ),
            Self::CreateGroup { region, settings, .. } => format!(
                "Creating Auto Scaling Group {} in {region} at {}/{}/{} (min/desired/max)",
                settings.name, settings.min_size, settings.desired_capacity, settings.max_size
            ),
            Self::UpdateGroup {
                region,
                settings,
                differences,
            } => format!(
                "Updating Auto Scaling Group {} in {region}: {}",
                settings.name,
                differences.join(", ")
            ),
            Self::ScaleDownGroup {
                region,
                settings,
                found,
            } => format!(
                "Auto Scaling Group {} in {region} was at {}/{}/{} (min/desired/max) with no drill or failover running; returning it to 0/0/{} to stop paying for idle standby instances",
                settings.name, found.0, found.1, found.2, settings.max_size
            ),
            Self::Prewarm {
                region,
                settings,
                found,
            } => format!(
                "Prewarming Auto Scaling Group {} in {region}: {}/{}/{} -> {}/{}/{} while people decide (spec.failover.prewarm; the database and traffic are not touched)",
                settings.name,
                found.0,
                found.1,
                found.2,
                settings.min_size,
                settings.desired_capacity,
                settings.max_size
            ),
            Self::EndPrewarm {
                region,
                settings,
                found,
            } => format!(
                "The prewarm ended (status.prewarm says why): Auto Scaling Group {} in {region} goes from {}/{}/{} back to 0/0/{}",
                settings.name, found.0, found.1, found.2, settings.max_size
            ),
            Self::AttachTargetGroups { region, group, arns } => {
                format!("Attaching target groups {} to {group} in {region}", arns.join(", "))
            }
            Self::DetachTargetGroups { region, group, arns } => format!(
                "Detaching target groups {} from {group} in {region} (not in the spec)",
                arns.join(", ")
            ),
        }
    }

    fn apply(&self, aws: &AwsClients, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        apply(aws, self, owner)
    }
}

pub async fn apply(aws: &AwsClients, change: &Change, owner: &str) -> Result<(), AwsError> {
    match change {
        Change::CopyImage {
            region,
            source_region,
            source_image_id,
            name,
        } => ec2::copy_image(&aws.region(region), source_region, source_image_id, name, owner)
            .await
            .map(|_| ()),
        Change::CreateLaunchTemplate { region, name, data } => {
            ec2::create_launch_template(&aws.region(region), name, data, owner).await
        }
        Change::NewLaunchTemplateVersion { region, name, data, .. } => {
            ec2::set_launch_template_version(&aws.region(region), name, data)
                .await
                .map(|_| ())
        }
        Change::CreateGroup {
            region,
            settings,
            target_group_arns,
        } => autoscaling::create_group(&aws.region(region), settings, target_group_arns, owner).await,
        Change::UpdateGroup { region, settings, .. }
        | Change::ScaleDownGroup { region, settings, .. }
        | Change::Prewarm { region, settings, .. }
        | Change::EndPrewarm { region, settings, .. } => autoscaling::update_group(&aws.region(region), settings).await,
        Change::AttachTargetGroups { region, group, arns } => {
            autoscaling::attach_target_groups(&aws.region(region), group, arns).await
        }
        Change::DetachTargetGroups { region, group, arns } => {
            autoscaling::detach_target_groups(&aws.region(region), group, arns).await
        }
    }
}

/// Removes what the operator created in the standby region (deletionPolicy `Delete`): the group
/// and the launch template, each only when it carries this PilotLight's owner tag. AMI copies
/// stay: they hold data (snapshots). Returns what was deleted.
pub async fn remove(
    aws: &AwsClients,
    regions: &Regions,
    spec: &ComputeSpec,
    owner: &str,
) -> Result<Vec<String>, AwsError> {
    let standby = aws.region(regions.standby.as_str());
    let mut removed = Vec::new();
    let group = autoscaling::describe_groups(&standby, std::slice::from_ref(&spec.auto_scaling_group.name)).await?;
    if group.iter().any(|g| g.owner.as_deref() == Some(owner)) {
        autoscaling::delete_group(&standby, &spec.auto_scaling_group.name).await?;
        removed.push(format!("Auto Scaling Group {}", spec.auto_scaling_group.name));
    }
    if ec2::launch_template_owner(&standby, &spec.launch_template.name)
        .await?
        .as_deref()
        == Some(owner)
    {
        ec2::delete_launch_template(&standby, &spec.launch_template.name).await?;
        removed.push(format!("launch template {}", spec.launch_template.name));
    }
    Ok(removed)
}
