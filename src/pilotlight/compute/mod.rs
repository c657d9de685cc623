//! Dormant compute in the standby region: a copy of the primary's AMI, a launch template built
//! from it, and the standby Auto Scaling Group held at zero (the seed's cost guard) until a drill
//! or failover needs it.

mod change;
mod decide;
pub(crate) mod failover;
pub mod prewarm;

pub use change::{Change, apply, remove};
pub use decide::decide;

use crate::{
    api::{ComputeSpec, ComputeStatus, Regions},
    aws::{
        AwsClients, AwsError,
        autoscaling::{self, Group},
        ec2::{self, AmiCopy, LaunchTemplate},
    },
};

use super::ComponentReport;

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
    /// A prewarm just ended: back to zero, as intended rather than as drift.
    PrewarmEnded,
    /// Prewarmed while people decide: at least this desired capacity.
    Prewarm(i32),
    /// A drill or failover is running, or the standby region serves: sizes are left alone.
    InUse,
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

#[cfg(test)]
mod tests;
