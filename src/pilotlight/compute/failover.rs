//! The compute steps of a failover or drill: set a group's capacity, wait for healthy
//! targets, and the drill's smoke test.

use std::time::{Duration, Instant};

use crate::aws::{autoscaling, elbv2, states::TargetState};
use crate::step::{Done, Poll, StepContext, StepError, defer_if_unreachable, refused};

pub(crate) const HEALTHY_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Sets the group this step acts on to `(min, desired, max)` unless it is there already. The
/// maximum is never lowered (scaling to zero keeps it). A region that does not answer defers a
/// fence.
pub(crate) async fn set_group_capacity(
    sc: &StepContext<'_>,
    (min, desired, max): (i32, i32, i32),
) -> Result<Done, StepError> {
    let region = sc.compute_region().to_owned();
    let name = sc.group_in(&region)?;
    let clients = sc.clients(&region);
    let result: Result<Done, StepError> = async {
        let group = autoscaling::describe_groups(&clients, std::slice::from_ref(&name))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| refused(format!("Auto Scaling group {name} not found in {region}")))?;
        let there = if desired == 0 {
            group.min_size == 0 && group.desired_capacity == 0
        } else {
            group.min_size >= min && group.desired_capacity >= desired
        };
        let was = format!("{}/{}/{}", group.min_size, group.desired_capacity, group.max_size);
        if there {
            return Ok(Done::Succeeded(format!("{name} in {region} already at {was}")));
        }
        let max = max.max(group.max_size);
        sc.before_call(format!(
            "UpdateAutoScalingGroup {name} in {region} to {min}/{desired}/{max}"
        ))
        .await?;
        autoscaling::set_capacity(&clients, &name, min, desired, max).await?;
        // Nothing to wait for: the write that marks the step Succeeded is the one after the call.
        Ok(Done::Succeeded(format!(
            "{name} in {region} set to {min}/{desired}/{max} (was {was})"
        )))
    }
    .await;
    defer_if_unreachable(sc, result)
}

pub(crate) async fn wait_targets_healthy(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let region = sc.direction.to.to_owned();
    let name = sc.group_in(&region)?;
    let clients = sc.clients(&region);
    let need = sc.compute()?.auto_scaling_group.failover.min_size.max(1) as usize;
    let poll = Poll::new(HEALTHY_TIMEOUT);
    loop {
        let group = autoscaling::describe_groups(&clients, std::slice::from_ref(&name))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| refused(format!("Auto Scaling group {name} not found in {region}")))?;
        let mut counts = Vec::new();
        if group.target_group_arns.is_empty() {
            counts.push((
                format!("{name} (InService instances)"),
                group.in_service,
                group.instances,
            ));
        }
        for arn in &group.target_group_arns {
            let targets = elbv2::target_health(&clients, arn).await?;
            let healthy = targets.iter().filter(|t| t.state == TargetState::Healthy).count();
            let short = arn.rsplit(':').next().unwrap_or(arn).to_owned();
            counts.push((short, healthy, targets.len()));
        }
        let summary = counts
            .iter()
            .map(|(what, healthy, all)| format!("{healthy}/{all} healthy in {what}"))
            .collect::<Vec<_>>()
            .join(", ");
        if counts.iter().all(|(_, healthy, _)| *healthy >= need) {
            return Ok(Done::Succeeded(summary));
        }
        poll.next(|| format!("{summary}; {need} needed")).await?;
    }
}

/// An HTTP GET of the standby endpoint; three attempts a second apart.
pub(crate) async fn smoke_test(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let test = &sc.pl.spec.failover.smoke_test;
    let base = match (&test.url, &sc.pl.spec.traffic) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(t)) => format!(
            "https://{}",
            t.route53.standby_target.dns_name.as_str().trim_end_matches('.')
        ),
        (None, None) => return Err(refused("no smokeTest.url and no traffic.route53.standbyTarget".into())),
    };
    let url = format!("{base}{}", test.path);
    let timeout = test
        .timeout
        .to_duration()
        .map_err(|e| refused(format!("smokeTest.timeout: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| refused(format!("HTTP client: {e}")))?;
    let mut last = String::new();
    for attempt in 1..=3 {
        let started = Instant::now();
        match client.get(&url).send().await {
            Ok(response) if response.status().as_u16() == test.expected_status => {
                return Ok(Done::Succeeded(format!(
                    "GET {url} answered {} in {} ms",
                    response.status().as_u16(),
                    started.elapsed().as_millis()
                )));
            }
            Ok(response) => {
                last = format!(
                    "GET {url} answered {}, expected {}",
                    response.status().as_u16(),
                    test.expected_status
                )
            }
            Err(e) => last = format!("GET {url} failed: {e}"),
        }
        if attempt < 3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Err(refused(last))
}
