//! FailoverRequests in tests: a full pilot light of its own per test (own target group, own
//! primary Auto Scaling group), requests, waits, and what the call log says about them.

use std::{collections::BTreeSet, net::IpAddr, time::Duration};

use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use pilot_light::{
    api::{FailoverRequest, PilotLight, RequestPhase, StepState},
    dns::Dns,
};
use serde_json::{Value, json};

use super::*;

/// AWS names of a [`failover_setup`] beyond [`FullSetup`]'s.
pub struct FailoverSetup {
    pub full: FullSetup,
    /// The standby group's own target group (tests must not share targets).
    pub target_group: String,
    /// The application's group in the primary region, which a failover fences.
    pub primary_asg: String,
}

/// [`full_setup`] plus a target group and a primary Auto Scaling group of this test's own, and
/// no approval (tests of approval turn it on). Applies the manifest and waits until Ready.
pub async fn failover_setup(s: &mut Scenario) -> FailoverSetup {
    failover_setup_with(s, |_| {}).await
}

/// [`failover_setup`] with `edit` applied to the manifest before it is first applied (for what
/// cannot change later, such as the traffic mode).
pub async fn failover_setup_with(s: &mut Scenario, edit: impl FnOnce(&mut Value)) -> FailoverSetup {
    let full = full_setup(s).await;
    let target_group = create_target_group().await;
    let primary_asg = create_primary_group(&unique_suffix()).await;
    s.manifest["spec"]["compute"]["autoScalingGroup"]["targetGroupArns"] = json!([target_group]);
    s.manifest["spec"]["compute"]["primaryAutoScalingGroupName"] = json!(primary_asg);
    s.manifest["spec"]["failover"] = json!({"approval": {"required": false}, "allowDataLossWithoutApproval": true});
    edit(&mut s.manifest);
    s.apply(|_| {}).await;
    s.wait("Ready", "True", None, Duration::from_secs(120)).await;
    FailoverSetup {
        full,
        target_group,
        primary_asg,
    }
}

/// The application's serving group in us-east-1 at 2/2/4, from the seed's AMI and subnets.
async fn create_primary_group(suffix: &str) -> String {
    let seed = seed();
    let template = format!("primary-lt-{suffix}");
    ec2("us-east-1")
        .await
        .create_launch_template()
        .launch_template_name(&template)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id(seed["amiId"].as_str().unwrap())
                .instance_type(aws_sdk_ec2::types::InstanceType::C5Xlarge)
                .build(),
        )
        .send()
        .await
        .expect("create primary launch template");
    let name = format!("primary-asg-{suffix}");
    let subnets: Vec<&str> = seed["vpc"]["us-east-1"]["subnetIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    autoscaling("us-east-1")
        .await
        .create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name(&template)
                .build(),
        )
        .min_size(2)
        .desired_capacity(2)
        .max_size(4)
        .vpc_zone_identifier(subnets.join(","))
        .send()
        .await
        .expect("create primary group");
    name
}

/// Creates FailoverRequest `name` of `type_` against `app`, recording the admin as creator;
/// `extra` is merged into the spec.
pub async fn create_request(s: &Scenario, name: &str, type_: &str, extra: Value) -> FailoverRequest {
    let mut spec = json!({"pilotLightRef": {"name": "app"}, "type": type_, "reason": format!("test {name}")});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    let request: FailoverRequest = serde_json::from_value(json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "FailoverRequest",
        "metadata": {"name": name, "annotations": {"pilotlight.dev/created-by": "testenv-admin"}},
        "spec": spec,
    }))
    .expect("FailoverRequest manifest");
    requests(s)
        .create(&PostParams::default(), &request)
        .await
        .expect("create FailoverRequest")
}

pub fn requests(s: &Scenario) -> Api<FailoverRequest> {
    Api::namespaced(s.client.clone(), &s.ns.name)
}

pub fn phase(request: &FailoverRequest) -> Option<RequestPhase> {
    request.status.as_ref().and_then(|s| s.phase)
}

/// Waits until request `name` reaches one of `phases`; panics with its status otherwise.
pub async fn wait_phase(s: &Scenario, name: &str, phases: &[RequestPhase], timeout: Duration) -> FailoverRequest {
    let api = requests(s);
    let found = eventually(timeout, || async {
        let r = api.get(name).await.ok()?;
        phases.contains(&phase(&r)?).then_some(r)
    })
    .await;
    match found {
        Some(r) => r,
        None => panic!(
            "FailoverRequest {name} did not reach {phases:?} in {timeout:?}: {:#?}",
            api.get(name).await.ok().and_then(|r| r.status)
        ),
    }
}

/// Waits until step `step` of request `name` is in `state`.
pub async fn wait_step(s: &Scenario, name: &str, step: &str, state: StepState, timeout: Duration) -> FailoverRequest {
    let api = requests(s);
    eventually(timeout, || async {
        let r = api.get(name).await.ok()?;
        let st = r.status.as_ref()?.steps.iter().find(|x| x.name == step)?.state;
        (st == state).then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("step {step} of {name} not {state:?} within {timeout:?}"))
}

/// The states of a request's steps, by name.
pub fn step_states(request: &FailoverRequest) -> Vec<(String, StepState)> {
    request
        .status
        .as_ref()
        .map(|s| s.steps.iter().map(|x| (x.name.clone(), x.state)).collect())
        .unwrap_or_default()
}

/// Sets `spec.approvedBy` or `spec.cancel` (a merge patch, as `kubectl patch` does).
pub async fn patch_request(
    api: &Api<FailoverRequest>,
    name: &str,
    spec: Value,
) -> Result<FailoverRequest, kube::Error> {
    api.patch(name, &PatchParams::default(), &Patch::Merge(&json!({"spec": spec})))
        .await
}

/// Whether an AWS action changes something (everything but reads).
pub fn is_mutating(action: &str) -> bool {
    !["Describe", "List", "Get", "Head"]
        .iter()
        .any(|p| action.starts_with(p))
}

/// The successful mutating calls of `app` after sequence number `since`, as "region action".
pub async fn mutating_calls(emulator: &Emulator, app: &str, since: u64) -> Vec<String> {
    emulator
        .calls_since(since)
        .await
        .into_iter()
        .filter(|c| c.made_by(app) && c.outcome == "ok" && is_mutating(&c.action))
        .map(|c| format!("{} {}", c.region, c.action))
        .collect()
}

/// The last sequence number in the call log: calls after it are the test's next ones.
pub async fn call_log_mark(emulator: &Emulator) -> u64 {
    emulator.calls_since(0).await.last().map(|c| c.seq).unwrap_or(0)
}

pub async fn pilotlight(s: &Scenario) -> PilotLight {
    Api::<PilotLight>::namespaced(s.client.clone(), &s.ns.name)
        .get("app")
        .await
        .expect("get PilotLight")
}

/// Where the global cluster's writer is: (region, cluster identifier).
pub async fn writer(global: &str) -> (String, String) {
    let members = global_members(global).await;
    let arn = members
        .iter()
        .find_map(|(arn, is_writer)| is_writer.then_some(arn))
        .expect("a writer");
    let (region, cluster) = pilot_light::aws::rds::parse_cluster_arn(arn).expect("a cluster ARN");
    (region.to_owned(), cluster.to_owned())
}

/// (min, desired, max) of an Auto Scaling group.
pub async fn capacity(region: &str, name: &str) -> (i32, i32, i32) {
    let out = autoscaling(region)
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("describe group");
    let g = &out.auto_scaling_groups()[0];
    (
        g.min_size().unwrap_or_default(),
        g.desired_capacity().unwrap_or_default(),
        g.max_size().unwrap_or_default(),
    )
}

/// Where record `name` (type `type_`) of `zone` points: an alias's DNS name or the values.
pub async fn record_target(zone: &str, name: &str, type_: &str) -> Option<String> {
    let out = route53()
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(name)
        .start_record_type(aws_sdk_route53::types::RrType::from(type_))
        .max_items(1)
        .send()
        .await
        .expect("list records");
    let r = out.resource_record_sets().first()?;
    match r.alias_target() {
        Some(a) => Some(a.dns_name().trim_end_matches('.').to_owned()),
        None => Some(
            r.resource_records()
                .iter()
                .map(|v| v.value().trim_end_matches('.').to_owned())
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
}

/// A tiny HTTP server on loopback answering every request with `status`: the standby endpoint
/// a drill smoke-tests. Returns its base URL; serves until the test's runtime ends.
pub async fn http_endpoint(status: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                let body = if status == 200 { "ok" } else { "broken" };
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

impl Emulator {
    /// The operation durations in effect (`{}` = every operation instant).
    pub async fn durations(&self) -> Value {
        self.get_json("durations").await
    }

    /// Whether Route 53's checkers see health check `id` healthy now (None: no such check).
    pub async fn health_check_healthy(&self, id: &str) -> Option<bool> {
        let body = self.get_json("health-checks").await;
        body["healthChecks"].as_array()?.iter().find(|c| c["id"] == id)?["healthy"].as_bool()
    }

    /// The fault rules in effect.
    pub async fn faults(&self) -> Vec<Value> {
        let body = self.get_json("faults").await;
        body["faults"].as_array().cloned().unwrap_or_default()
    }
}

/// Sets `spec.detection` on a Ready [`failover_setup`], waits until the primary is seen healthy,
/// and returns its health check's id (for [`Emulator::set_health_check_status`]).
pub async fn detect(s: &mut Scenario, detection: Value) -> String {
    s.apply(|m| m["spec"]["detection"] = detection).await;
    primary_healthy(s, "True")
        .await
        .status
        .and_then(|st| st.traffic)
        .and_then(|t| t.health_check_id)
        .expect("the primary's health check")
}

/// Waits until the `PrimaryHealthy` condition is `status`.
pub async fn primary_healthy(s: &Scenario, status: &str) -> PilotLight {
    s.wait("PrimaryHealthy", status, None, Duration::from_secs(60)).await
}

/// What the application record answers now through the emulator's DNS server.
pub async fn answer(name: &str) -> BTreeSet<IpAddr> {
    let dns = Dns::new(Some(emulator_dns().expect("PILOT_LIGHT_EMULATOR_DNS (testenv up)")));
    dns.addresses(name).await.unwrap_or_default()
}

/// The synthetic address the emulator's DNS gives `region`'s load balancer.
pub async fn alb_address(region: &str) -> BTreeSet<IpAddr> {
    answer(seed()["alb"][region]["dnsName"].as_str().unwrap()).await
}

/// A Ready failover setup whose traffic is `failoverRouting` with `switch`, answering the
/// primary; returns the setup and the application record's name.
pub async fn data_plane_setup(s: &mut Scenario, switch: &str) -> (FailoverSetup, String) {
    let setup = failover_setup_with(s, |m| {
        m["spec"]["traffic"]["mode"] = json!("failoverRouting");
        m["spec"]["traffic"]["switch"] = json!(switch);
        // A plain CNAME, so Route 53's control plane in any mode: its step is deferred in an
        // outage. Without it, the database's global writer endpoint names the new writer.
        m["spec"]["database"]["aurora"]
            .as_object_mut()
            .unwrap()
            .remove("writerEndpointRecord");
    })
    .await;
    let record = s.manifest["spec"]["traffic"]["route53"]["recordName"]
        .as_str()
        .unwrap()
        .to_owned();
    let primary = alb_address("us-east-1").await;
    let answered = eventually(Duration::from_secs(30), || async {
        (answer(&record).await == primary).then_some(())
    })
    .await;
    assert!(
        answered.is_some(),
        "{record} answers the primary's load balancer before the failover"
    );
    (setup, record)
}

/// A DR load balancer of this test's own in us-west-2 whose HTTP:80 listener forwards to
/// `target_group`; returns (name, listener ARN).
pub async fn create_load_balancer(target_group: &str) -> (String, String) {
    let elbv2 = elbv2("us-west-2").await;
    let seed = seed();
    let network = &seed["vpc"]["us-west-2"];
    let name = format!("lb-{}", unique_suffix());
    let subnets: Vec<String> = network["subnetIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let lb = elbv2
        .create_load_balancer()
        .name(&name)
        .set_subnets(Some(subnets))
        .security_groups(network["securityGroupId"].as_str().unwrap())
        .send()
        .await
        .expect("create load balancer");
    let arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let listener = elbv2
        .create_listener()
        .load_balancer_arn(&arn)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(target_group))
        .send()
        .await
        .expect("create listener");
    (name, listener.listeners()[0].listener_arn().unwrap().to_owned())
}

pub fn forward(target_group: &str) -> aws_sdk_elasticloadbalancingv2::types::Action {
    aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}
