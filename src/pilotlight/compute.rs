//! Dormant compute in the standby region: a copy of the primary's AMI, a launch template built
//! from it, and the standby Auto Scaling Group held at zero (the seed's cost guard) until a drill
//! or failover needs it.

use crate::aws::states::ImageState;
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use crate::{
    api::{ComputeSpec, ComputeStatus, Regions},
    aws::{
        AwsClients, AwsError,
        autoscaling::{self, Group, GroupSettings},
        ec2::{self, AmiCopy, LaunchTemplate, LaunchTemplateData},
    },
};

use super::{ComponentReport, PlannedChange};

/// What `observe` read from the standby region.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Copies of the source image, newest first.
    pub copies: Vec<AmiCopy>,
    /// The launch template's default version.
    pub template: Option<LaunchTemplate>,
    pub group: Option<Group>,
}

/// Why the standby group may be above zero right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityUse {
    /// Nothing needs standby capacity: the group is held at zero.
    Dormant,
    /// A drill or failover is running, or the standby region serves: sizes are left alone.
    InUse,
}

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
            Self::AttachTargetGroups { .. } => "AttachingTargetGroups",
            Self::DetachTargetGroups { .. } => "DetachingTargetGroups",
        }
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

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub changes: Vec<Change>,
    pub report: ComponentReport,
    pub status: ComputeStatus,
}

/// Reads the standby region. AMI copies and groups are described together with other
/// PilotLights' unless `fresh` (see [`crate::aws::shared`]); the template's default version is
/// one call of its own (EC2 describes one template's versions per call).
pub async fn observe(
    aws: &AwsClients,
    regions: &Regions,
    spec: &ComputeSpec,
    fresh: bool,
) -> Result<Observation, AwsError> {
    let standby = aws.region(regions.standby.as_str());
    let copies = aws
        .image_copies
        .get(
            &standby.region,
            spec.launch_template.source_image_id.as_str(),
            fresh,
            async |sources| ec2::copies_of(&standby, &sources).await,
        )
        .await?
        .unwrap_or_default();
    let template = ec2::default_launch_template_version(&standby, &spec.launch_template.name).await?;
    let group = aws
        .groups
        .get(&standby.region, &spec.auto_scaling_group.name, fresh, async |names| {
            let groups = autoscaling::describe_groups(&standby, &names).await?;
            Ok(groups.into_iter().map(|g| (g.name.clone(), g)).collect())
        })
        .await?;
    Ok(Observation {
        copies,
        template,
        group,
    })
}

/// Name of the AMI copy: AMI names are unique per account and region, so it carries the source.
fn copy_name(spec: &ComputeSpec) -> String {
    format!(
        "{}-{}",
        spec.launch_template.name.replace(['(', ')'], ""),
        spec.launch_template.source_image_id.as_str()
    )
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut v = values.to_vec();
    v.sort();
    v
}

/// What differs between the template's default version and what it should be.
fn template_differences(have: &LaunchTemplateData, want: &LaunchTemplateData) -> Vec<&'static str> {
    [
        ("image", have.image_id != want.image_id),
        ("instance type", have.instance_type != want.instance_type),
        ("key pair", have.key_name != want.key_name),
        (
            "security groups",
            sorted(&have.security_group_ids) != sorted(&want.security_group_ids),
        ),
        ("user data", have.user_data != want.user_data),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect()
}

/// Human form of an age: `3d4h`, `5h12m`, `40m`.
fn human_age(seconds: i64) -> String {
    let (d, h, m) = (seconds / 86_400, (seconds % 86_400) / 3_600, (seconds % 3_600) / 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// Decides the compute changes and reports. Pure: `now` and `capacity` come from the caller.
pub fn decide(
    regions: &Regions,
    spec: &ComputeSpec,
    observed: &Observation,
    capacity: CapacityUse,
    now: Timestamp,
) -> Decision {
    let standby = regions.standby.as_str().to_owned();
    let source = spec.launch_template.source_image_id.as_str();
    let asg = &spec.auto_scaling_group;
    let mut changes = Vec::new();
    let mut status = ComputeStatus::default();
    let mut problems: Vec<ComponentReport> = Vec::new();

    // The AMI copy.
    let copy = observed.copies.first();
    let image_id = match copy {
        None => {
            changes.push(Change::CopyImage {
                region: standby.clone(),
                source_region: regions.primary.to_string(),
                source_image_id: source.to_owned(),
                name: copy_name(spec),
            });
            problems.push(ComponentReport::converging(
                "CopyingImage",
                format!("copying AMI {source} into {standby}"),
            ));
            None
        }
        Some(copy) => {
            status.image_id = Some(copy.image_id.clone());
            status.image_state = Some(copy.state.to_string());
            match &copy.state {
                ImageState::Available => {
                    let created = copy.creation_date.as_deref().and_then(|d| d.parse::<Timestamp>().ok());
                    let age = created.map(|created| (now - created).get_seconds().max(0));
                    status.image_age = age.map(human_age);
                    status.image_created_at = created.map(Time);
                    let max = spec.max_image_age.to_duration().map(|d| d.as_secs() as i64);
                    if let (Some(age), Ok(max)) = (age, max)
                        && age > max
                    {
                        problems.push(ComponentReport::degraded(
                            "ImageStale",
                            format!(
                                "the standby AMI {} (copy of {source}) is {} old, more than maxImageAge {}: build a fresh AMI in {} and set spec.compute.launchTemplate.sourceImageId",
                                copy.image_id,
                                human_age(age),
                                spec.max_image_age.0,
                                regions.primary
                            ),
                        ));
                    }
                    Some(copy.image_id.clone())
                }
                ImageState::Pending => {
                    problems.push(ComponentReport::converging(
                        "CopyingImage",
                        format!("the copy {} of AMI {source} in {standby} is pending", copy.image_id),
                    ));
                    None
                }
                other => {
                    problems.push(ComponentReport::degraded(
                        "ImageCopyFailed",
                        format!(
                            "the copy {} of AMI {source} in {standby} is {other}: deregister it and the operator copies again",
                            copy.image_id
                        ),
                    ));
                    None
                }
            }
        }
    };

    // The launch template, once the copy can be launched.
    let template_ready = match (&observed.template, &image_id) {
        (template, Some(image_id)) => {
            let want = LaunchTemplateData {
                image_id: image_id.clone(),
                instance_type: spec.launch_template.instance_type.clone(),
                key_name: spec.launch_template.key_name.clone(),
                security_group_ids: spec
                    .launch_template
                    .security_group_ids
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                user_data: spec.launch_template.user_data.clone(),
            };
            match template {
                None => changes.push(Change::CreateLaunchTemplate {
                    region: standby.clone(),
                    name: spec.launch_template.name.clone(),
                    data: want,
                }),
                Some(t) => {
                    status.launch_template_version = Some(t.version);
                    let differences = template_differences(&t.data, &want);
                    if !differences.is_empty() {
                        changes.push(Change::NewLaunchTemplateVersion {
                            region: standby.clone(),
                            name: spec.launch_template.name.clone(),
                            data: want,
                            differences,
                        });
                    }
                }
            }
            true
        }
        (Some(t), None) => {
            status.launch_template_version = Some(t.version);
            true
        }
        (None, None) => false,
    };

    // The standby group.
    let settings = |min_size: i32, desired_capacity: i32| GroupSettings {
        name: asg.name.clone(),
        launch_template_name: spec.launch_template.name.clone(),
        min_size,
        desired_capacity,
        max_size: asg.failover.max_size,
        subnet_ids: asg.subnet_ids.iter().map(|s| s.to_string()).collect(),
    };
    let want_tgs: Vec<String> = asg.target_group_arns.iter().map(|t| t.to_string()).collect();
    match &observed.group {
        None if template_ready => {
            changes.push(Change::CreateGroup {
                region: standby.clone(),
                settings: settings(0, 0),
                target_group_arns: want_tgs,
            });
            problems.push(ComponentReport::converging(
                "CreatingAutoScalingGroup",
                format!("creating Auto Scaling Group {} in {standby}", asg.name),
            ));
        }
        None => {}
        Some(group) => {
            status.auto_scaling_group = Some(format!(
                "{}/{}/{}",
                group.min_size, group.desired_capacity, group.max_size
            ));
            status.instances = Some(group.instances as i32);
            let scaled_up = group.min_size != 0 || group.desired_capacity != 0;
            let mut differences = Vec::new();
            if group.max_size != asg.failover.max_size {
                differences.push("max size");
            }
            if sorted(&group.subnet_ids) != sorted(&settings(0, 0).subnet_ids) {
                differences.push("subnets");
            }
            let wanted_template = (spec.launch_template.name.clone(), "$Default".to_owned());
            if group.launch_template.as_ref() != Some(&wanted_template) {
                differences.push("launch template");
            }
            if scaled_up && capacity == CapacityUse::Dormant {
                changes.push(Change::ScaleDownGroup {
                    region: standby.clone(),
                    settings: settings(0, 0),
                    found: (group.min_size, group.desired_capacity, group.max_size),
                });
                problems.push(ComponentReport::converging(
                    "StandbyScaledUp",
                    format!(
                        "Auto Scaling Group {} was scaled to {}/{}/{} outside a drill or failover; returning it to zero",
                        asg.name, group.min_size, group.desired_capacity, group.max_size
                    ),
                ));
            } else if !differences.is_empty() {
                changes.push(Change::UpdateGroup {
                    region: standby.clone(),
                    settings: settings(group.min_size, group.desired_capacity),
                    differences,
                });
            }
            let missing: Vec<String> = want_tgs
                .iter()
                .filter(|t| !group.target_group_arns.contains(t))
                .cloned()
                .collect();
            let extra: Vec<String> = group
                .target_group_arns
                .iter()
                .filter(|t| !want_tgs.contains(t))
                .cloned()
                .collect();
            if !missing.is_empty() {
                changes.push(Change::AttachTargetGroups {
                    region: standby.clone(),
                    group: asg.name.clone(),
                    arns: missing,
                });
            }
            if !extra.is_empty() {
                changes.push(Change::DetachTargetGroups {
                    region: standby.clone(),
                    group: asg.name.clone(),
                    arns: extra,
                });
            }
        }
    }

    let report = match problems.into_iter().max_by_key(|r| r.health) {
        Some(worst) => worst,
        None if !changes.is_empty() => ComponentReport::converging(
            changes[0].reason(),
            changes.iter().map(Change::describe).collect::<Vec<_>>().join("; "),
        ),
        None => ComponentReport::healthy(
            if capacity == CapacityUse::Dormant {
                "Dormant"
            } else {
                "InUse"
            },
            format!(
                "AMI {} ({} old) in launch template {} v{}; Auto Scaling Group {} at {}",
                status.image_id.as_deref().unwrap_or_default(),
                status.image_age.as_deref().unwrap_or("unknown"),
                spec.launch_template.name,
                status.launch_template_version.unwrap_or_default(),
                asg.name,
                status.auto_scaling_group.as_deref().unwrap_or_default(),
            ),
        ),
    };
    Decision {
        changes,
        report,
        status,
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
        Change::UpdateGroup { region, settings, .. } | Change::ScaleDownGroup { region, settings, .. } => {
            autoscaling::update_group(&aws.region(region), settings).await
        }
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

#[cfg(test)]
mod tests;
