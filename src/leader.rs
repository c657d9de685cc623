//! Lease-based leader election: of several replicas only the one holding the Lease runs the
//! controllers (two replicas acting on the same PilotLight would race each other's AWS calls);
//! another takes over within the lease duration after the leader stops renewing.
//!
//! Expiry is judged the way client-go does it: by how long this replica has seen the Lease
//! unchanged on its own clock, never by comparing the holder's timestamps with ours, so clock
//! skew between nodes cannot make two replicas leaders at once.

use std::time::{Duration, Instant};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{Api, Client, api::PostParams};
use tracing::{info, warn};

/// Where the Lease lives and how it is held.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This replica's name in the Lease (the pod name in a cluster).
    pub identity: String,
    /// How long a Lease not renewed stays someone's.
    pub duration: Duration,
    /// How often the leader renews.
    pub renew_every: Duration,
    /// How often a follower looks whether the Lease is free.
    pub retry_every: Duration,
}

impl LeaseSettings {
    /// A Lease for `identity`: 10 s, renewed every 3 s, looked at by standbys every second, so a
    /// standby takes over at most about 12 s after the leader's last renewal, which is before
    /// its death: within 15 s of the leader dying.
    pub fn new(namespace: String, name: String, identity: String) -> Self {
        Self {
            namespace,
            name,
            identity,
            duration: Duration::from_secs(10),
            renew_every: Duration::from_secs(3),
            retry_every: Duration::from_secs(1),
        }
    }
}

/// The Lease as last seen: who held it, and since when (on our clock) it has not changed.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    holder: Option<String>,
    renew_time: Option<Timestamp>,
    transitions: Option<i32>,
}

impl From<&LeaseSpec> for Seen {
    fn from(spec: &LeaseSpec) -> Self {
        Self {
            holder: spec.holder_identity.clone().filter(|h| !h.is_empty()),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            transitions: spec.lease_transitions,
        }
    }
}

pub struct Leadership {
    api: Api<Lease>,
    settings: LeaseSettings,
    observed: Option<(Seen, Instant)>,
}

impl Leadership {
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: None,
        }
    }

    pub fn identity(&self) -> &str {
        &self.settings.identity
    }

    /// Waits until this replica holds the Lease (true) or `stop` completes first (false).
    pub async fn acquire(&mut self, stop: impl Future<Output = ()>) -> bool {
        tokio::pin!(stop);
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    info!(identity = %self.settings.identity, lease = %self.settings.name, "became leader");
                    return true;
                }
                Ok(false) => {}
                Err(e) => warn!(error = %e, "leader election: cannot read or write the Lease"),
            }
            tokio::select! {
                _ = &mut stop => return false,
                _ = tokio::time::sleep(self.settings.retry_every) => {}
            }
        }
    }

    /// Renews the Lease until renewal fails for longer than the renew deadline (two thirds of
    /// the lease duration, so we stop before anyone else may start) or someone else holds it;
    /// then returns. The caller must stop acting as leader at once.
    pub async fn hold(&mut self) {
        let deadline = renew_deadline(self.settings.duration);
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.settings.renew_every.min(deadline / 2)).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => {
                    warn!("leader election: another replica holds the Lease");
                    return;
                }
                Err(e) => warn!(error = %e, "leader election: renewal failed"),
            }
            if must_step_down(renewed.elapsed(), self.settings.duration) {
                warn!(since = ?renewed.elapsed(), "leader election: could not renew the Lease in time");
                return;
            }
        }
    }

    /// Gives the Lease up on a clean shutdown, so a standby takes over at once instead of
    /// waiting for it to expire.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(&self.settings.identity) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => info!("released the leader Lease"),
            Err(e) => warn!(error = %e, "could not release the leader Lease; it expires by itself"),
        }
    }

    /// One round: creates, renews or takes over the Lease. True when this replica holds it.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let me = self.settings.identity.clone();
        let duration_seconds = i32::try_from(self.settings.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(duration_seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let seen = Seen::from(&*spec);
        let unchanged_for = match &self.observed {
            Some((before, since)) if *before == seen => since.elapsed(),
            _ => {
                self.observed = Some((seen.clone(), Instant::now()));
                Duration::ZERO
            }
        };
        let lease_duration = spec
            .lease_duration_seconds
            .map_or(self.settings.duration, |s| Duration::from_secs(s.max(1) as u64));
        match decide(&me, seen.holder.as_deref(), unchanged_for, lease_duration) {
            LeaseDecision::Wait => return Ok(false),
            LeaseDecision::Renew => {}
            LeaseDecision::TakeOver => {
                spec.acquire_time = Some(MicroTime(now));
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                info!(previous = ?seen.holder, "taking over the leader Lease");
            }
        }
        spec.holder_identity = Some(me);
        spec.lease_duration_seconds = Some(duration_seconds);
        spec.renew_time = Some(MicroTime(now));
        // The resourceVersion makes this a compare-and-swap: of two replicas racing for an
        // expired Lease, one gets a conflict.
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                self.observed = Some((Seen::from(&written.spec.unwrap_or_default()), Instant::now()));
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// What to do with a Lease found held by `holder` and unchanged for `unchanged_for` on this
/// replica's own clock (never the holder's timestamps: clock skew must not make two leaders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseDecision {
    /// This replica holds it: renew.
    Renew,
    /// Free, or its holder stopped renewing for longer than the lease lasts: take it over.
    TakeOver,
    /// Someone else holds it and renews it.
    Wait,
}

pub fn decide(me: &str, holder: Option<&str>, unchanged_for: Duration, lease_duration: Duration) -> LeaseDecision {
    match holder {
        Some(h) if h == me => LeaseDecision::Renew,
        None => LeaseDecision::TakeOver,
        Some(_) if unchanged_for > lease_duration => LeaseDecision::TakeOver,
        Some(_) => LeaseDecision::Wait,
    }
}

/// Whether a leader that last renewed `since_renewal` ago must stop acting: past two thirds of
/// the lease duration, so it stops before any standby may take over.
pub fn must_step_down(since_renewal: Duration, lease_duration: Duration) -> bool {
    since_renewal >= renew_deadline(lease_duration)
}

fn renew_deadline(lease_duration: Duration) -> Duration {
    lease_duration * 2 / 3
}

/// The Lease of the operators watching `namespace` (all when `None`) and the PilotLights matching
/// `pilotlight_selector`: `pilot-light[-<namespace>][-<8 hex digits of the selector's SHA-256>]`.
/// Shards hold Leases of their own, so each has its leader; the chart's `pilot-light.leaseName`
/// computes the same name for its RBAC.
pub fn lease_name(namespace: Option<&str>, pilotlight_selector: Option<&str>) -> String {
    use sha2::Digest;
    let mut name = String::from("pilot-light");
    if let Some(ns) = namespace {
        name.push('-');
        name.push_str(ns);
    }
    if let Some(selector) = pilotlight_selector {
        let digest = sha2::Sha256::digest(selector.as_bytes());
        name.push('-');
        for byte in &digest[..4] {
            name.push_str(&format!("{byte:02x}"));
        }
    }
    name
}

/// This replica's identity: the pod name when running in a cluster, else host and process id.
pub fn default_identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(10);

    #[test]
    fn a_held_lease_is_renewed_by_its_holder_and_left_to_it_by_others() {
        assert_eq!(
            decide("a", Some("a"), Duration::from_secs(60), LEASE),
            LeaseDecision::Renew
        );
        assert_eq!(
            decide("b", Some("a"), Duration::from_secs(3), LEASE),
            LeaseDecision::Wait
        );
        assert_eq!(
            decide("b", Some("a"), LEASE, LEASE),
            LeaseDecision::Wait,
            "not before it has expired"
        );
    }

    #[test]
    fn a_free_or_expired_lease_is_taken_over() {
        assert_eq!(decide("b", None, Duration::ZERO, LEASE), LeaseDecision::TakeOver);
        assert_eq!(
            decide("b", Some("a"), LEASE + Duration::from_millis(1), LEASE),
            LeaseDecision::TakeOver
        );
    }

    #[test]
    fn each_shard_has_a_lease_of_its_own() {
        assert_eq!(lease_name(None, None), "pilot-light");
        assert_eq!(lease_name(Some("apps"), None), "pilot-light-apps");
        // `printf 'shard=a' | sha256sum`: the chart's helper computes the same.
        assert_eq!(lease_name(None, Some("shard=a")), "pilot-light-3d8dfb26");
        assert_eq!(lease_name(Some("apps"), Some("shard=a")), "pilot-light-apps-3d8dfb26");
        assert_ne!(lease_name(None, Some("shard=b")), lease_name(None, Some("shard=a")));
    }

    #[test]
    fn a_leader_steps_down_before_a_standby_may_take_over() {
        assert!(!must_step_down(Duration::from_secs(6), LEASE));
        assert!(must_step_down(Duration::from_millis(6_667), LEASE));
        assert!(renew_deadline(LEASE) < LEASE);
    }
}
