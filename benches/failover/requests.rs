//! FailoverRequests through the operator, with the AWS calls each made.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use pilot_light::api::{FailoverRequestStatus, RequestPhase};
use serde_json::json;

use crate::{
    FINAL,
    call_log::CallLog,
    common::{failover::*, *},
    observer::Observer,
    stats::epoch_now,
};

pub struct RequestRun {
    pub name: String,
    pub t0: Instant,
    /// Epoch seconds of the create call.
    pub created_wall: f64,
    /// Create call until the client saw `Succeeded`.
    pub elapsed: Duration,
    /// The engine's AWS calls for this request, in log order.
    pub calls: Vec<Call>,
    /// The operator's other calls in the window (convergence).
    pub excluded: Vec<Call>,
    pub status_writes: usize,
    pub status: FailoverRequestStatus,
    pub creation: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

pub async fn run_request(
    s: &Scenario,
    obs: &mut Observer,
    log: &mut CallLog,
    app: &str,
    name: &str,
    type_: &str,
    timeout: Duration,
) -> RequestRun {
    log.advance().await;
    let created_wall = epoch_now();
    let t0 = Instant::now();
    create_request(s, name, type_, json!({})).await;
    let (at, r) = obs
        .wait(name, timeout, |r| phase(r).is_some_and(|p| FINAL.contains(&p)))
        .await;
    let done_wall = created_wall + at.duration_since(t0).as_secs_f64();
    let status = r.status.clone().unwrap_or_default();
    assert_eq!(
        status.phase,
        Some(RequestPhase::Succeeded),
        "{type_} {name} did not succeed: {status:#?}"
    );
    let window: Vec<Call> = log
        .advance()
        .await
        .into_iter()
        .filter(|c| c.made_by(app) && c.time >= created_wall && c.time <= done_wall)
        .collect();
    // The failover executor's clients have an app name of their own: the rest is convergence.
    let (calls, excluded): (Vec<_>, Vec<_>) = window.into_iter().partition(|c| c.by_failover_executor_of(app));
    for c in &calls {
        assert!(
            c.outcome == "ok" || (c.action == "GetBucketReplication" && c.outcome == "error"),
            "{name}: the operator's call {} {} {} ended {}: disturbed by someone's fault rules?",
            c.region,
            c.service,
            c.action,
            c.outcome
        );
    }
    RequestRun {
        name: name.to_owned(),
        t0,
        created_wall,
        elapsed: at.duration_since(t0),
        calls,
        excluded,
        status_writes: obs.status_writes(name, at),
        status,
        creation: r.metadata.creation_timestamp.clone(),
    }
}

/// Waits until the PilotLight knows the outcome of `request` (active region `active`) and is
/// Ready, then until its convergence has gone quiet.
pub async fn settle(s: &Scenario, log: &mut CallLog, app: &str, active: &str, request: &str) {
    eventually(Duration::from_secs(120), || async {
        let st = pilotlight(s).await.status?;
        let ready = st.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
        (ready && st.active_region.as_deref() == Some(active) && st.last_failover.as_ref()?.request_name == request)
            .then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("PilotLight not Ready and active in {active} after {request} within 120 s"));
    if !log
        .quiet(app, Duration::from_millis(750), Duration::from_secs(30))
        .await
    {
        println!("  (the operator kept calling AWS for 30 s after {request})");
    }
}

/// A call-log summary: "N calls: action x count, ...".
pub fn summary(calls: &[Call]) -> String {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for c in calls {
        *by.entry(format!("{} {}", c.region, c.action)).or_default() += 1;
    }
    format!(
        "{} calls: {}",
        calls.len(),
        by.iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
