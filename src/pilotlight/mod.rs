//! PilotLight convergence. [`controller`] watches PilotLights and runs [`converge`] for each:
//! every component (one folder or file each: [`aurora`], [`rds`], [`cache`], [`s3`], [`dynamodb`], [`compute`],
//! [`traffic`], [`load_balancer`], [`endpoints`]) observes AWS, decides (pure) and applies its changes; then
//! [`status`] computes the new status (pure) and [`converge`] writes it with one server-side
//! apply. [`schedule`] decides when each component is checked again.

pub mod aurora;
pub mod cache;
pub mod compute;
pub mod controller;
mod converge;
pub mod dynamodb;
pub mod endpoints;
pub mod lag;
pub mod load_balancer;
pub mod rds;
mod report;
pub mod s3;
pub mod schedule;
mod standby;
mod status;
pub mod traffic;

use std::{ops::Deref, sync::Arc};

pub use controller::run;
pub use report::{ComponentHealth, ComponentReport};

use crate::{
    aws::{AwsClients, AwsError},
    backoff::Retries,
    context::{Core, Requests},
};

/// What the PilotLight controller owns besides the shared [`Core`].
pub struct PilotLightContext {
    pub core: Arc<Core>,
    /// Whether a FailoverRequest runs: then compute, traffic and endpoints are its business.
    pub requests: Requests,
    /// When each component is next checked.
    pub scheduler: schedule::Scheduler,
    retries: Retries,
}

impl Deref for PilotLightContext {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl PilotLightContext {
    pub fn new(core: Arc<Core>, requests: Requests) -> Self {
        let retries = Retries::new(core.settings.reconcile_backoff());
        Self {
            core,
            requests,
            scheduler: schedule::Scheduler::default(),
            retries,
        }
    }
}

/// A change a component decided on: how people see it in Events, and how it is carried out.
pub trait PlannedChange: std::fmt::Debug + Sync {
    /// Event reason; each kind of change has its own, because Events with the same reason are
    /// folded into one series that keeps only the first note.
    fn reason(&self) -> &'static str;
    fn describe(&self) -> String;
    /// Repairs of what a person or tool changed, and the cost guard, are Warnings: someone
    /// should know.
    fn is_warning(&self) -> bool {
        false
    }
    /// Changes that set the standby group's capacity: applied only under the PilotLight's
    /// admission lock and while no request runs (read from the API server, not a cache), so a
    /// request that has just started is never undercut.
    fn sets_standby_capacity(&self) -> bool {
        false
    }
    /// `owner` (`namespace/name`) tags what the change creates.
    fn apply(&self, aws: &AwsClients, owner: &str) -> impl Future<Output = std::result::Result<(), AwsError>> + Send;
}

/// Which way replication protects the data now: from the region that serves (takes the writes)
/// to the other one. After a failover that is standby -> primary, and every message says so.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Serving<'a> {
    /// The region that serves.
    pub active: &'a str,
    /// The region its data must reach.
    pub other: &'a str,
    /// Whether the active region is the spec's standby (a failover or switchover moved it).
    pub moved: bool,
}

impl<'a> Serving<'a> {
    /// `active` is `status.activeRegion`; unknown or unrecognised means the spec's primary.
    pub fn of(regions: &'a crate::api::Regions, active: Option<&str>) -> Self {
        let (primary, standby) = (regions.primary.as_str(), regions.standby.as_str());
        match active == Some(standby) {
            true => Self {
                active: standby,
                other: primary,
                moved: true,
            },
            false => Self {
                active: primary,
                other: standby,
                moved: false,
            },
        }
    }

    /// How messages name the active region: "us-west-2 (active since the last failover)".
    pub fn active_label(&self) -> String {
        match self.moved {
            true => format!("{} (serving since the last failover)", self.active),
            false => format!("{} (serving)", self.active),
        }
    }
}

/// The seed article's regions, for the components' unit tests.
#[cfg(test)]
fn test_regions() -> crate::api::Regions {
    crate::api::Regions {
        primary: "us-east-1".into(),
        standby: "us-west-2".into(),
    }
}
