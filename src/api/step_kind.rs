//! The steps a FailoverRequest can run: the names `status.steps` shows.

/// Every kind of step. The name in `status.steps` is the variant's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    /// A Drill with `spec.prewarm`: the standby group to the prewarm capacity and healthy
    /// before the measured part starts (what a prewarm does while people decide).
    PrewarmCompute,
    /// The target region's cluster becomes the global database's writer.
    PromoteDatabase,
    /// The target region's Auto Scaling Group goes to the failover sizes.
    ScaleUpCompute,
    /// Its target groups report enough healthy targets.
    WaitTargetsHealthy,
    /// The application record points at the target region (done at INSYNC).
    SwitchTraffic,
    /// The endpoints ConfigMap names the new writer (Kubernetes API only).
    UpdateEndpoints,
    /// The writer CNAME (`writerEndpointRecord`) points at the new writer: Route 53's control
    /// plane, so it waits for it (`Deferred`) instead of failing the request.
    UpdateWriterRecord,
    /// The promoted cluster gets its full instance class and readers.
    ScaleUpDatabase,
    /// The old region's Auto Scaling Group goes to zero.
    FenceOldPrimary,
    /// S3 replication from the new active buckets back to the old ones.
    ReverseReplication,
    /// An HTTP GET against the standby endpoint (drills).
    SmokeTest,
    /// The standby group back to zero (after a drill or a failback).
    ScaleDownCompute,
    /// The DR cache created in the standby region (Failover, Switchover, Drill), in parallel
    /// with compute. Unless `spec.cache.elastiCache.required`, a failure skips it (a Warning).
    CreateCache,
    /// The DR cache deleted (after a drill; after a failback unless `retainAfterFailback`).
    DeleteCache,
}

impl StepKind {
    pub const ALL: [StepKind; 14] = [
        Self::PrewarmCompute,
        Self::PromoteDatabase,
        Self::ScaleUpCompute,
        Self::WaitTargetsHealthy,
        Self::SwitchTraffic,
        Self::UpdateEndpoints,
        Self::UpdateWriterRecord,
        Self::ScaleUpDatabase,
        Self::FenceOldPrimary,
        Self::ReverseReplication,
        Self::SmokeTest,
        Self::ScaleDownCompute,
        Self::CreateCache,
        Self::DeleteCache,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::PrewarmCompute => "PrewarmCompute",
            Self::PromoteDatabase => "PromoteDatabase",
            Self::ScaleUpCompute => "ScaleUpCompute",
            Self::WaitTargetsHealthy => "WaitTargetsHealthy",
            Self::SwitchTraffic => "SwitchTraffic",
            Self::UpdateEndpoints => "UpdateEndpoints",
            Self::UpdateWriterRecord => "UpdateWriterRecord",
            Self::ScaleUpDatabase => "ScaleUpDatabase",
            Self::FenceOldPrimary => "FenceOldPrimary",
            Self::ReverseReplication => "ReverseReplication",
            Self::SmokeTest => "SmokeTest",
            Self::ScaleDownCompute => "ScaleDownCompute",
            Self::CreateCache => "CreateCache",
            Self::DeleteCache => "DeleteCache",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Steps in the old region (or, for the writer CNAME, Route 53's control plane in
    /// us-east-1): when it does not answer they wait for it (`Deferred`) instead of failing the
    /// request, because the new region already serves.
    pub fn deferrable(self) -> bool {
        matches!(
            self,
            Self::FenceOldPrimary | Self::ReverseReplication | Self::UpdateWriterRecord
        )
    }

    /// A Drill's steps that run even after a failure or a cancel: a drill must not leave compute
    /// up (see [`crate::failover::plan::startable`]).
    pub fn always_runs(self) -> bool {
        matches!(self, Self::ScaleDownCompute | Self::DeleteCache)
    }
}
