//! Route 53 reads shared between PilotLights (see the module above for why).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{HealthCheck, Record, list_health_checks, list_records_page, normalize_name, record_sets};
use crate::aws::{AwsError, RegionalClients};

/// Record sets of one hosted zone as last read, keyed by (name, type): one simple record, or a
/// failover pair.
#[derive(Clone, Debug)]
struct ZoneRecords {
    records: HashMap<(String, String), Vec<Record>>,
    /// The whole zone fitted in the first page: a record not in `records` does not exist.
    complete: bool,
}

impl ZoneRecords {
    /// The zone's first page.
    async fn read(aws: &RegionalClients, zone: &str) -> Result<Self, AwsError> {
        let (page, truncated) = list_records_page(aws, zone, None, ZONE_PAGE).await?;
        let mut records: HashMap<(String, String), Vec<Record>> = HashMap::new();
        for r in page {
            records.entry((r.name.clone(), r.type_.clone())).or_default().push(r);
        }
        Ok(Self {
            records,
            complete: !truncated,
        })
    }

    /// The `wanted` records, looking up one by one those a large zone's first page lacked.
    async fn pick(
        &mut self,
        aws: &RegionalClients,
        zone: &str,
        wanted: &[(String, String)],
    ) -> Result<Vec<Vec<Record>>, AwsError> {
        let mut result = Vec::with_capacity(wanted.len());
        for key in wanted {
            let key = (normalize_name(&key.0), key.1.clone());
            if !self.records.contains_key(&key) && !self.complete {
                let sets = record_sets(aws, zone, &key.0, &key.1).await?;
                self.records.insert(key.clone(), sets);
            }
            result.push(self.records.get(&key).cloned().unwrap_or_default());
        }
        Ok(result)
    }
}

/// A shared read: when it was made, and what it found or how it failed (a failure is shared too,
/// so that during an outage PilotLights do not queue up behind each other's timeouts).
type Shared<T> = Arc<tokio::sync::Mutex<Option<(Instant, Result<T, AwsError>)>>>;

/// Reads of Route 53 shared by every PilotLight's periodic check: the health check listing and
/// each zone's records are read once and reused for the sharing window. Shared reads are
/// single-flight, so many PilotLights checking at once make one call. Checks that follow a
/// change, or of a component that is not healthy, ask for `fresh` data: they read on their own,
/// without waiting for others, and refresh the shared copy.
pub struct Route53View {
    shared_for: Duration,
    health_checks: Shared<Vec<HealthCheck>>,
    zones: Mutex<HashMap<String, Shared<ZoneRecords>>>,
}

/// Records per zone listed in one call before falling back to one lookup per record.
const ZONE_PAGE: i32 = 300;

impl Route53View {
    pub fn new(shared_for: Duration) -> Self {
        Self {
            shared_for,
            health_checks: Arc::default(),
            zones: Mutex::default(),
        }
    }

    /// Every health check of the account.
    pub async fn health_checks(&self, aws: &RegionalClients, fresh: bool) -> Result<Vec<HealthCheck>, AwsError> {
        if fresh {
            let checks = list_health_checks(aws).await?;
            *self.health_checks.lock().await = Some((Instant::now(), Ok(checks.clone())));
            return Ok(checks);
        }
        let mut cached = self.health_checks.lock().await;
        if let Some((at, checks)) = cached.as_ref()
            && at.elapsed() < self.shared_for
        {
            return checks.clone();
        }
        let checks = list_health_checks(aws).await;
        *cached = Some((Instant::now(), checks.clone()));
        checks
    }

    /// Forgets the health check listing (after creating, changing or deleting one).
    pub async fn invalidate_health_checks(&self) {
        *self.health_checks.lock().await = None;
    }

    fn zone_slot(&self, zone: &str) -> Shared<ZoneRecords> {
        self.zones
            .lock()
            .expect("route53 view lock poisoned")
            .entry(zone.to_owned())
            .or_default()
            .clone()
    }

    /// The record sets `wanted` (name, type) of `zone`; empty for one that does not exist.
    pub async fn records(
        &self,
        aws: &RegionalClients,
        zone: &str,
        wanted: &[(String, String)],
        fresh: bool,
    ) -> Result<Vec<Vec<Record>>, AwsError> {
        let slot = self.zone_slot(zone);
        if fresh {
            let mut read = ZoneRecords::read(aws, zone).await?;
            let records = read.pick(aws, zone, wanted).await?;
            *slot.lock().await = Some((Instant::now(), Ok(read)));
            return Ok(records);
        }
        let mut cached = slot.lock().await;
        let (at, mut read) = match cached.take() {
            Some((at, read)) if at.elapsed() < self.shared_for => (at, read),
            _ => (Instant::now(), ZoneRecords::read(aws, zone).await),
        };
        let records = match &mut read {
            Ok(read) => read.pick(aws, zone, wanted).await,
            Err(e) => Err(e.clone()),
        };
        *cached = Some((at, read));
        records
    }

    /// Keeps `sets` as the record sets of their name and type, as written, so the next shared
    /// read does not look stale.
    pub async fn remember(&self, zone: &str, name: &str, type_: &str, sets: Vec<Record>) {
        let slot = self.zone_slot(zone);
        if let Some((_, Ok(read))) = slot.lock().await.as_mut() {
            read.records.insert((name.to_owned(), type_.to_owned()), sets);
        }
    }
}
