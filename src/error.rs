//! The operator's error type, with a metric label per variant.

use crate::aws::{AwsError, AwsErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API call failed: {0}")]
    Kube(#[from] kube::Error),

    #[error(transparent)]
    Aws(#[from] AwsError),

    #[error(
        "the {0} CustomResourceDefinition is not installed; install it with `pilot-light crd | kubectl apply -f -` (or the Helm chart) and start the operator again"
    )]
    CrdNotInstalled(&'static str),

    #[error("--pilotlight-selector {selector:?} is not a label selector the API server accepts: {message}")]
    BadSelector { selector: String, message: String },

    #[error("{0} has no namespace")]
    MissingNamespace(String),

    #[error("finalizer {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),

    #[error("cannot listen on {addr} for /healthz, /readyz and /metrics: {source}")]
    AdminBind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },

    #[error("the API server did not name the user this client authenticates as")]
    NoUserName,

    #[error("lost the leader Lease {0}; exiting so that no two replicas act at once (the pod restarts as a standby)")]
    LeadershipLost(String),
}

impl Error {
    /// Value of the `error` label on `pilot_light_reconcile_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube_api",
            Self::Aws(e) => match e.kind {
                AwsErrorKind::Throttled => "aws_throttled",
                AwsErrorKind::Unavailable => "aws_unavailable",
                AwsErrorKind::NotFound => "aws_not_found",
                AwsErrorKind::Conflict => "aws_conflict",
                AwsErrorKind::Rejected => "aws_rejected",
            },
            Self::CrdNotInstalled(_) => "crd_not_installed",
            Self::BadSelector { .. } => "bad_selector",
            Self::MissingNamespace(_) => "missing_namespace",
            Self::AdminBind { .. } => "admin_bind",
            Self::LeadershipLost(_) => "leadership_lost",
            Self::NoUserName => "no_user_name",
            Self::Finalizer(_) => "finalizer",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
