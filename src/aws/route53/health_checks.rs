//! Health checks: the primary endpoint's and the failover switch's, created and kept by
//! convergence, and what Route 53's checkers report of them to detection.

use aws_sdk_route53::types::{
    AlarmIdentifier, CloudWatchRegion, HealthCheckConfig, HealthCheckType, InsufficientDataHealthStatus, Tag,
    TagResourceType,
};

use super::{error, invalid, normalize_name};
use crate::aws::{AwsError, OWNER_TAG, RegionalClients, found};

/// An endpoint health check's settings, as the spec states them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HealthCheckSettings {
    /// `HTTP`, `HTTPS` or `TCP`.
    pub type_: String,
    pub fqdn: String,
    pub port: i32,
    /// `None` for TCP.
    pub path: Option<String>,
    pub request_interval: i32,
    pub failure_threshold: i32,
}

/// What a health check looks at. The switch of failover routing is made of the last three:
/// Route 53's checkers evaluate them on the data plane, so their health changes without any
/// call to Route 53's control plane.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckSettings {
    /// An HTTP(S) or TCP endpoint.
    Endpoint(HealthCheckSettings),
    /// Healthy while a Route 53 ARC routing control is On.
    RoutingControl { arn: String },
    /// Follows a CloudWatch alarm: healthy while it is OK (and without data), unhealthy in
    /// ALARM; `inverted` the other way round.
    Alarm {
        region: String,
        name: String,
        inverted: bool,
    },
    /// Healthy while all of `children` are (ids, sorted).
    AllOf { children: Vec<String> },
}

impl CheckSettings {
    pub fn endpoint(&self) -> Option<&HealthCheckSettings> {
        match self {
            Self::Endpoint(e) => Some(e),
            _ => None,
        }
    }

    fn from_sdk(c: Option<&HealthCheckConfig>) -> Self {
        let type_ = c.map(|c| c.r#type().clone());
        match type_ {
            Some(HealthCheckType::RecoveryControl) => Self::RoutingControl {
                arn: c.and_then(|c| c.routing_control_arn()).unwrap_or_default().to_owned(),
            },
            Some(HealthCheckType::CloudwatchMetric) => Self::Alarm {
                region: c
                    .and_then(|c| c.alarm_identifier())
                    .map(|a| a.region().as_str().to_owned())
                    .unwrap_or_default(),
                name: c
                    .and_then(|c| c.alarm_identifier())
                    .map(|a| a.name().to_owned())
                    .unwrap_or_default(),
                inverted: c.and_then(|c| c.inverted()).unwrap_or(false),
            },
            Some(HealthCheckType::Calculated) => {
                let mut children: Vec<String> = c.map(|c| c.child_health_checks().to_vec()).unwrap_or_default();
                children.sort();
                Self::AllOf { children }
            }
            _ => Self::Endpoint(HealthCheckSettings {
                type_: type_.map(|t| t.as_str().to_owned()).unwrap_or_default(),
                fqdn: c
                    .and_then(|c| c.fully_qualified_domain_name())
                    .map(normalize_name)
                    .unwrap_or_default(),
                port: c.and_then(|c| c.port()).unwrap_or_default(),
                path: c.and_then(|c| c.resource_path()).map(str::to_owned),
                request_interval: c.and_then(|c| c.request_interval()).unwrap_or(30),
                failure_threshold: c.and_then(|c| c.failure_threshold()).unwrap_or(3),
            }),
        }
    }

    fn to_sdk(&self, region: &str) -> Result<HealthCheckConfig, AwsError> {
        const OP: &str = "CreateHealthCheck";
        let config = match self {
            Self::Endpoint(e) => HealthCheckConfig::builder()
                .r#type(HealthCheckType::from(e.type_.as_str()))
                .fully_qualified_domain_name(&e.fqdn)
                .port(e.port)
                .set_resource_path(e.path.clone())
                .request_interval(e.request_interval)
                .failure_threshold(e.failure_threshold),
            Self::RoutingControl { arn } => HealthCheckConfig::builder()
                .r#type(HealthCheckType::RecoveryControl)
                .routing_control_arn(arn),
            Self::Alarm {
                region: alarm_region,
                name,
                inverted,
            } => HealthCheckConfig::builder()
                .r#type(HealthCheckType::CloudwatchMetric)
                .alarm_identifier(
                    AlarmIdentifier::builder()
                        .region(CloudWatchRegion::from(alarm_region.as_str()))
                        .name(name)
                        .build()
                        .map_err(|e| invalid(OP, region, e))?,
                )
                // No data yet (nothing published): the primary keeps its traffic.
                .insufficient_data_health_status(InsufficientDataHealthStatus::Healthy)
                .inverted(*inverted),
            Self::AllOf { children } => HealthCheckConfig::builder()
                .r#type(HealthCheckType::Calculated)
                .set_child_health_checks(Some(children.clone()))
                .health_threshold(children.len() as i32),
        };
        config.build().map_err(|e| invalid(OP, region, e))
    }
}

/// A health check that exists.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck {
    pub id: String,
    pub caller_reference: String,
    pub settings: CheckSettings,
}

impl From<&aws_sdk_route53::types::HealthCheck> for HealthCheck {
    fn from(h: &aws_sdk_route53::types::HealthCheck) -> Self {
        Self {
            id: h.id().to_owned(),
            caller_reference: h.caller_reference().to_owned(),
            settings: CheckSettings::from_sdk(h.health_check_config()),
        }
    }
}

/// Every health check of the account (paginated, up to 1000 per call).
pub async fn list_health_checks(aws: &RegionalClients) -> Result<Vec<HealthCheck>, AwsError> {
    let mut checks = Vec::new();
    let mut marker = None;
    loop {
        let out = aws
            .route53
            .list_health_checks()
            .set_marker(marker)
            .max_items(1000)
            .send()
            .await
            .map_err(|e| error("ListHealthChecks", &aws.region, e))?;
        checks.extend(out.health_checks().iter().map(HealthCheck::from));
        match out.next_marker() {
            Some(next) if out.is_truncated() => marker = Some(next.to_owned()),
            _ => return Ok(checks),
        }
    }
}

/// Creates a health check. Route 53 is idempotent on `caller_reference`: a retry after a lost
/// response returns the same health check instead of a second one.
pub async fn create_health_check(
    aws: &RegionalClients,
    caller_reference: &str,
    settings: &CheckSettings,
) -> Result<String, AwsError> {
    const OP: &str = "CreateHealthCheck";
    let config = settings.to_sdk(&aws.region)?;
    let out = aws
        .route53
        .create_health_check()
        .caller_reference(caller_reference)
        .health_check_config(config)
        .send()
        .await
        .map_err(|e| error(OP, &aws.region, e))?;
    Ok(out.health_check().map(|h| h.id().to_owned()).unwrap_or_default())
}

/// Tags a health check with its owner and a `Name` (what the console shows).
pub async fn tag_health_check(aws: &RegionalClients, id: &str, name: &str, owner: &str) -> Result<(), AwsError> {
    aws.route53
        .change_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id(id)
        .add_tags(Tag::builder().key("Name").value(name).build())
        .add_tags(Tag::builder().key(OWNER_TAG).value(owner).build())
        .send()
        .await
        .map_err(|e| error("ChangeTagsForResource", &aws.region, e))?;
    Ok(())
}

/// Sets the settings Route 53 can change in place (not type or interval).
pub async fn update_health_check(
    aws: &RegionalClients,
    id: &str,
    settings: &HealthCheckSettings,
) -> Result<(), AwsError> {
    aws.route53
        .update_health_check()
        .health_check_id(id)
        .fully_qualified_domain_name(&settings.fqdn)
        .port(settings.port)
        .set_resource_path(settings.path.clone())
        .failure_threshold(settings.failure_threshold)
        .send()
        .await
        .map_err(|e| error("UpdateHealthCheck", &aws.region, e))?;
    Ok(())
}

/// Deletes a health check; one that is already gone counts as deleted.
pub async fn delete_health_check(aws: &RegionalClients, id: &str) -> Result<(), AwsError> {
    let out = aws
        .route53
        .delete_health_check()
        .health_check_id(id)
        .send()
        .await
        .map_err(|e| error("DeleteHealthCheck", &aws.region, e));
    found(out).map(|_| ())
}

/// What one Route 53 health checker last saw of a health check.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckerObservation {
    /// The checker's region.
    pub region: String,
    /// Route 53's report, e.g. `Success: HTTP Status Code 200, OK` or `Failure: ...`.
    pub status: String,
}

impl CheckerObservation {
    pub fn is_success(&self) -> bool {
        self.status.starts_with("Success")
    }
}

/// Every health checker's latest observation of health check `id` (`GetHealthCheckStatus`).
pub async fn health_check_status(aws: &RegionalClients, id: &str) -> Result<Vec<CheckerObservation>, AwsError> {
    let out = aws
        .route53
        .get_health_check_status()
        .health_check_id(id)
        .send()
        .await
        .map_err(|e| error("GetHealthCheckStatus", &aws.region, e))?;
    Ok(out
        .health_check_observations()
        .iter()
        .map(|o| CheckerObservation {
            region: o.region().map(|r| r.as_str().to_owned()).unwrap_or_default(),
            status: o
                .status_report()
                .and_then(|r| r.status())
                .unwrap_or_default()
                .to_owned(),
        })
        .collect())
}
