//! The changes convergence makes to traffic, and how each is carried out.

use crate::{
    aws::{
        AwsClients, AwsError, Caller, arc,
        cloudwatch::{self, MetricSwitch},
        route53::{self, CheckSettings, HealthCheckSettings, Record, RecordAction},
    },
    pilotlight::PlannedChange,
};

use super::{new_caller_reference, records::describe_sets, switch};

#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    CreateHealthCheck {
        settings: CheckSettings,
        name: String,
    },
    UpdateHealthCheck {
        id: String,
        settings: HealthCheckSettings,
    },
    /// One of this PilotLight's health checks that the spec no longer describes.
    DeleteHealthCheck {
        id: String,
    },
    /// One name's record sets made `after` in one atomic batch.
    ChangeRecords {
        zone: String,
        batch: Vec<(RecordAction, Record)>,
        after: Vec<Record>,
        /// Where it pointed before, for the Event.
        was: Option<String>,
    },
    /// The `metricAlarm` switch's alarm, in the standby region.
    PutSwitchAlarm {
        region: String,
        switch: MetricSwitch,
    },
    CreateCluster {
        name: String,
    },
    CreateControlPanel {
        cluster_arn: String,
        name: String,
    },
    /// One region's routing control (named after the region).
    CreateRoutingControl {
        cluster_arn: String,
        panel_arn: String,
        region: String,
    },
    /// At least one region's routing control stays On, whoever flips them.
    CreateSafetyRule {
        panel_arn: String,
        controls: Vec<String>,
    },
    /// New routing controls are Off: the active region's is turned On (both Off answers the
    /// primary anyway, but the safety rule wants one On).
    TurnOnRoutingControl {
        cluster: arc::Cluster,
        arn: String,
        region: String,
    },
}

impl PlannedChange for Change {
    fn reason(&self) -> &'static str {
        match self {
            Self::CreateHealthCheck { .. } => "CreatingHealthCheck",
            Self::UpdateHealthCheck { .. } => "UpdatingHealthCheck",
            Self::DeleteHealthCheck { .. } => "DeletingHealthCheck",
            Self::ChangeRecords { after, .. } if after.iter().any(|r| r.failover.is_some()) => {
                "PointingFailoverRecords"
            }
            Self::ChangeRecords { after, .. } if after.iter().all(|r| r.type_ == "CNAME") => "PointingCname",
            Self::ChangeRecords { .. } => "PointingRecord",
            Self::PutSwitchAlarm { .. } => "CreatingSwitchAlarm",
            Self::CreateCluster { .. } => "CreatingArcCluster",
            Self::CreateControlPanel { .. } => "CreatingControlPanel",
            Self::CreateRoutingControl { .. } => "CreatingRoutingControl",
            Self::CreateSafetyRule { .. } => "CreatingSafetyRule",
            Self::TurnOnRoutingControl { .. } => "TurningOnRoutingControl",
        }
    }

    /// A record that pointed elsewhere was changed by someone: worth a Warning.
    fn is_warning(&self) -> bool {
        matches!(self, Self::ChangeRecords { was: Some(_), batch, .. }
            if batch.iter().all(|(a, _)| *a == RecordAction::Upsert))
    }

    fn describe(&self) -> String {
        match self {
            Self::CreateHealthCheck { settings, .. } => describe_check(settings),
            Self::UpdateHealthCheck { id, .. } => format!("Updating Route 53 health check {id} to match the spec"),
            Self::DeleteHealthCheck { id } => {
                format!("Deleting Route 53 health check {id}: the spec no longer describes it")
            }
            Self::ChangeRecords { after, was, .. } => {
                let (name, type_) = after
                    .first()
                    .map(|r| (r.name.as_str(), r.type_.as_str()))
                    .unwrap_or_default();
                let to = describe_sets(after).unwrap_or_default();
                match was {
                    Some(was) => format!("{type_} {name} pointed at {was}; pointing it back at {to}"),
                    None => format!("Creating {type_} record {name} pointing at {to}"),
                }
            }
            Self::PutSwitchAlarm { region, switch } => format!(
                "Creating the traffic switch alarm {} in {region} on metric {}/{}",
                switch.alarm_name,
                cloudwatch::SWITCH_NAMESPACE,
                cloudwatch::SWITCH_METRIC
            ),
            Self::CreateCluster { name } => format!("Creating Route 53 ARC cluster {name}"),
            Self::CreateControlPanel { name, .. } => format!("Creating ARC control panel {name}"),
            Self::CreateRoutingControl { region, .. } => format!("Creating ARC routing control {region}"),
            Self::CreateSafetyRule { .. } => {
                format!(
                    "Creating ARC safety rule {}: at least one region On",
                    switch::SAFETY_RULE
                )
            }
            Self::TurnOnRoutingControl { region, .. } => {
                format!("Turning on routing control {region}: the active region serves")
            }
        }
    }

    fn apply(&self, aws: &AwsClients, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        apply(aws, self, owner)
    }
}

fn describe_check(settings: &CheckSettings) -> String {
    match settings {
        CheckSettings::Endpoint(s) => format!(
            "Creating Route 53 health check on {}://{}:{}{} every {}s, unhealthy after {} failures",
            s.type_.to_ascii_lowercase(),
            s.fqdn,
            s.port,
            s.path.as_deref().unwrap_or_default(),
            s.request_interval,
            s.failure_threshold
        ),
        CheckSettings::RoutingControl { arn } => format!("Creating Route 53 health check on routing control {arn}"),
        CheckSettings::Alarm { region, name, inverted } => format!(
            "Creating Route 53 health check on alarm {name} in {region} ({})",
            if *inverted {
                "healthy in ALARM: the standby's"
            } else {
                "healthy unless in ALARM: the primary's"
            }
        ),
        CheckSettings::AllOf { children } => {
            format!(
                "Creating Route 53 calculated health check: all of {}",
                children.join(", ")
            )
        }
    }
}

pub async fn apply(aws: &AwsClients, change: &Change, owner: &str) -> Result<(), AwsError> {
    let global = aws.global();
    let view = &aws.route53_view;
    match change {
        Change::CreateHealthCheck { settings, name } => {
            let id = route53::create_health_check(&global, &new_caller_reference(owner), settings).await?;
            view.invalidate_health_checks().await;
            return route53::tag_health_check(&global, &id, name, owner).await;
        }
        Change::UpdateHealthCheck { id, settings } => route53::update_health_check(&global, id, settings).await?,
        Change::DeleteHealthCheck { id } => route53::delete_health_check(&global, id).await?,
        Change::ChangeRecords { zone, batch, after, .. } => {
            route53::change_records(&global, zone, batch, &format!("pilot-light {owner}")).await?;
            if let Some((_, r)) = batch.first() {
                view.remember(zone, &r.name, &r.type_, after.clone()).await;
            }
            return Ok(());
        }
        Change::PutSwitchAlarm { region, switch } => {
            return cloudwatch::put_switch_alarm(&aws.region(region), switch).await;
        }
        Change::TurnOnRoutingControl { cluster, arn, .. } => {
            let endpoints = aws.routing_control_endpoints(Caller::Convergence, &cluster.endpoints);
            arc::update_states(&endpoints, &[(arn.clone(), arc::ControlState::On)]).await?;
            return Ok(());
        }
        arc_change => return apply_arc(aws, arc_change, owner).await,
    }
    view.invalidate_health_checks().await;
    Ok(())
}

/// Creates ARC resources (the recovery control configuration API, in us-west-2), each with a
/// client token of its own so that a retry does not create a second one.
async fn apply_arc(aws: &AwsClients, change: &Change, owner: &str) -> Result<(), AwsError> {
    let config = aws.region(arc::CONTROL_CONFIG_REGION);
    let token = |what: &str| switch::client_token(owner, what);
    match change {
        Change::CreateCluster { name } => {
            arc::create_cluster(&config, name, &token("cluster")).await?;
        }
        Change::CreateControlPanel { cluster_arn, name } => {
            arc::create_control_panel(&config, cluster_arn, name, &token(&format!("panel {cluster_arn}"))).await?;
        }
        Change::CreateRoutingControl {
            cluster_arn,
            panel_arn,
            region,
        } => {
            let what = format!("control {panel_arn} {region}");
            arc::create_routing_control(&config, cluster_arn, panel_arn, region, &token(&what)).await?;
        }
        Change::CreateSafetyRule { panel_arn, controls } => {
            let what = format!("rule {panel_arn}");
            arc::create_at_least_one_rule(&config, panel_arn, switch::SAFETY_RULE, controls, &token(&what)).await?;
        }
        _ => {}
    }
    Ok(())
}
