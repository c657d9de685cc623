//! What detection tells people: one Event per change of what it concluded.

use kube::{Resource, ResourceExt, runtime::events::EventType};
use std::sync::Mutex;
use tracing::info;

use super::{
    DetectionContext, Memory,
    decide::{Decision, Verdict},
    key,
};
use crate::{api::PilotLight, context::publish_event};

/// and each new decision with its reason.
pub(super) async fn announce(
    ctx: &DetectionContext,
    pl: &PilotLight,
    memory: &Mutex<Memory>,
    verdict: &Verdict,
    decision: &Decision,
    request: Option<&str>,
) {
    let (type_, reason, note) = announcement(pl, verdict, decision, request);
    // Say it again only when the reason, or for a block the reason why, changes.
    let said = format!(
        "{reason}{}",
        if let Decision::Blocked(why) = decision {
            why.as_str()
        } else {
            ""
        }
    );
    {
        let mut memory = memory.lock().expect("memory lock");
        let before = memory.announced.insert(key(pl), said.clone());
        if before.as_deref() == Some(said.as_str()) || (before.is_none() && reason == "PrimaryHealthy") {
            return;
        }
    }
    info!(namespace = ?pl.namespace(), name = %pl.name_any(), reason, %note, "detection");
    publish_event(&ctx.recorder, &pl.object_ref(&()), type_, reason, note, "Detection").await;
}

/// The Event for a verdict and the decision taken on it: its type, reason and note. Pure.
fn announcement(
    pl: &PilotLight,
    verdict: &Verdict,
    decision: &Decision,
    request: Option<&str>,
) -> (EventType, &'static str, String) {
    let evidence = verdict.evidence.join("; ");
    match (verdict.healthy, decision) {
        (Some(true), _) => (
            EventType::Normal,
            "PrimaryHealthy",
            format!("the primary region {} serves: {evidence}", pl.spec.regions.primary),
        ),
        (None, _) => (
            EventType::Warning,
            "PrimaryHealthUnknown",
            format!(
                "no signal from the primary region {}: {evidence}; detection cannot judge it and proposes or does nothing until a signal returns",
                pl.spec.regions.primary
            ),
        ),
        (Some(false), Decision::Notify) => (
            EventType::Warning,
            "PrimaryUnhealthy",
            format!(
                "the primary region {} is failing: {evidence} (spec.detection.mode Notify: nothing else is done; to fail over: kubectl pilotlight failover {} --reason <incident>)",
                pl.spec.regions.primary,
                pl.name_any()
            ),
        ),
        (Some(false), Decision::Hold { remaining }) => (
            EventType::Warning,
            "PrimaryUnhealthy",
            format!(
                "the primary region {} is failing: {evidence}; acting if it stays so for {}s more (spec.detection.unhealthyFor)",
                pl.spec.regions.primary,
                remaining.as_secs()
            ),
        ),
        (Some(false), Decision::Blocked(why)) => (
            EventType::Warning,
            "FailoverNotStarted",
            format!(
                "the primary region {} is failing, but no failover: {why}",
                pl.spec.regions.primary
            ),
        ),
        (Some(false), Decision::Create { automatic: false } | Decision::Created(_))
            if pl
                .spec
                .detection
                .as_ref()
                .is_some_and(|d| d.mode == crate::api::DetectionMode::Propose) =>
        {
            (
                EventType::Warning,
                "FailoverProposed",
                format!(
                    "the primary region {} is failing: {evidence}; FailoverRequest {} waits for approval: kubectl pilotlight approve {}",
                    pl.spec.regions.primary,
                    request.unwrap_or("?"),
                    request.unwrap_or("?")
                ),
            )
        }
        (Some(false), _) => (
            EventType::Warning,
            "AutomaticFailover",
            format!(
                "the primary region {} is failing: {evidence}; FailoverRequest {} fails over to {} (spec.detection.mode Automatic)",
                pl.spec.regions.primary,
                request.unwrap_or("?"),
                pl.spec.regions.standby
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pl(mode: &str) -> PilotLight {
        let mut pl: PilotLight =
            serde_yaml::from_str(include_str!("../../examples/pilotlight-full.yaml")).expect("example parses");
        pl.spec.detection = Some(serde_json::from_value(serde_json::json!({"mode": mode})).unwrap());
        pl
    }

    fn failing() -> Verdict {
        Verdict {
            healthy: Some(false),
            evidence: vec!["3 of 3 checkers fail".into()],
        }
    }

    #[test]
    fn a_proposal_says_how_to_approve_it_and_an_automatic_one_where_it_goes() {
        let (type_, reason, note) = announcement(
            &pl("Propose"),
            &failing(),
            &Decision::Create { automatic: false },
            Some("app-failover-1"),
        );
        assert_eq!((type_, reason), (EventType::Warning, "FailoverProposed"));
        assert!(note.ends_with("kubectl pilotlight approve app-failover-1"), "{note}");
        let (_, reason, note) = announcement(
            &pl("Automatic"),
            &failing(),
            &Decision::Create { automatic: true },
            Some("app-failover-1"),
        );
        assert_eq!(reason, "AutomaticFailover");
        assert!(note.contains("fails over to us-west-2"), "{note}");
    }

    #[test]
    fn a_hold_says_how_long_and_a_block_says_why() {
        let hold = Decision::Hold {
            remaining: std::time::Duration::from_secs(42),
        };
        let (_, reason, note) = announcement(&pl("Notify"), &failing(), &hold, None);
        assert_eq!(reason, "PrimaryUnhealthy");
        assert!(note.contains("for 42s more"), "{note}");
        let blocked = Decision::Blocked("a drill is running".into());
        let (_, reason, note) = announcement(&pl("Automatic"), &failing(), &blocked, None);
        assert_eq!(reason, "FailoverNotStarted");
        assert!(note.ends_with("no failover: a drill is running"), "{note}");
        let healthy = Verdict {
            healthy: Some(true),
            evidence: vec![],
        };
        assert_eq!(
            announcement(&pl("Notify"), &healthy, &Decision::Notify, None).0,
            EventType::Normal
        );
    }
}
