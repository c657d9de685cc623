//! What Aurora convergence creates, and how.

use crate::{
    aws::{
        AwsClients, AwsError,
        rds::{self, StandbyClusterRequest},
    },
    pilotlight::PlannedChange,
};

/// Something to create.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    CreateGlobalCluster {
        region: String,
        identifier: String,
        source_cluster_arn: String,
    },
    CreateStandbyCluster {
        region: String,
        request: StandbyClusterRequest,
    },
    CreateStandbyInstance {
        region: String,
        identifier: String,
        cluster_identifier: String,
        instance_class: String,
        engine: String,
    },
    /// The pilot instance was resized by hand while it is the secondary: back to the spec's
    /// class (a larger standby costs money every hour; sizing up is the failover's job).
    ResizeStandbyInstance {
        region: String,
        identifier: String,
        from: String,
        to: String,
    },
}

impl PlannedChange for Change {
    /// Event reason for this change.
    fn reason(&self) -> &'static str {
        match self {
            Self::CreateGlobalCluster { .. } => "CreatingGlobalCluster",
            Self::CreateStandbyCluster { .. } => "CreatingStandbyCluster",
            Self::CreateStandbyInstance { .. } => "CreatingStandbyInstance",
            Self::ResizeStandbyInstance { .. } => "StandbyInstanceClassRepaired",
        }
    }

    fn is_warning(&self) -> bool {
        matches!(self, Self::ResizeStandbyInstance { .. })
    }

    /// Event note for this change.
    fn describe(&self) -> String {
        match self {
            Self::CreateGlobalCluster {
                region,
                identifier,
                source_cluster_arn,
            } => {
                format!("Creating Aurora global cluster {identifier} from {source_cluster_arn} in {region}")
            }
            Self::CreateStandbyCluster { region, request } => format!(
                "Creating standby cluster {} in {region} as a secondary of global cluster {}",
                request.identifier, request.global_cluster_identifier
            ),
            Self::CreateStandbyInstance {
                region,
                identifier,
                cluster_identifier,
                instance_class,
                ..
            } => {
                format!(
                    "Creating standby instance {identifier} ({instance_class}) in cluster {cluster_identifier} in {region}"
                )
            }
            Self::ResizeStandbyInstance {
                region,
                identifier,
                from,
                to,
            } => {
                format!(
                    "Standby instance {identifier} in {region} was {from}; resizing it back to {to} (spec.database.aurora.standbyInstanceClass)"
                )
            }
        }
    }

    fn apply(&self, aws: &AwsClients, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        apply(aws, self, owner)
    }
}

/// Carries out one change.
pub async fn apply(aws: &AwsClients, change: &Change, owner: &str) -> Result<(), AwsError> {
    match change {
        Change::CreateGlobalCluster {
            region,
            identifier,
            source_cluster_arn,
        } => rds::create_global_cluster(&aws.region(region), identifier, source_cluster_arn).await,
        Change::CreateStandbyCluster { region, request } => {
            rds::create_standby_cluster(&aws.region(region), request, owner).await
        }
        Change::CreateStandbyInstance {
            region,
            identifier,
            cluster_identifier,
            instance_class,
            engine,
        } => {
            rds::create_instance(
                &aws.region(region),
                identifier,
                cluster_identifier,
                instance_class,
                engine,
                owner,
            )
            .await
        }
        Change::ResizeStandbyInstance {
            region, identifier, to, ..
        } => rds::modify_instance_class(&aws.region(region), identifier, to).await,
    }
}
