//! The traffic step of a failover: point a record at the new region and wait until Route 53
//! reports the change INSYNC.

use std::time::Duration;

use crate::step::{Done, Next, Poll, StepContext, StepError, refused};
use crate::{
    aws::{
        GLOBAL_REGION,
        route53::{self, Record},
    },
    pilotlight::traffic,
};

pub(crate) const INSYNC_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub(crate) async fn switch_traffic(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let r = &sc
        .pl
        .spec
        .traffic
        .as_ref()
        .ok_or_else(|| refused("spec.traffic is not set".into()))?
        .route53;
    let want = traffic::app_record(r, sc.direction.to_standby(&sc.pl.spec));
    point_record(sc, r.hosted_zone_id.as_str(), want).await
}

/// Points `want.name` at `want`'s value and waits until Route 53 reports the change INSYNC. A
/// change journaled by an earlier attempt is waited for, not repeated.
pub(crate) async fn point_record(sc: &StepContext<'_>, zone: &str, want: Record) -> Result<Done, StepError> {
    let global = sc.clients(GLOBAL_REGION);
    let target = want.target();
    let change = match sc.journal.operation(sc.kind) {
        Some(change) => change,
        None => {
            let have = route53::record(&global, zone, &want.name, &want.type_).await?;
            if let Next::Done(m) = record_change(have.as_ref(), &want) {
                return Ok(Done::Succeeded(m));
            }
            sc.before_call(format!("ChangeResourceRecordSets {} -> {target}", want.name))
                .await?;
            let change = route53::upsert_record(
                &global,
                zone,
                &want,
                &format!(
                    "pilot-light {:?} {}",
                    sc.type_,
                    sc.pl.metadata.name.as_deref().unwrap_or_default()
                ),
            )
            .await?;
            // Already propagated: the step's Succeeded write is the one after the call.
            if route53::change_in_sync(&global, &change).await? {
                return Ok(Done::Succeeded(format!(
                    "{} -> {target} (change {change} INSYNC)",
                    want.name
                )));
            }
            sc.after_call(
                format!("{} -> {target} submitted as {change}; waiting for INSYNC", want.name),
                Some(change.clone()),
            )
            .await?;
            change
        }
    };
    // Route 53 allows five requests per second per account, for every PilotLight together.
    let poll = Poll::new(INSYNC_TIMEOUT).at_most_every(Duration::from_secs(1));
    while !route53::change_in_sync(&global, &change).await? {
        poll.next(|| format!("Route 53 change {change} is still PENDING"))
            .await?;
    }
    Ok(Done::Succeeded(format!(
        "{} -> {target} (change {change} INSYNC)",
        want.name
    )))
}

/// Whether record `want.name` must be changed: done when it already has `want`'s value. (A
/// change an earlier attempt journaled is waited for before this is asked.)
pub(crate) fn record_change(have: Option<&Record>, want: &Record) -> Next<()> {
    if have == Some(want) {
        Next::Done(format!("{} already points to {}", want.name, want.target()))
    } else {
        Next::Call(())
    }
}

#[cfg(test)]
mod tests;
