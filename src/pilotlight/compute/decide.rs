//! What compute convergence decides from an observation: the AMI copy, then the launch template
//! once the copy can be launched, then the standby group and the cost guard. Pure: `now` and
//! `capacity` come from the caller.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};

use super::{CapacityUse, Change, Decision, Observation};
use crate::{
    api::{ComputeSpec, ComputeStatus, Regions},
    aws::{
        autoscaling::{Group, GroupSettings},
        ec2::{AmiCopy, LaunchTemplate, LaunchTemplateData},
        states::ImageState,
    },
    pilotlight::{ComponentReport, PlannedChange},
};

/// The decision under way: changes and problems found so far, and the status part.
struct Draft<'a> {
    regions: &'a Regions,
    spec: &'a ComputeSpec,
    standby: String,
    changes: Vec<Change>,
    problems: Vec<ComponentReport>,
    status: ComputeStatus,
}

/// Decides the compute changes and reports.
pub fn decide(
    regions: &Regions,
    spec: &ComputeSpec,
    observed: &Observation,
    capacity: CapacityUse,
    now: Timestamp,
) -> Decision {
    let mut draft = Draft {
        regions,
        spec,
        standby: regions.standby.as_str().to_owned(),
        changes: Vec::new(),
        problems: Vec::new(),
        status: ComputeStatus::default(),
    };
    let image_id = draft.image(observed.copies.first(), now);
    let template_ready = draft.template(observed.template.as_ref(), image_id.as_deref());
    draft.group(observed.group.as_ref(), template_ready, capacity);
    draft.conclude(capacity)
}

impl Draft<'_> {
    /// The AMI copy; returns its id once it can be launched.
    fn image(&mut self, copy: Option<&AmiCopy>, now: Timestamp) -> Option<String> {
        let (spec, standby) = (self.spec, self.standby.clone());
        let source = spec.launch_template.source_image_id.as_str();
        let Some(copy) = copy else {
            self.changes.push(Change::CopyImage {
                region: standby.clone(),
                source_region: self.regions.primary.to_string(),
                source_image_id: source.to_owned(),
                name: copy_name(spec),
            });
            self.problems.push(ComponentReport::converging(
                "CopyingImage",
                format!("copying AMI {source} into {standby}"),
            ));
            return None;
        };
        self.status.image_id = Some(copy.image_id.clone());
        self.status.image_state = Some(copy.state.to_string());
        match &copy.state {
            ImageState::Available => {
                self.image_age(copy, now);
                Some(copy.image_id.clone())
            }
            ImageState::Pending => {
                self.problems.push(ComponentReport::converging(
                    "CopyingImage",
                    format!("the copy {} of AMI {source} in {standby} is pending", copy.image_id),
                ));
                None
            }
            other => {
                self.problems.push(ComponentReport::degraded(
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

    /// The age of an available copy, against `maxImageAge`.
    fn image_age(&mut self, copy: &AmiCopy, now: Timestamp) {
        let spec = self.spec;
        let created = copy.creation_date.as_deref().and_then(|d| d.parse::<Timestamp>().ok());
        let age = created.map(|created| (now - created).get_seconds().max(0));
        self.status.image_age = age.map(human_age);
        self.status.image_created_at = created.map(Time);
        let max = spec.max_image_age.to_duration().map(|d| d.as_secs() as i64);
        if let (Some(age), Ok(max)) = (age, max)
            && age > max
        {
            self.problems.push(ComponentReport::degraded(
                "ImageStale",
                format!(
                    "the standby AMI {} (copy of {}) is {} old, more than maxImageAge {}: build a fresh AMI in {} and set spec.compute.launchTemplate.sourceImageId",
                    copy.image_id,
                    spec.launch_template.source_image_id.as_str(),
                    human_age(age),
                    spec.max_image_age.0,
                    self.regions.primary
                ),
            ));
        }
    }

    /// The launch template, once the copy can be launched; returns whether a template exists
    /// or is being created.
    fn template(&mut self, template: Option<&LaunchTemplate>, image_id: Option<&str>) -> bool {
        let lt = &self.spec.launch_template;
        let Some(image_id) = image_id else {
            if let Some(t) = template {
                self.status.launch_template_version = Some(t.version);
            }
            return template.is_some();
        };
        let want = LaunchTemplateData {
            image_id: image_id.to_owned(),
            instance_type: lt.instance_type.clone(),
            key_name: lt.key_name.clone(),
            security_group_ids: lt.security_group_ids.iter().map(|s| s.to_string()).collect(),
            user_data: lt.user_data.clone(),
        };
        match template {
            None => self.changes.push(Change::CreateLaunchTemplate {
                region: self.standby.clone(),
                name: lt.name.clone(),
                data: want,
            }),
            Some(t) => {
                self.status.launch_template_version = Some(t.version);
                let differences = template_differences(&t.data, &want);
                if !differences.is_empty() {
                    self.changes.push(Change::NewLaunchTemplateVersion {
                        region: self.standby.clone(),
                        name: lt.name.clone(),
                        data: want,
                        differences,
                    });
                }
            }
        }
        true
    }

    fn settings(&self, min_size: i32, desired_capacity: i32) -> GroupSettings {
        let asg = &self.spec.auto_scaling_group;
        GroupSettings {
            name: asg.name.clone(),
            launch_template_name: self.spec.launch_template.name.clone(),
            min_size,
            desired_capacity,
            max_size: asg.failover.max_size,
            subnet_ids: asg.subnet_ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The standby group: created at zero once the template exists, kept at zero while nothing
    /// needs it (the cost guard), its settings and target groups kept as the spec says.
    fn group(&mut self, group: Option<&Group>, template_ready: bool, capacity: CapacityUse) {
        let asg = &self.spec.auto_scaling_group;
        let want_tgs: Vec<String> = asg.target_group_arns.iter().map(|t| t.to_string()).collect();
        let Some(group) = group else {
            if template_ready {
                self.changes.push(Change::CreateGroup {
                    region: self.standby.clone(),
                    settings: self.settings(0, 0),
                    target_group_arns: want_tgs,
                });
                self.problems.push(ComponentReport::converging(
                    "CreatingAutoScalingGroup",
                    format!("creating Auto Scaling Group {} in {}", asg.name, self.standby),
                ));
            }
            return;
        };
        self.status.auto_scaling_group = Some(format!(
            "{}/{}/{}",
            group.min_size, group.desired_capacity, group.max_size
        ));
        self.status.instances = Some(group.instances as i32);
        let scaled_up = group.min_size != 0 || group.desired_capacity != 0;
        let differences = self.group_differences(group);
        let found = (group.min_size, group.desired_capacity, group.max_size);
        if scaled_up && capacity == CapacityUse::Dormant {
            self.changes.push(Change::ScaleDownGroup {
                region: self.standby.clone(),
                settings: self.settings(0, 0),
                found,
            });
            self.problems.push(ComponentReport::converging(
                "StandbyScaledUp",
                format!(
                    "Auto Scaling Group {} was scaled to {}/{}/{} outside a drill or failover; returning it to zero",
                    asg.name, group.min_size, group.desired_capacity, group.max_size
                ),
            ));
        } else if scaled_up && capacity == CapacityUse::PrewarmEnded {
            // The end of a prewarm is intended: a Normal change, and compute stays healthy.
            self.changes.push(Change::EndPrewarm {
                region: self.standby.clone(),
                settings: self.settings(0, 0),
                found,
            });
        } else if let CapacityUse::Prewarm(want) = capacity
            && (group.min_size < want || group.desired_capacity < want)
        {
            self.changes.push(Change::Prewarm {
                region: self.standby.clone(),
                settings: self.settings(want, want),
                found,
            });
        } else if !differences.is_empty() {
            self.changes.push(Change::UpdateGroup {
                region: self.standby.clone(),
                settings: self.settings(group.min_size, group.desired_capacity),
                differences,
            });
        }
        self.target_groups(group, &want_tgs);
    }

    fn group_differences(&self, group: &Group) -> Vec<&'static str> {
        let mut differences = Vec::new();
        if group.max_size != self.spec.auto_scaling_group.failover.max_size {
            differences.push("max size");
        }
        if sorted(&group.subnet_ids) != sorted(&self.settings(0, 0).subnet_ids) {
            differences.push("subnets");
        }
        let wanted_template = (self.spec.launch_template.name.clone(), "$Default".to_owned());
        if group.launch_template.as_ref() != Some(&wanted_template) {
            differences.push("launch template");
        }
        differences
    }

    /// Target groups in the spec are attached; others are detached.
    fn target_groups(&mut self, group: &Group, want: &[String]) {
        let name = &self.spec.auto_scaling_group.name;
        let missing: Vec<String> = want
            .iter()
            .filter(|t| !group.target_group_arns.contains(t))
            .cloned()
            .collect();
        let extra: Vec<String> = group
            .target_group_arns
            .iter()
            .filter(|t| !want.contains(t))
            .cloned()
            .collect();
        if !missing.is_empty() {
            self.changes.push(Change::AttachTargetGroups {
                region: self.standby.clone(),
                group: name.clone(),
                arns: missing,
            });
        }
        if !extra.is_empty() {
            self.changes.push(Change::DetachTargetGroups {
                region: self.standby.clone(),
                group: name.clone(),
                arns: extra,
            });
        }
    }

    /// The worst problem, else the changes under way, else healthy.
    fn conclude(self, capacity: CapacityUse) -> Decision {
        let (spec, status) = (self.spec, &self.status);
        let prewarming = self
            .changes
            .iter()
            .find(|c| matches!(c, Change::Prewarm { .. } | Change::EndPrewarm { .. }));
        let report = match self.problems.into_iter().max_by_key(|r| r.health) {
            Some(worst) => worst,
            // Intended capacity: compute stays Ready while the group scales for a prewarm, so
            // a prewarmed standby never refuses the failover it is warming for.
            None if let Some(change) = prewarming => ComponentReport::healthy(change.reason(), change.describe()),
            None if !self.changes.is_empty() => ComponentReport::converging(
                self.changes[0].reason(),
                self.changes.iter().map(Change::describe).collect::<Vec<_>>().join("; "),
            ),
            None => {
                let (reason, role) = match capacity {
                    CapacityUse::Dormant | CapacityUse::PrewarmEnded => ("Dormant", "held at zero until a failover"),
                    CapacityUse::Prewarm(_) => ("Prewarmed", "prewarmed while people decide (status.prewarm)"),
                    CapacityUse::InUse => ("InUse", "in use: the standby serves or a request runs"),
                };
                ComponentReport::healthy(
                    reason,
                    format!(
                        "Auto Scaling Group {} in {} at {} (min/desired/max), {role}; it launches AMI {} ({} old) from launch template {} v{}",
                        spec.auto_scaling_group.name,
                        self.standby,
                        status.auto_scaling_group.as_deref().unwrap_or_default(),
                        status.image_id.as_deref().unwrap_or_default(),
                        status.image_age.as_deref().unwrap_or("unknown"),
                        spec.launch_template.name,
                        status.launch_template_version.unwrap_or_default(),
                    ),
                )
            }
        };
        Decision {
            changes: self.changes,
            report,
            status: self.status,
        }
    }
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
