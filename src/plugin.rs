//! `kubectl pilotlight`: what the plugin builds and prints, kept pure so it is unit-tested; the
//! binary (`src/bin/kubectl-pilotlight.rs`) only talks to the API server.

use std::fmt::Write;

use kube::ResourceExt;

use crate::api::{
    CREATED_BY, Estimate, EstimateBasis, Evacuation, FailoverOutcome, FailoverRequest, PilotLight, StepStatus,
};

/// An RTO or RPO in a table cell: `7.2s`, `<=312.0s` (a bound), `unknown`, or `-` before it is set
/// (`seconds` for requests written before estimates had a basis).
fn estimate(e: Option<&Estimate>, seconds: Option<f64>) -> String {
    match (e.map(|e| (e.basis, e.seconds)), seconds) {
        (Some((EstimateBasis::Unknown, _)), _) => "unknown".to_owned(),
        (Some((EstimateBasis::Bound, Some(s))), _) => format!("<={s:.1}s"),
        (Some((_, Some(s))), _) | (None, Some(s)) => format!("{s:.1}s"),
        _ => "-".to_owned(),
    }
}

fn outcome(o: Option<&FailoverOutcome>) -> String {
    o.map_or("none yet".to_owned(), |o| {
        format!(
            "{} {:?} {:?} (RTO {}, RPO {})",
            o.request_name,
            o.type_,
            o.phase,
            estimate(o.recovery_time.as_ref(), o.recovery_time_seconds),
            estimate(o.data_loss.as_ref(), o.data_loss_window_seconds)
        )
    })
}

/// Lines aligned in columns (the first row is the header).
fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

/// `kubectl pilotlight status`: one line per PilotLight.
pub fn status_table(pilotlights: &[PilotLight]) -> String {
    let mut rows = vec![
        [
            "NAME",
            "ACTIVE",
            "PHASE",
            "READY",
            "PRIMARY",
            "LAG",
            "IMAGE AGE",
            "LAST FAILOVER",
            "LAST DRILL",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for pl in pilotlights {
        let status = pl.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map_or("Unknown".to_owned(), |c| c.status.clone());
        rows.push(vec![
            pl.name_any(),
            status.active_region.clone().unwrap_or_else(|| "-".into()),
            status.phase.map_or("-".to_owned(), |p| format!("{p:?}")),
            ready,
            match status.primary_health.as_ref().and_then(|h| h.healthy) {
                Some(true) => "Healthy".to_owned(),
                Some(false) => "Unhealthy".to_owned(),
                None if pl.spec.detection.is_none() => "unwatched".to_owned(),
                None => "unknown".to_owned(),
            },
            status
                .database
                .as_ref()
                .and_then(|d| d.replication_lag.clone())
                .unwrap_or_else(|| "-".into()),
            status
                .compute
                .as_ref()
                .and_then(|c| c.image_age.clone())
                .unwrap_or_else(|| "-".into()),
            outcome(status.last_failover.as_ref()),
            outcome(status.last_drill.as_ref()),
        ]);
    }
    table(&rows)
}

/// `kubectl pilotlight status NAME`: the conditions, and the request that runs or waits for
/// approval, if any.
pub fn status_detail(pl: &PilotLight, open: Option<&FailoverRequest>) -> String {
    let mut out = status_table(std::slice::from_ref(pl));
    let status = pl.status.clone().unwrap_or_default();
    let mut rows = vec![["CONDITION", "STATUS", "REASON", "MESSAGE"].map(str::to_owned).to_vec()];
    for c in &status.conditions {
        rows.push(vec![
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.message.clone(),
        ]);
    }
    let _ = write!(out, "\n{}", table(&rows));
    let mut history: Vec<&crate::api::HistoryEntry> =
        status.readiness_history.iter().chain(&status.drill_history).collect();
    if !history.is_empty() {
        history.sort_by_key(|e| e.time.0);
        let mut rows = vec![["WHEN", "EVENT", "DETAIL"].map(str::to_owned).to_vec()];
        for e in history {
            rows.push(vec![
                e.time.0.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                e.event.clone(),
                e.message.clone().unwrap_or_default(),
            ]);
        }
        let _ = write!(out, "\nRecent readiness and drills:\n{}", table(&rows));
    }
    match open {
        Some(r) if r.phase() == Some(crate::api::RequestPhase::AwaitingApproval) => {
            let creator = r.annotations().get(crate::api::CREATED_BY).cloned();
            let _ = write!(
                out,
                "\nAwaiting approval: {} ({:?}, created by {}); another person approves it with: kubectl pilotlight approve {}\n",
                r.name_any(),
                r.spec.type_,
                creator.as_deref().unwrap_or("unknown"),
                r.name_any()
            );
        }
        Some(r) => {
            let _ = write!(out, "\nRunning: {}\n{}", r.name_any(), steps_table(r));
        }
        None => {}
    }
    out
}

/// A request's steps: state, timing, attempts and message.
pub fn steps_table(request: &FailoverRequest) -> String {
    let steps: &[StepStatus] = request.status.as_ref().map_or(&[], |s| &s.steps);
    let mut rows = vec![
        ["STEP", "STATE", "AFTER", "STARTED", "FINISHED", "TRIES", "MESSAGE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for s in steps {
        let time = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
            t.as_ref()
                .map_or("-".to_owned(), |t| t.0.strftime("%H:%M:%S").to_string())
        };
        rows.push(vec![
            s.name.clone(),
            format!("{:?}", s.state),
            if s.depends_on.is_empty() {
                "-".into()
            } else {
                s.depends_on.join(",")
            },
            time(&s.started_at),
            time(&s.finished_at),
            s.attempts.to_string(),
            s.message.clone().unwrap_or_default(),
        ]);
    }
    let mut out = table(&rows);
    if let Some(status) = &request.status {
        // Messages start with what happened ("Failed at ...", "Awaiting approval: ..."); the
        // phase is only printed when there is no message yet.
        let _ = writeln!(
            out,
            "{}",
            status
                .message
                .clone()
                .unwrap_or_else(|| status.phase.map_or("Pending".to_owned(), |p| format!("{p:?}")))
        );
        for (what, e) in [("RTO", &status.recovery_time), ("RPO", &status.data_loss)] {
            if let Some(e) = e {
                let _ = writeln!(out, "{what} {}; {}", e.describe(), e.reason);
            }
        }
    }
    out
}

/// `kubectl pilotlight history`: the requests, oldest first.
pub fn history_table(requests: &[FailoverRequest]) -> String {
    let mut sorted: Vec<&FailoverRequest> = requests.iter().collect();
    sorted.sort_by_key(|r| (r.metadata.creation_timestamp.clone(), r.name_any()));
    let mut rows = vec![
        [
            "NAME",
            "PILOTLIGHT",
            "TYPE",
            "PHASE",
            "RTO",
            "RPO",
            "CREATED BY",
            "APPROVED BY",
            "REASON",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for r in sorted {
        let status = r.status.clone().unwrap_or_default();
        rows.push(vec![
            r.name_any(),
            r.spec.pilot_light_ref.name.clone(),
            format!("{:?}{}", r.spec.type_, if r.spec.dry_run { " (dry run)" } else { "" }),
            status.phase.map_or("Pending".to_owned(), |p| format!("{p:?}")),
            estimate(status.recovery_time.as_ref(), status.recovery_time_seconds),
            estimate(status.data_loss.as_ref(), status.data_loss_window_seconds),
            r.annotations().get(CREATED_BY).cloned().unwrap_or_else(|| "-".into()),
            r.spec.approved_by.clone().unwrap_or_else(|| "-".into()),
            r.spec.reason.clone(),
        ]);
    }
    table(&rows)
}

/// `--selector team=shop,tier=0` as a label selector (equality terms only, as `kubectl -l`
/// without set operators).
pub fn label_selector(terms: &str) -> Result<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector, String> {
    let mut labels = std::collections::BTreeMap::new();
    for term in terms.split(',').filter(|t| !t.is_empty()) {
        let (key, value) = term
            .split_once('=')
            .ok_or_else(|| format!("selector term '{term}' must be KEY=VALUE"))?;
        labels.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    })
}

/// `kubectl pilotlight evacuation NAME`: where an evacuation is, then one line per member.
pub fn evacuation_summary(e: &Evacuation) -> String {
    let status = e.status.clone().unwrap_or_default();
    let counts = status.counts.clone().unwrap_or_default();
    let seconds = |s: Option<f64>| s.map_or("-".to_owned(), |s| format!("{s:.1}s"));
    let time = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.as_ref().map_or("-".to_owned(), |t| t.0.to_string())
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {:?}{}: {}",
        e.name_any(),
        e.spec.type_,
        if e.spec.dry_run { " (dry run)" } else { "" },
        status.message.as_deref().unwrap_or("not seen by the operator yet")
    );
    let _ = writeln!(
        out,
        "members {}: {} succeeded, {} running, {} waiting, {} failed, {} skipped, {} cancelled",
        counts.total, counts.succeeded, counts.running, counts.waiting, counts.failed, counts.skipped, counts.cancelled
    );
    let _ = writeln!(
        out,
        "RTO p50 {} p95 {}; started {}, first done {}, last done {}",
        seconds(status.recovery_time_p50_seconds),
        seconds(status.recovery_time_p95_seconds),
        time(&status.started_at),
        time(&status.first_completed_at),
        time(&status.last_completed_at)
    );
    for failure in &status.failures {
        let _ = writeln!(out, "FAILED {}: {}", failure.pilot_light, failure.reason);
    }
    let mut rows = vec![
        ["PILOTLIGHT", "TIER", "PHASE", "RTO", "REQUEST", "MESSAGE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for m in &status.members {
        rows.push(vec![
            m.key().to_string(),
            if m.tier == crate::api::LAST_TIER {
                "-".to_owned()
            } else {
                m.tier.to_string()
            },
            format!("{:?}", m.phase),
            seconds(m.recovery_time_seconds),
            m.request.clone().unwrap_or_else(|| "-".into()),
            m.readiness.clone().or_else(|| m.message.clone()).unwrap_or_default(),
        ]);
    }
    out + &table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FailoverType, RequestPhase};

    #[test]
    fn requests_record_their_creator_and_get_a_generated_name() {
        let r = FailoverRequest::against("checkout", FailoverType::Switchover, "CHG-1", "alice");
        assert_eq!(r.metadata.generate_name.as_deref(), Some("checkout-switchover-"));
        assert_eq!(r.annotations().get(CREATED_BY).map(String::as_str), Some("alice"));
        assert_eq!(r.spec.approved_by, None);
        assert!(!r.is_final());
    }

    #[test]
    fn status_in_detail_shows_the_trend_oldest_first() {
        use crate::api::{HistoryEntry, PilotLightStatus, PrimaryHealthStatus};
        let entry = |second: i64, event: &str| HistoryEntry {
            time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::from_second(second).unwrap(),
            ),
            event: event.into(),
            message: None,
        };
        let mut pl: PilotLight = serde_json::from_value(serde_json::json!({
            "apiVersion": "pilotlight.dev/v1alpha1", "kind": "PilotLight",
            "metadata": {"name": "app"},
            "spec": {"regions": {"primary": "us-east-1", "standby": "us-west-2"}}
        }))
        .unwrap();
        pl.status = Some(PilotLightStatus {
            readiness_history: vec![entry(100, "NotReady"), entry(300, "Ready")],
            drill_history: vec![entry(200, "DrillFailed")],
            primary_health: Some(PrimaryHealthStatus {
                healthy: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        });
        let out = status_detail(&pl, None);
        let trend: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with("Recent readiness"))
            .skip(2)
            .filter_map(|l| l.split_whitespace().nth(2))
            .collect();
        assert_eq!(trend, ["NotReady", "DrillFailed", "Ready"], "{out}");
        assert!(out.lines().nth(1).unwrap().contains("Unhealthy"), "{out}");
    }

    #[test]
    fn status_in_detail_names_a_request_awaiting_approval_and_how_to_approve_it() {
        let pl: PilotLight = serde_json::from_value(serde_json::json!({
            "apiVersion": "pilotlight.dev/v1alpha1", "kind": "PilotLight",
            "metadata": {"name": "app"},
            "spec": {"regions": {"primary": "us-east-1", "standby": "us-west-2"}}
        }))
        .unwrap();
        let mut r = FailoverRequest::against("app", FailoverType::Failover, "incident", "alice");
        r.metadata.name = Some("app-detected-1".into());
        r.status = Some(crate::api::FailoverRequestStatus {
            phase: Some(RequestPhase::AwaitingApproval),
            ..Default::default()
        });
        let out = status_detail(&pl, Some(&r));
        assert!(
            out.contains(
                "Awaiting approval: app-detected-1 (Failover, created by alice); another person approves it with: kubectl pilotlight approve app-detected-1"
            ),
            "{out}"
        );
    }

    #[test]
    fn tables_align_columns() {
        let t = table(&[vec!["A".into(), "LONG".into()], vec!["long".into(), "b".into()]]);
        assert_eq!(t, "A     LONG\nlong  b\n");
    }

    #[test]
    fn history_lists_oldest_first_with_outcome() {
        let mut a = FailoverRequest::against("app", FailoverType::Drill, "drill", "alice");
        a.metadata.name = Some("b-second".into());
        a.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(2_000).unwrap(),
        ));
        let mut b = a.clone();
        b.metadata.name = Some("a-first".into());
        b.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_000).unwrap(),
        ));
        b.status = Some(crate::api::FailoverRequestStatus {
            phase: Some(RequestPhase::Succeeded),
            recovery_time_seconds: Some(12.34),
            ..Default::default()
        });
        let out = history_table(&[a, b]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[1].starts_with("a-first") && lines[1].contains("Succeeded") && lines[1].contains("12.3s"));
        assert!(lines[2].starts_with("b-second") && lines[2].contains("Pending"));
    }

    #[test]
    fn estimates_show_their_basis_in_a_cell() {
        let e = |basis, seconds| Estimate {
            basis,
            seconds,
            sample_age_seconds: None,
            reason: "why".into(),
        };
        assert_eq!(estimate(Some(&e(EstimateBasis::Measured, Some(0.84))), None), "0.8s");
        assert_eq!(estimate(Some(&e(EstimateBasis::Bound, Some(312.0))), None), "<=312.0s");
        assert_eq!(estimate(Some(&e(EstimateBasis::Zero, Some(0.0))), None), "0.0s");
        assert_eq!(estimate(Some(&Estimate::unknown("no sample")), Some(3.0)), "unknown");
        assert_eq!(estimate(None, Some(3.0)), "3.0s");
        assert_eq!(estimate(None, None), "-");
    }

    #[test]
    fn a_selector_is_equality_terms() {
        let selector = label_selector("team=shop,pilotlight.dev/tier=0").unwrap();
        let labels = selector.match_labels.unwrap();
        assert_eq!(labels.get("team").map(String::as_str), Some("shop"));
        assert_eq!(labels.get("pilotlight.dev/tier").map(String::as_str), Some("0"));
        assert_eq!(
            label_selector("team").unwrap_err(),
            "selector term 'team' must be KEY=VALUE"
        );
    }

    #[test]
    fn the_evacuation_summary_shows_counts_percentiles_failures_and_members() {
        let e: Evacuation = serde_json::from_value(serde_json::json!({
            "apiVersion": "pilotlight.dev/v1alpha1", "kind": "Evacuation",
            "metadata": {"name": "east"},
            "spec": {"type": "Failover", "reason": "INC-1", "pilotLights": [{"namespace": "a", "name": "web"}]},
            "status": {
                "phase": "Failed", "message": "Failed: 1 succeeded, 1 failed",
                "counts": {"total": 2, "waiting": 0, "running": 0, "succeeded": 1, "failed": 1, "skipped": 0, "cancelled": 0},
                "recoveryTimeP50Seconds": 12.5, "recoveryTimeP95Seconds": 12.5,
                "failures": [{"pilotLight": "a/api", "reason": "PromoteDatabase failed"}],
                "members": [
                    {"namespace": "a", "name": "web", "tier": 0, "phase": "Succeeded", "recoveryTimeSeconds": 12.5, "request": "east-web"},
                    {"namespace": "a", "name": "api", "tier": 100, "phase": "Failed", "message": "PromoteDatabase failed", "request": "east-api"}
                ]
            }
        }))
        .unwrap();
        let out = evacuation_summary(&e);
        assert!(
            out.starts_with("east Failover: Failed: 1 succeeded, 1 failed\n"),
            "{out}"
        );
        assert!(
            out.contains("members 2: 1 succeeded, 0 running, 0 waiting, 1 failed"),
            "{out}"
        );
        assert!(out.contains("RTO p50 12.5s p95 12.5s"), "{out}");
        assert!(out.contains("FAILED a/api: PromoteDatabase failed"), "{out}");
        assert!(out.contains("a/web       0     Succeeded  12.5s  east-web"), "{out}");
        assert!(
            out.contains("a/api       -     Failed     -      east-api  PromoteDatabase failed"),
            "{out}"
        );
    }
}
