//! The states AWS reports, parsed once at the boundary into enums, so that decisions match on
//! variants instead of comparing strings. A state the operator does not act on stays as it was
//! sent (`Other`), so status and messages still show it.

/// Defines a state enum with the wire text of each variant, `Other` for the rest, `From<&str>`
/// (the parse), `as_str` and `Display`.
macro_rules! aws_state {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// Any other state, as AWS sent it.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_state! {
    /// Status of an RDS global cluster, DB cluster or DB instance
    /// (<https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html>).
    RdsStatus {
        Available = "available",
        Creating = "creating",
        Modifying = "modifying",
        FailingOver = "failing-over",
        SwitchingOver = "switching-over",
    }
}

/// An instance not yet described (for `DbInstance::default()`).
impl Default for RdsStatus {
    fn default() -> Self {
        Self::Other("unknown".into())
    }
}

aws_state! {
    /// State of a target in a target group (`DescribeTargetHealth`).
    TargetState {
        Initial = "initial",
        Healthy = "healthy",
        Unhealthy = "unhealthy",
        Draining = "draining",
    }
}

aws_state! {
    /// Status of a DynamoDB table or of one of its replicas.
    TableStatus {
        Active = "ACTIVE",
        Creating = "CREATING",
        Updating = "UPDATING",
        CreationFailed = "CREATION_FAILED",
    }
}

aws_state! {
    /// State of an AMI (`DescribeImages`).
    ImageState {
        Pending = "pending",
        Available = "available",
        Failed = "failed",
    }
}

aws_state! {
    /// State of a CloudWatch alarm.
    AlarmValue {
        Alarm = "ALARM",
        Ok = "OK",
        InsufficientData = "INSUFFICIENT_DATA",
    }
}

aws_state! {
    /// Status of a Route 53 ARC cluster, control panel, routing control or safety rule.
    ArcStatus {
        Pending = "PENDING",
        Deployed = "DEPLOYED",
        PendingDeletion = "PENDING_DELETION",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_states_parse_to_variants_and_others_keep_their_text() {
        assert_eq!(RdsStatus::from("failing-over"), RdsStatus::FailingOver);
        assert_eq!(RdsStatus::from("backing-up"), RdsStatus::Other("backing-up".into()));
        assert_eq!(RdsStatus::from("backing-up").to_string(), "backing-up");
        assert_eq!(TableStatus::from("ACTIVE").as_str(), "ACTIVE");
        assert_eq!(TargetState::Healthy.to_string(), "healthy");
        assert_eq!(AlarmValue::from("ALARM"), AlarmValue::Alarm);
        assert_eq!(ImageState::from("available"), ImageState::Available);
    }
}

aws_state! {
    /// Status of an ElastiCache replication group or cache cluster.
    CacheState {
        Available = "available",
        Creating = "creating",
        Deleting = "deleting",
    }
}
