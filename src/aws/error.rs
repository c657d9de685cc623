//! AWS errors, classified by what the operator should do about them.

use std::fmt;

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// What kind of failure an AWS call had, which decides retry versus "tell a person".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// Rate limited even after the SDK's retries: back off and try again.
    Throttled,
    /// Network error, timeout or 5xx: the region or service may be down; back off and retry.
    Unavailable,
    /// The named resource does not exist.
    NotFound,
    /// AWS refused the request as invalid (bad reference, wrong state, access denied): a
    /// person has to change something; retrying soon will not help.
    Rejected,
}

/// A failed AWS call, with enough context for a status message.
#[derive(Clone, Debug, thiserror::Error)]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub region: String,
    pub kind: AwsErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} in {} failed", self.service, self.operation, self.region)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.message)
    }
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "PriorRequestNotComplete",
    "RequestThrottled",
    "RequestThrottledException",
];

impl AwsError {
    /// Classifies an SDK error from `operation` on `service` in `region`.
    pub fn from_sdk<E>(
        service: &'static str,
        operation: &'static str,
        region: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (kind, code, message) = match &err {
            SdkError::ServiceError(service_err) => {
                let e = service_err.err();
                let code = e.code().map(str::to_owned);
                let message = e.message().unwrap_or("no message").to_owned();
                let kind = match code.as_deref() {
                    Some(c) if THROTTLING_CODES.contains(&c) => AwsErrorKind::Throttled,
                    Some(c)
                        if c.ends_with("NotFound")
                            || c.ends_with("NotFoundFault")
                            || c.ends_with("NotFoundException") =>
                    {
                        AwsErrorKind::NotFound
                    }
                    Some("InternalFailure" | "InternalError" | "ServiceUnavailable" | "InternalServerError") => {
                        AwsErrorKind::Unavailable
                    }
                    _ if is_server_error(&err) => AwsErrorKind::Unavailable,
                    _ => AwsErrorKind::Rejected,
                };
                (kind, code, message)
            }
            SdkError::TimeoutError(_) => (AwsErrorKind::Unavailable, None, "timed out".to_owned()),
            SdkError::DispatchFailure(_) => (
                AwsErrorKind::Unavailable,
                None,
                format!("endpoint unreachable: {}", error_chain(&err)),
            ),
            _ => (AwsErrorKind::Unavailable, None, error_chain(&err)),
        };
        Self {
            service,
            operation,
            region: region.to_owned(),
            kind,
            code,
            message,
        }
    }

    /// Worth retrying soon with backoff (as opposed to waiting for a person).
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, AwsErrorKind::Throttled | AwsErrorKind::Unavailable)
    }
}

fn is_server_error<E>(err: &SdkError<E, HttpResponse>) -> bool {
    err.raw_response().is_some_and(|r| r.status().is_server_error())
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
