//! What RDS convergence creates or repairs, and how.

use crate::{
    aws::{
        AwsClients, AwsError,
        rds::{self, ReadReplicaRequest},
    },
    pilotlight::PlannedChange,
};

#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The writer's read replica in the other region.
    CreateReplica {
        region: String,
        request: ReadReplicaRequest,
    },
    /// The standby replica was resized by hand: back to `replicaInstanceClass` (a larger standby
    /// costs money every hour; sizing up is the failover's job).
    ResizeReplica {
        region: String,
        identifier: String,
        from: String,
        to: String,
    },
}

impl PlannedChange for Change {
    fn reason(&self) -> &'static str {
        match self {
            Self::CreateReplica { .. } => "CreatingReadReplica",
            Self::ResizeReplica { .. } => "ReadReplicaClassRepaired",
        }
    }

    fn is_warning(&self) -> bool {
        matches!(self, Self::ResizeReplica { .. })
    }

    fn describe(&self) -> String {
        match self {
            Self::CreateReplica { region, request } => format!(
                "Creating read replica {} in {region} of {}{}",
                request.identifier,
                request.source_arn,
                request
                    .instance_class
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
            Self::ResizeReplica {
                region,
                identifier,
                from,
                to,
            } => format!(
                "Read replica {identifier} in {region} was {from}; resizing it back to {to} (spec.database.rds.replicaInstanceClass)"
            ),
        }
    }

    fn apply(&self, aws: &AwsClients, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        apply(aws, self, owner)
    }
}

/// Carries out one change.
pub async fn apply(aws: &AwsClients, change: &Change, owner: &str) -> Result<(), AwsError> {
    match change {
        Change::CreateReplica { region, request } => {
            rds::create_read_replica(&aws.region(region), request, owner).await
        }
        Change::ResizeReplica {
            region, identifier, to, ..
        } => rds::modify_instance_class(&aws.region(region), identifier, to).await,
    }
}
