//! The compute steps of a failover or drill: set a group's capacity, wait for healthy
//! targets, and the drill's smoke test.

use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

use crate::api::PilotLightSpec;
use crate::aws::{
    autoscaling::{self, Group},
    elbv2,
    states::TargetState,
};
use crate::step::{Done, Next, Poll, StepContext, StepError, refused};

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
    let group = autoscaling::describe_groups(&clients, std::slice::from_ref(&name))
        .await?
        .into_iter()
        .next();
    match group_capacity(group.as_ref(), &name, &region, (min, desired, max)) {
        Next::Call((min, desired, max)) => {
            let was = group.as_ref().map(sizes).unwrap_or_default();
            sc.before_call(format!(
                "UpdateAutoScalingGroup {name} in {region} to {min}/{desired}/{max}"
            ))
            .await?;
            autoscaling::set_capacity(&clients, &name, min, desired, max).await?;
            // Nothing to wait for: the write that marks the step Succeeded is the one after
            // the call.
            Ok(Done::Succeeded(format!(
                "{name} in {region} set to {min}/{desired}/{max} (was {was})"
            )))
        }
        Next::Done(m) => Ok(Done::Succeeded(match prewarmed_since(sc.pl) {
            Some(since) if desired > 0 => format!("{m}: prewarmed since {since}, only verified"),
            _ => m,
        })),
        Next::Fail(m) | Next::Wait(m) => Err(refused(m)),
    }
}

/// When the standby was prewarmed for what runs now (`status.prewarm`, still warm or just
/// taken over by a request).
pub(crate) fn prewarmed_since(pl: &crate::api::PilotLight) -> Option<String> {
    use crate::api::PrewarmState::{CoolingDown, Used, Warm};
    let p = pl.status.as_ref()?.prewarm.as_ref()?;
    matches!(p.state, Warm | CoolingDown | Used).then(|| p.since.0.to_string())
}

fn sizes(g: &Group) -> String {
    format!("{}/{}/{}", g.min_size, g.desired_capacity, g.max_size)
}

/// Whether group `name` must be set to `(min, desired, max)`: scaling to zero wants min and
/// desired at zero, scaling up at least the sizes asked; the maximum is never lowered.
pub(crate) fn group_capacity(
    group: Option<&Group>,
    name: &str,
    region: &str,
    (min, desired, max): (i32, i32, i32),
) -> Next<(i32, i32, i32)> {
    let Some(group) = group else {
        return Next::Fail(format!("Auto Scaling group {name} not found in {region}"));
    };
    let there = if desired == 0 {
        group.min_size == 0 && group.desired_capacity == 0
    } else {
        group.min_size >= min && group.desired_capacity >= desired
    };
    if there {
        return Next::Done(format!("{name} in {region} already at {}", sizes(group)));
    }
    Next::Call((min, desired, max.max(group.max_size)))
}

/// A warm drill's first step: the group to the prewarm capacity (`spec.failover.prewarm`'s, else
/// the failover's desired capacity), then as many healthy targets as that warm group brings.
pub(crate) async fn prewarm(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let failover = &sc.compute()?.auto_scaling_group.failover;
    let capacity = sc
        .pl
        .spec
        .failover
        .prewarm
        .as_ref()
        .and_then(|p| p.capacity)
        .unwrap_or(failover.desired_capacity);
    let scaled = set_group_capacity(sc, (capacity, capacity, failover.max_size)).await?;
    let need = capacity.min(failover.min_size).max(1) as usize;
    let healthy = wait_healthy(sc, need).await?;
    Ok(match (scaled, healthy) {
        (Done::Succeeded(a), Done::Succeeded(b)) => Done::Succeeded(format!("warm: {a}; {b}")),
        (_, other) => other,
    })
}

pub(crate) async fn wait_targets_healthy(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let need = sc.compute()?.auto_scaling_group.failover.min_size.max(1) as usize;
    wait_healthy(sc, need).await
}

/// Until every target group of the group (or the group itself) has `need` healthy targets.
async fn wait_healthy(sc: &StepContext<'_>, need: usize) -> Result<Done, StepError> {
    let region = sc.direction.to.to_owned();
    let name = sc.group_in(&region)?;
    let clients = sc.clients(&region);
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
        match targets_healthy(&counts, need) {
            Next::Done(m) => return Ok(Done::Succeeded(m)),
            Next::Wait(m) => poll.next(|| m).await?,
            Next::Fail(m) => return Err(refused(m)),
            Next::Call(never) => match never {},
        }
    }
}

/// Done when every count (healthy of all, per target group or the group's InService instances)
/// reaches `need`.
pub(crate) fn targets_healthy(counts: &[(String, usize, usize)], need: usize) -> Next<Infallible> {
    let summary = counts
        .iter()
        .map(|(what, healthy, all)| format!("{healthy}/{all} healthy in {what}"))
        .collect::<Vec<_>>()
        .join(", ");
    if counts.iter().all(|(_, healthy, _)| *healthy >= need) {
        Next::Done(summary)
    } else {
        Next::Wait(format!("{summary}; {need} needed"))
    }
}

/// An HTTP GET of the standby endpoint; three attempts a second apart.
pub(crate) async fn smoke_test(sc: &StepContext<'_>) -> Result<Done, StepError> {
    let test = &sc.pl.spec.failover.smoke_test;
    let url = smoke_test_url(&sc.pl.spec).map_err(refused)?;
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
        let answer = client.get(&url).send().await.map(|r| r.status().as_u16());
        match smoke_test_verdict(&url, answer.map_err(|e| e.to_string()), test.expected_status) {
            Next::Done(m) => {
                return Ok(Done::Succeeded(format!("{m} in {} ms", started.elapsed().as_millis())));
            }
            Next::Fail(m) | Next::Wait(m) => last = m,
            Next::Call(never) => match never {},
        }
        if attempt < 3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Err(refused(last))
}

/// The URL the smoke test GETs: `smokeTest.url`, else the standby target's name, plus the path.
pub(crate) fn smoke_test_url(spec: &PilotLightSpec) -> Result<String, String> {
    let test = &spec.failover.smoke_test;
    let base = match (&test.url, &spec.traffic) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(t)) => format!(
            "https://{}",
            t.route53.standby_target.dns_name.as_str().trim_end_matches('.')
        ),
        (None, None) => return Err("no smokeTest.url and no traffic.route53.standbyTarget".into()),
    };
    Ok(format!("{base}{}", test.path))
}

/// One attempt's verdict: done on the expected status, else what went wrong.
pub(crate) fn smoke_test_verdict(url: &str, answer: Result<u16, String>, expected: u16) -> Next<Infallible> {
    match answer {
        Ok(status) if status == expected => Next::Done(format!("GET {url} answered {status}")),
        Ok(status) => Next::Fail(format!("GET {url} answered {status}, expected {expected}")),
        Err(e) => Next::Fail(format!("GET {url} failed: {e}")),
    }
}

#[cfg(test)]
mod tests;
