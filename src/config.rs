//! Operator settings: what `pilot-light run` is told on its command line (defaults suit
//! production; tests shorten them), and the field managers the operator writes under.

use std::time::Duration;

use crate::backoff::Backoff;

/// Field manager of convergence's applies (status, endpoints ConfigMap, FailoverRequest
/// journal) and the Events' reporting controller.
pub const MANAGER: &str = "pilot-light";

/// Field managers of the PilotLight status fields other writers own, so that convergence's
/// applies leave them alone: `lastFailover` (and the `activeRegion` it moved), and `lastDrill`.
/// One manager each, because an apply drops the fields its manager applied before and leaves
/// out: with one, a failover erased the last drill.
pub const FAILOVER_MANAGER: &str = "pilot-light-failover";
pub const DRILL_MANAGER: &str = "pilot-light-drill";

/// Field manager of `primaryHealth`, `drillSchedule` and the `PrimaryHealthy` and `DrillPassed`
/// conditions.
pub const DETECTION_MANAGER: &str = "pilot-light-detection";

/// Field manager of Evacuation status and of the FailoverRequests an Evacuation creates.
pub const EVACUATION_MANAGER: &str = "pilot-light-evacuation";

/// Field manager of the FailoverRequest finalizer (a set, so other finalizers stay).
pub const FINALIZER_MANAGER: &str = "pilot-light-finalizer";

/// A replication-lag sample this recent measures the RPO; an older one only bounds it. Aurora
/// publishes the lag once a minute, and GetMetricData dates a sample at its 60 s period's start.
pub const FRESH_LAG_SAMPLE: Duration = Duration::from_secs(150);

/// The parts of a PilotLight that are checked on their own schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    Database,
    Storage,
    Compute,
    Traffic,
    Cache,
    LoadBalancer,
}

/// How often each component is checked while healthy.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckIntervals {
    pub database: Duration,
    pub storage: Duration,
    pub compute: Duration,
    pub traffic: Duration,
    /// The DR cache's prerequisites (three describes) and the DR load balancer (four).
    pub cache: Duration,
    pub load_balancer: Duration,
}

impl Default for CheckIntervals {
    /// Sized for at most 30 AWS calls per PilotLight-hour with every component configured, and
    /// at most 2 Route 53 calls (see the README's cost table).
    fn default() -> Self {
        Self {
            database: Duration::from_secs(15 * 60),
            storage: Duration::from_secs(30 * 60),
            compute: Duration::from_secs(30 * 60),
            traffic: Duration::from_secs(60 * 60),
            cache: Duration::from_secs(60 * 60),
            load_balancer: Duration::from_secs(60 * 60),
        }
    }
}

impl CheckIntervals {
    /// How long one shared read (Route 53 listings, batched describes) serves other
    /// PilotLights' periodic checks: a quarter of the shortest interval, at most 90 s. That is
    /// longer than the spread of aligned check times (a tenth of an interval, at most 30 s) and
    /// far shorter than the intervals that share reads.
    pub fn shared_read_window(&self) -> Duration {
        let shortest = self.database.min(self.storage).min(self.compute).min(self.traffic);
        (shortest / 4).min(Duration::from_secs(90))
    }

    pub fn of(&self, component: Component) -> Duration {
        match component {
            Component::Database => self.database,
            Component::Storage => self.storage,
            Component::Compute => self.compute,
            Component::Traffic => self.traffic,
            Component::Cache => self.cache,
            Component::LoadBalancer => self.load_balancer,
        }
    }
}

/// Requeue and backoff timing, the watched namespace and the detection interval.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Requeue while resources are being created or changed.
    pub converging_interval: Duration,
    /// Requeue when converged but outside a threshold (lag high, stale): long enough not to burn
    /// AWS calls on a metric published once a minute, short enough to notice recovery.
    pub degraded_interval: Duration,
    /// Checks of healthy components: steady-state AWS cost is driven by these.
    pub check_intervals: CheckIntervals,
    /// Requeue when a person must fix the spec or AWS (spec edits trigger a reconcile anyway).
    pub misconfigured_interval: Duration,
    /// First retry delay after a retryable error; doubles per consecutive failure.
    pub backoff_base: Duration,
    /// Cap of the retry delay.
    pub backoff_max: Duration,
    /// Watch only this namespace (all namespaces when `None`).
    pub namespace: Option<String>,
    /// Own only the PilotLights matching this label selector (all when `None`): the shard of
    /// one of several operator Deployments. Their requests are run by this operator alone.
    pub pilotlight_selector: Option<String>,
    /// Run the Evacuation controller. Of the operators of a sharded estate one does: an
    /// Evacuation only creates requests, and each is run by its PilotLight's shard.
    pub handle_evacuations: bool,
    /// How often the primary region's health and the drill schedules are looked at.
    pub detection_interval: Duration,
    /// The DNS server the traffic step asks whether the application's name answers the new
    /// region (`None`: the system's resolver).
    pub dns_server: Option<std::net::SocketAddr>,
    /// Requests a second per AWS service, shared by everything this operator calls.
    pub rate_budgets: crate::aws::budget::BudgetRates,
    /// PilotLights converged at once. A request waits for its budget slot inside the SDK's
    /// attempt timeout (15 s), so the queue must stay shorter than that: a thousand PilotLights
    /// converging together queued minutes of Route 53 calls at 5 a second, every attempt timed
    /// out and none became Ready.
    pub max_concurrent_reconciles: u16,
}

impl Settings {
    /// The retry policy of a reconcile that failed with a retryable error.
    pub fn reconcile_backoff(&self) -> Backoff {
        Backoff {
            base: self.backoff_base,
            max: self.backoff_max,
        }
    }

    /// An operator of every PilotLight runs the Evacuations; a shard does only when told to,
    /// so that several shards do not create the same requests.
    pub fn handles_evacuations_by_default(pilotlight_selector: Option<&str>) -> bool {
        pilotlight_selector.is_none()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            converging_interval: Duration::from_secs(5),
            degraded_interval: Duration::from_secs(60),
            check_intervals: CheckIntervals::default(),
            misconfigured_interval: Duration::from_secs(300),
            detection_interval: Duration::from_secs(30),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(120),
            namespace: None,
            pilotlight_selector: None,
            handle_evacuations: true,
            dns_server: None,
            rate_budgets: Default::default(),
            max_concurrent_reconciles: 16,
        }
    }
}
