//! Conditions in the Kubernetes convention: `lastTransitionTime` moves only when `status` changes.

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

/// Condition types reported on a PilotLight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    /// Everything configured is converged and within its thresholds.
    Ready,
    /// The Aurora global database replicates into the standby region within `maxReplicationLag`.
    DatabaseReplicating,
    /// Every S3 bucket pair is versioned and replicates with the rule the spec describes.
    StorageReplicating,
    /// The AMI copy, launch template and standby Auto Scaling Group are in place, the copy is
    /// younger than `maxImageAge`, and the group is dormant (unless a drill or failover runs).
    ComputeReady,
    /// The health check exists and the application and database records point at the active
    /// region.
    TrafficReady,
    /// What creating the DR cache needs exists in the standby region (subnet group, security
    /// groups, node type offered); after a failover, the cache itself is available.
    CacheReady,
    /// The DR load balancer, its listener and target group exist in the standby region, the
    /// listener forwards to the target group and the standby Auto Scaling Group is attached.
    LoadBalancerReady,
    /// The primary region's health check and alarms say it serves (`spec.detection`). Not part
    /// of `Ready`, which is about the standby.
    PrimaryHealthy,
    /// The last drill succeeded and is younger than `spec.drills.maxAge`.
    DrillPassed,
    /// The standby compute is scaled up ahead of an approval (`spec.failover.prewarm`). Not part
    /// of `Ready`: a prewarmed standby is intended, not drift.
    Prewarmed,
}

impl ConditionType {
    /// The per-component conditions (all but `Ready`).
    pub const COMPONENTS: [ConditionType; 6] = [
        Self::DatabaseReplicating,
        Self::StorageReplicating,
        Self::ComputeReady,
        Self::TrafficReady,
        Self::CacheReady,
        Self::LoadBalancerReady,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::DatabaseReplicating => "DatabaseReplicating",
            Self::StorageReplicating => "StorageReplicating",
            Self::ComputeReady => "ComputeReady",
            Self::TrafficReady => "TrafficReady",
            Self::CacheReady => "CacheReady",
            Self::LoadBalancerReady => "LoadBalancerReady",
            Self::PrimaryHealthy => "PrimaryHealthy",
            Self::DrillPassed => "DrillPassed",
            Self::Prewarmed => "Prewarmed",
        }
    }
}

impl AsRef<str> for ConditionType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

/// Sets or replaces the condition `type_` in `conditions`, keeping the previous
/// `lastTransitionTime` when the status did not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: ConditionType,
    status: ConditionStatus,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Timestamp,
) {
    let previous = conditions.iter().position(|c| c.type_ == type_.as_str());
    let last_transition_time = match previous.map(|i| &conditions[i]) {
        Some(old) if old.status == status.as_str() => old.last_transition_time.clone(),
        _ => Time(now),
    };
    let condition = Condition {
        type_: type_.as_str().to_owned(),
        status: status.as_str().to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation,
        last_transition_time,
    };
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            ConditionType::Ready,
            ConditionStatus::False,
            "Creating",
            "a",
            Some(1),
            ts(10),
        );
        set_condition(
            &mut conditions,
            ConditionType::Ready,
            ConditionStatus::False,
            "Waiting",
            "b",
            Some(2),
            ts(20),
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, Time(ts(10)));
        assert_eq!(conditions[0].reason, "Waiting");
        assert_eq!(conditions[0].observed_generation, Some(2));
        set_condition(
            &mut conditions,
            ConditionType::Ready,
            ConditionStatus::True,
            "Ready",
            "c",
            Some(2),
            ts(30),
        );
        assert_eq!(conditions[0].last_transition_time, Time(ts(30)));
        set_condition(
            &mut conditions,
            ConditionType::DatabaseReplicating,
            ConditionStatus::True,
            "Replicating",
            "d",
            Some(2),
            ts(40),
        );
        assert_eq!(conditions.len(), 2);
    }
}
