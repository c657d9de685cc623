//! A reported RTO or RPO with its basis: a number is never shown without how it was arrived at,
//! and one that is not known says why instead of being left out.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How an [`Estimate`] was arrived at.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EstimateBasis {
    /// RTO: from the journal's timestamps. RPO: a fresh replication-lag sample.
    Measured,
    /// RPO: no fresh sample, so the last one plus the time since it was taken (an upper bound).
    Bound,
    /// RPO: nothing can be lost (a switchover moves the writer only once replication caught up).
    Zero,
    /// Nothing is known; `reason` says why.
    Unknown,
}

/// An RTO or RPO in seconds, with its basis.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Estimate {
    pub basis: EstimateBasis,
    /// Absent only when the basis is `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Age of the replication-lag sample an RPO is based on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_age_seconds: Option<f64>,
    /// How it was measured, or why it is not known.
    pub reason: String,
}

impl Estimate {
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self {
            basis: EstimateBasis::Unknown,
            seconds: None,
            sample_age_seconds: None,
            reason: reason.into(),
        }
    }

    /// `0.8s (Measured)`, `up to 312.0s (Bound)`, `unknown: REASON`: for people.
    pub fn describe(&self) -> String {
        match (self.basis, self.seconds) {
            (EstimateBasis::Unknown, _) | (_, None) => format!("unknown: {}", self.reason),
            (EstimateBasis::Bound, Some(s)) => format!("at most {s:.1}s (Bound)"),
            (basis, Some(s)) => format!("{s:.1}s ({basis:?})"),
        }
    }
}
