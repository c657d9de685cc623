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
    /// The resource already exists or is in another state than the call expected (e.g. a create
    /// that took effect although its response was lost, or a cluster still being modified):
    /// look again soon.
    Conflict,
    /// AWS refused the request as invalid (bad reference, wrong state, access denied): a
    /// person has to change something; retrying soon will not help.
    Rejected,
}

/// A failed AWS call, with enough context for a status message.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
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
                let kind = kind_of(code.as_deref(), is_server_error(&err));
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

    /// A request the SDK refused to build (a required field missing): a bug or bad spec value.
    /// A call to `region` that got no answer (for the components' unit tests).
    #[cfg(test)]
    pub fn unreachable(service: &'static str, operation: &'static str, region: &str) -> Self {
        Self {
            service,
            operation,
            region: region.into(),
            kind: AwsErrorKind::Unavailable,
            code: None,
            message: "endpoint unreachable".into(),
        }
    }

    pub fn invalid_request(service: &'static str, operation: &'static str, region: &str, message: String) -> Self {
        Self {
            service,
            operation,
            region: region.to_owned(),
            kind: AwsErrorKind::Rejected,
            code: None,
            message,
        }
    }

    /// The call got no answer at all (unreachable endpoint, dropped connection, timeout): only
    /// service errors carry a code, so an `Unavailable` without one never reached the service.
    /// What a region outage looks like, unlike a 5xx, which is the service answering.
    pub fn got_no_answer(&self) -> bool {
        self.kind == AwsErrorKind::Unavailable && self.code.is_none()
    }

    /// Worth retrying soon with backoff (as opposed to waiting for a person).
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, AwsErrorKind::Throttled | AwsErrorKind::Unavailable)
    }
}

/// The kind of a service error, from its code and whether the HTTP status was 5xx.
fn kind_of(code: Option<&str>, server_error: bool) -> AwsErrorKind {
    match code {
        Some(c) if THROTTLING_CODES.contains(&c) => AwsErrorKind::Throttled,
        // RDS `...NotFoundFault`, DynamoDB `ResourceNotFoundException`, S3 `NoSuchBucket` and
        // `ReplicationConfigurationNotFoundError`.
        Some(c)
            if c.ends_with("NotFound")
                || c.ends_with("NotFoundFault")
                || c.ends_with("NotFoundException")
                || c.ends_with("NotFoundError")
                || c.starts_with("NoSuch") =>
        {
            AwsErrorKind::NotFound
        }
        Some(c) if c.contains("AlreadyExists") || (c.starts_with("Invalid") && c.ends_with("StateFault")) => {
            AwsErrorKind::Conflict
        }
        // ARC's cluster endpoints answer EndpointTemporarilyUnavailableException (HTTP 400) when
        // the client should try another of the five.
        Some(
            "InternalFailure"
            | "InternalError"
            | "ServiceUnavailable"
            | "InternalServerError"
            | "InternalServerException"
            | "EndpointTemporarilyUnavailableException",
        ) => AwsErrorKind::Unavailable,
        _ if server_error => AwsErrorKind::Unavailable,
        _ => AwsErrorKind::Rejected,
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

/// `Ok(None)` for a NotFound error: "it does not exist" is an answer, not a failure.
pub fn found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == AwsErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_service_error_codes() {
        assert_eq!(kind_of(Some("Throttling"), false), AwsErrorKind::Throttled);
        assert_eq!(kind_of(Some("SlowDown"), true), AwsErrorKind::Throttled);
        assert_eq!(kind_of(Some("DBClusterNotFoundFault"), false), AwsErrorKind::NotFound);
        assert_eq!(
            kind_of(Some("ResourceNotFoundException"), false),
            AwsErrorKind::NotFound
        );
        assert_eq!(kind_of(Some("NoSuchBucket"), false), AwsErrorKind::NotFound);
        assert_eq!(
            kind_of(Some("ReplicationConfigurationNotFoundError"), false),
            AwsErrorKind::NotFound
        );
        assert_eq!(
            kind_of(Some("GlobalClusterNotFoundFault"), false),
            AwsErrorKind::NotFound
        );
        assert_eq!(
            kind_of(Some("DBClusterAlreadyExistsFault"), false),
            AwsErrorKind::Conflict
        );
        assert_eq!(
            kind_of(Some("InvalidDBClusterStateFault"), false),
            AwsErrorKind::Conflict
        );
        assert_eq!(
            kind_of(Some("InvalidGlobalClusterStateFault"), false),
            AwsErrorKind::Conflict
        );
        assert_eq!(kind_of(Some("InternalFailure"), true), AwsErrorKind::Unavailable);
        assert_eq!(kind_of(Some("SomethingNew"), true), AwsErrorKind::Unavailable);
        assert_eq!(
            kind_of(Some("InvalidParameterCombination"), false),
            AwsErrorKind::Rejected
        );
        assert_eq!(kind_of(Some("AccessDenied"), false), AwsErrorKind::Rejected);
        assert_eq!(kind_of(None, false), AwsErrorKind::Rejected);
    }

    #[test]
    fn only_an_unavailable_error_without_a_service_answer_got_no_answer() {
        let error = |kind, code: Option<&str>| AwsError {
            service: "s3",
            operation: "PutBucketReplication",
            region: "us-east-1".into(),
            kind,
            code: code.map(str::to_owned),
            message: "x".into(),
        };
        assert!(error(AwsErrorKind::Unavailable, None).got_no_answer());
        assert!(!error(AwsErrorKind::Unavailable, Some("InternalError")).got_no_answer());
        assert!(!error(AwsErrorKind::Throttled, None).got_no_answer());
    }
}
