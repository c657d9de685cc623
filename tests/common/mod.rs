//! Shared harness of the integration tests: the real kube-apiserver and the AWS emulator from
//! `testenv/` (`./testenv/testenv up && . .testenv/env`, or `make test` which does both).
#![allow(dead_code)]

pub mod evacuation;
pub mod failover;

use std::{
    future::Future,
    sync::{Arc, Once},
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::core::v1::{Event, Namespace},
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    apimachinery::pkg::apis::meta::v1::Condition,
};
use kube::{
    Api, Client, CustomResourceExt, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use pilot_light::{
    api::{CREATED_BY, Evacuation, FailoverRequest, PilotLight},
    aws::{AwsClients, FAILOVER_APP_SUFFIX},
    config::{CheckIntervals, Settings},
    context::Core,
    telemetry::Metrics,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Panics with instructions when the test environment is not running.
pub fn require_testenv() {
    static CHECK: Once = Once::new();
    CHECK.call_once(|| {
        for var in ["KUBECONFIG", "AWS_ENDPOINT_URL", "PILOT_LIGHT_EMULATOR_URL"] {
            assert!(
                std::env::var(var).is_ok(),
                "{var} is not set: integration tests need the test environment. Run `make test`, or `./testenv/testenv up && . .testenv/env` first."
            );
        }
    });
}

pub async fn client() -> Client {
    require_testenv();
    Client::try_default().await.expect("kube client from KUBECONFIG")
}

/// Applies both CRDs (server-side, idempotent) and waits until they are established.
pub async fn ensure_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [PilotLight::crd(), FailoverRequest::crd(), Evacuation::crd()] {
        let name = crd.name_any();
        api.patch(
            &name,
            &PatchParams::apply("pilot-light-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap_or_else(|e| panic!("applying CRD {name}: {e}"));
        eventually(Duration::from_secs(30), || async {
            let crd = api.get(&name).await.ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("CRD {name} not established"));
    }
}

/// A fresh namespace named after the test, deleted when dropped.
pub struct TestNamespace {
    pub name: String,
    client: Client,
}

impl TestNamespace {
    pub async fn new(client: &Client, prefix: &str) -> Self {
        let name = format!("{prefix}-{}", unique_suffix());
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns).await.expect("create namespace");
        Self {
            name,
            client: client.clone(),
        }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Best effort; the testenv's etcd is temporary anyway.
        run_to_completion_in_drop(async move {
            if let Ok(client) = Client::try_default().await {
                let _ = Api::<Namespace>::all(client)
                    .delete(&name, &DeleteParams::background())
                    .await;
            }
        });
    }
}

/// Runs `work` to completion on its own thread and runtime, and never panics: for `Drop`, which
/// cannot await and may run while the test's runtime shuts down or the test panics.
pub fn run_to_completion_in_drop(work: impl Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            runtime.block_on(work);
        }
    })
    .join();
}

/// Short random lowercase suffix that keeps AWS and Kubernetes names unique per test run.
pub fn unique_suffix() -> String {
    let n: u32 = rand::random();
    format!("{n:08x}")
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `pilot-light run` with its output captured by `.output()`, or sent to `log` when spawned (a
/// pipe nobody reads would fill up and block the operator).
pub fn operator_command(port: u16, namespace: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pilot-light"));
    cmd.args([
        "run",
        "--admin-addr",
        &format!("127.0.0.1:{port}"),
        "--namespace",
        namespace,
        "--log-format",
        "text",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    cmd
}

/// Kills the operator process if the test ends early, so a failing test leaves nothing behind.
pub struct KillOnDrop(pub Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::get(url).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// Settings that make convergence fast enough for tests.
pub fn fast_settings(namespace: &str) -> Settings {
    Settings {
        converging_interval: Duration::from_millis(500),
        degraded_interval: Duration::from_secs(2),
        check_intervals: CheckIntervals {
            database: Duration::from_secs(20),
            storage: Duration::from_secs(20),
            compute: Duration::from_secs(20),
            traffic: Duration::from_secs(20),
            cache: Duration::from_secs(20),
            load_balancer: Duration::from_secs(20),
        },
        misconfigured_interval: Duration::from_secs(300),
        backoff_base: Duration::from_millis(300),
        backoff_max: Duration::from_secs(3),
        namespace: Some(namespace.to_owned()),
        pilotlight_selector: None,
        handle_evacuations: true,
        detection_interval: Duration::from_millis(500),
        dns_server: emulator_dns(),
        rate_budgets: Default::default(),
        max_concurrent_reconciles: 16,
    }
}

/// The emulator's DNS server (`PILOT_LIGHT_EMULATOR_DNS`, written by `testenv up`).
pub fn emulator_dns() -> Option<std::net::SocketAddr> {
    std::env::var("PILOT_LIGHT_EMULATOR_DNS")
        .ok()
        .and_then(|a| a.parse().ok())
}

/// The operator's controllers running in this process, scoped to one namespace, stopped on drop.
pub struct Operator {
    pub metrics: Arc<Metrics>,
    /// The AWS app name of this operator's SDK clients: its calls in the emulator's log.
    pub app: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Operator {
    pub async fn start(client: &Client, settings: Settings) -> Self {
        if std::env::var_os("PILOT_LIGHT_TEST_LOG").is_some() {
            static LOGS: Once = Once::new();
            LOGS.call_once(|| pilot_light::telemetry::init_tracing(pilot_light::telemetry::LogFormat::Text));
        }
        let metrics = Arc::new(Metrics::default());
        let app = format!("pl-test-{}", unique_suffix());
        let aws = AwsClients::from_env(metrics.clone(), &app, settings.check_intervals.shared_read_window())
            .await
            .with_rate_budgets(settings.rate_budgets.clone());
        let ctx = Arc::new(Core::new(client.clone(), aws, metrics.clone(), settings));
        let (stop, stopped) = oneshot::channel::<()>();
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = tokio::spawn(pilot_light::run::controllers(
            ctx,
            async move {
                let _ = stopped.await;
            },
            ready,
        ));
        Self {
            metrics,
            app,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the controllers and waits for them to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn apply_pilotlight(client: &Client, namespace: &str, manifest: Value) -> PilotLight {
    let api: Api<PilotLight> = Api::namespaced(client.clone(), namespace);
    let pl: PilotLight = serde_json::from_value(manifest).expect("PilotLight manifest");
    api.patch(
        &pl.name_any(),
        &PatchParams::apply("pilot-light-tests").force(),
        &Patch::Apply(&pl),
    )
    .await
    .expect("apply PilotLight")
}

/// Waits until the PilotLight's condition `type_` has `status` (and `reason`, if given).
pub async fn wait_condition(
    client: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
    status: &str,
    reason: Option<&str>,
    timeout: Duration,
) -> PilotLight {
    let api: Api<PilotLight> = Api::namespaced(client.clone(), namespace);
    let found = eventually(timeout, || async {
        let pl = api.get(name).await.ok()?;
        let conditions = pl.status.as_ref()?.conditions.clone();
        conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == status && reason.is_none_or(|r| c.reason == r))
            .then_some(pl)
    })
    .await;
    match found {
        Some(pl) => pl,
        None => {
            let pl = api.get(name).await.ok();
            panic!(
                "{namespace}/{name}: condition {type_}={status} (reason {reason:?}) not reached in {timeout:?}; status: {}",
                serde_json::to_string_pretty(&pl.and_then(|p| p.status)).unwrap()
            )
        }
    }
}

/// The condition `type_` of a PilotLight status; panics with the status when it is missing.
pub fn condition<'a>(status: &'a pilot_light::api::PilotLightStatus, type_: &str) -> &'a Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", status.conditions))
}

/// The data of the PilotLight `app`'s endpoints ConfigMap.
pub async fn endpoints(s: &Scenario) -> std::collections::BTreeMap<String, String> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(s.client.clone(), &s.ns.name);
    api.get("app-endpoints")
        .await
        .expect("app-endpoints ConfigMap")
        .data
        .unwrap_or_default()
}

/// Reasons of the Events recorded for an object.
pub async fn event_reasons(client: &Client, namespace: &str, name: &str) -> Vec<String> {
    event_reasons_matching(client, namespace, &format!("involvedObject.name={name}")).await
}

/// Reasons of the Events that match a field selector (`involvedObject.uid=…` tells apart two
/// objects that had the same name).
pub async fn event_reasons_matching(client: &Client, namespace: &str, fields: &str) -> Vec<String> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().fields(fields);
    api.list(&lp)
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

/// The emulator's control API (`/_emulator/...`).
pub struct Emulator {
    base: String,
    http: reqwest::Client,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub seq: u64,
    /// Epoch seconds when the request arrived.
    pub time: f64,
    /// How long the emulator took to answer (with injected latency); none for an outage.
    #[serde(default)]
    pub duration_ms: Option<f64>,
    pub service: String,
    pub action: String,
    pub region: String,
    pub outcome: String,
    /// The caller's `app/NAME` User-Agent token, if any.
    #[serde(default)]
    pub app: Option<String>,
    /// The request as it arrived, while recording is on ([`Emulator::set_recording`]).
    #[serde(default)]
    pub request: Option<RecordedRequest>,
}

/// A request the emulator recorded, and its answer's body (see testenv/emulator/README.md).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Percent-encoded, as sent.
    pub path: String,
    pub query: String,
    pub headers: std::collections::BTreeMap<String, String>,
    /// Base64.
    pub body: String,
    /// Base64.
    pub answer: String,
}

impl Call {
    /// Whether one test's operator (SDK app name `app`) made this call: convergence or its
    /// failover executor (`app` + [`FAILOVER_APP_SUFFIX`]).
    pub fn made_by(&self, app: &str) -> bool {
        self.app
            .as_deref()
            .is_some_and(|a| a == app || self.by_failover_executor_of(app))
    }

    /// Whether the failover executor of the operator with app name `app` made this call.
    pub fn by_failover_executor_of(&self, app: &str) -> bool {
        self.app
            .as_deref()
            .and_then(|a| a.strip_suffix(FAILOVER_APP_SUFFIX))
            .is_some_and(|a| a == app)
    }
}

impl Emulator {
    pub fn new() -> Self {
        require_testenv();
        Self {
            base: std::env::var("PILOT_LIGHT_EMULATOR_URL").unwrap(),
            http: reqwest::Client::new(),
        }
    }

    /// The JSON answer of the control API's `GET /_emulator/{path}`; panics if there is none.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/_emulator/{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /_emulator/{path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET /_emulator/{path}: not JSON: {e}"))
    }

    /// Calls logged after `since` (a sequence number from an earlier call, 0 for all).
    pub async fn calls_since(&self, since: u64) -> Vec<Call> {
        let body = self.get_json(&format!("calls?since={since}")).await;
        serde_json::from_value(body["calls"].clone()).expect("calls")
    }

    /// Every call made by the operator whose SDK clients have app name `app` (one test's).
    pub async fn calls_by(&self, app: &str) -> Vec<Call> {
        self.calls_since(0)
            .await
            .into_iter()
            .filter(|c| c.made_by(app))
            .collect()
    }

    /// Adds a fault rule; returns its id.
    pub async fn add_fault(&self, rule: Value) -> String {
        let body: Value = self
            .http
            .post(format!("{}/_emulator/faults", self.base))
            .json(&rule)
            .send()
            .await
            .expect("add fault")
            .error_for_status()
            .expect("fault accepted")
            .json()
            .await
            .expect("fault JSON");
        body["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| body["id"].to_string())
    }

    pub async fn remove_fault(&self, id: &str) {
        self.http
            .delete(format!("{}/_emulator/faults/{id}", self.base))
            .send()
            .await
            .expect("remove fault")
            .error_for_status()
            .expect("fault removed");
    }

    /// Whether the call log keeps each call's request and answer from now on.
    pub async fn set_recording(&self, requests: bool) {
        let url = format!("{}/_emulator/calls/recording", self.base);
        self.send(self.http.put(url), &json!({ "requests": requests })).await;
    }

    /// Replaces the emulated operation durations (`{"rds:CreateDBInstance": 2.0}`; `{}` = instant).
    pub async fn set_durations(&self, durations: Value) {
        self.send(self.http.put(format!("{}/_emulator/durations", self.base)), &durations)
            .await;
    }

    /// What Route 53's checkers report for health check `id`: `Success` or `Failure` (all of them).
    pub async fn set_health_check_status(&self, id: &str, status: &str) {
        let url = format!("{}/_emulator/health-check-status", self.base);
        self.send(self.http.post(url), &json!({"id": id, "status": status}))
            .await;
    }

    /// The lag the emulator publishes for Aurora secondary cluster `cluster` in `region`, from
    /// now on (`None`: it stops publishing; before the cluster exists: it never publishes).
    pub async fn set_replication_lag(&self, region: &str, cluster: &str, milliseconds: Option<f64>) {
        let body = match milliseconds {
            Some(ms) => json!({"region": region, "cluster": cluster, "milliseconds": ms}),
            None => json!({"region": region, "cluster": cluster, "publishing": false}),
        };
        self.send(
            self.http.post(format!("{}/_emulator/replication-lag", self.base)),
            &body,
        )
        .await;
    }

    /// The `ReplicaLag` the emulator publishes for read replica `instance` in `region`.
    pub async fn set_replica_lag(&self, region: &str, instance: &str, milliseconds: f64) {
        let body = json!({"region": region, "instance": instance, "milliseconds": milliseconds});
        self.send(
            self.http.post(format!("{}/_emulator/replication-lag", self.base)),
            &body,
        )
        .await;
    }

    /// Sets read replica `instance`'s replication state (`StatusInfos`): `error`, `replicating`, ...
    pub async fn set_replica_status(&self, region: &str, instance: &str, status: &str) {
        let body = json!({"region": region, "instance": instance, "status": status});
        self.send(self.http.post(format!("{}/_emulator/replica-status", self.base)), &body)
            .await;
    }

    /// Creates (if need be) CloudWatch alarm `name` in `region` and sets its state.
    pub async fn set_alarm_state(&self, region: &str, name: &str, state: &str) {
        let body = json!({"region": region, "name": name, "state": state, "reason": "set by a test"});
        self.send(self.http.post(format!("{}/_emulator/alarm-state", self.base)), &body)
            .await;
    }

    /// Sends a control request with a JSON body; panics unless the emulator accepts it.
    async fn send(&self, request: reqwest::RequestBuilder, body: &Value) {
        let response = request.json(body).send().await.expect("reach the emulator");
        if let Err(e) = response.error_for_status_ref() {
            panic!("the emulator refused {body}: {e}");
        }
    }

    pub async fn clear_faults(&self) {
        self.http
            .delete(format!("{}/_emulator/faults", self.base))
            .send()
            .await
            .expect("clear faults");
    }
}

/// The SDK configuration of `region`, straight to the emulator (from the testenv's variables).
async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    require_testenv();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .load()
        .await
}

/// SDK clients straight to the emulator, for arranging and asserting AWS state in tests.
pub async fn rds(region: &str) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&sdk_config(region).await)
}

pub async fn cloudwatch(region: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&sdk_config(region).await)
}

pub async fn dynamodb(region: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(region).await)
}

pub async fn ec2(region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config(region).await)
}

pub async fn autoscaling(region: &str) -> aws_sdk_autoscaling::Client {
    aws_sdk_autoscaling::Client::new(&sdk_config(region).await)
}

pub async fn elbv2(region: &str) -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(region).await)
}

pub async fn elasticache(region: &str) -> aws_sdk_elasticache::Client {
    aws_sdk_elasticache::Client::new(&sdk_config(region).await)
}

/// Creates cache subnet group `name` in `region` from the seed's subnets there.
pub async fn create_cache_subnet_group(region: &str, name: &str) {
    let seed = seed();
    let subnets: Vec<String> = seed["vpc"][region]["subnetIds"]
        .as_array()
        .expect("seed subnets")
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    elasticache(region)
        .await
        .create_cache_subnet_group()
        .cache_subnet_group_name(name)
        .cache_subnet_group_description("pilot-light test")
        .set_subnet_ids(Some(subnets))
        .send()
        .await
        .expect("create cache subnet group");
}

/// The status of replication group `id` in `region`, if it exists.
pub async fn replication_group_status(region: &str, id: &str) -> Option<String> {
    elasticache(region)
        .await
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .ok()?
        .replication_groups()
        .first()
        .and_then(|g| g.status())
        .map(str::to_owned)
}

pub async fn route53() -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&sdk_config("us-east-1").await)
}

/// What `testenv up` seeded (`.testenv/seed.json`): VPCs, subnets, ALBs, target groups, the
/// hosted zone, shared by every test.
pub fn seed() -> Value {
    require_testenv();
    let path = std::env::var("PILOT_LIGHT_SEED").expect("PILOT_LIGHT_SEED");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("seed file")).expect("seed JSON")
}

/// Registers an AMI of this test's own in the primary region (copies are found by source id, so
/// tests must not share a source image).
pub async fn create_source_image(name: &str) -> String {
    ec2("us-east-1")
        .await
        .register_image()
        .name(name)
        .architecture(aws_sdk_ec2::types::ArchitectureValues::X8664)
        .root_device_name("/dev/xvda")
        .send()
        .await
        .expect("register image")
        .image_id()
        .expect("image id")
        .to_owned()
}

/// Creates a DynamoDB table with streams (what a global-table replica needs) in us-east-1.
pub async fn create_table(name: &str) {
    dynamodb("us-east-1")
        .await
        .create_table()
        .table_name(name)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
}

/// A hosted zone of this test's own.
pub async fn create_zone() -> (String, String) {
    let name = format!("t{}.example.com", unique_suffix());
    let out = route53()
        .await
        .create_hosted_zone()
        .name(&name)
        .caller_reference(&name)
        .send()
        .await
        .expect("create hosted zone");
    let id = out
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    (id, name)
}

/// The AMI copies of `source` in the standby region.
pub async fn image_copies(source: &str) -> Vec<aws_sdk_ec2::types::Image> {
    ec2("us-west-2")
        .await
        .describe_images()
        .owners("self")
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:pilotlight.dev/source-image")
                .values(source)
                .build(),
        )
        .send()
        .await
        .expect("describe images")
        .images()
        .to_vec()
}

/// The standby Auto Scaling Group as AWS has it.
pub async fn standby_group(name: &str) -> Option<aws_sdk_autoscaling::types::AutoScalingGroup> {
    autoscaling("us-west-2")
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("describe ASG")
        .auto_scaling_groups()
        .first()
        .cloned()
}

pub async fn s3(region: &str) -> aws_sdk_s3::Client {
    let config = sdk_config(region).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// A bucket's versioning status as S3 reports it.
pub async fn versioning(region: &str, bucket: &str) -> Option<aws_sdk_s3::types::BucketVersioningStatus> {
    s3(region)
        .await
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .status()
        .cloned()
}

/// Sets a bucket's versioning, as a person with the console would.
pub async fn set_versioning(region: &str, bucket: &str, status: aws_sdk_s3::types::BucketVersioningStatus) {
    s3(region)
        .await
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(status)
                .build(),
        )
        .send()
        .await
        .expect("put bucket versioning");
}

/// Creates an empty, unversioned bucket in `region`, as a user's existing bucket.
pub async fn create_bucket(region: &str, bucket: &str) {
    let mut request = s3(region).await.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
}

/// Creates an Aurora PostgreSQL cluster with one writer instance, as a user's existing primary.
pub async fn create_primary_cluster(region: &str, identifier: &str) -> String {
    let rds = rds(region).await;
    let out = rds
        .create_db_cluster()
        .db_cluster_identifier(identifier)
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .master_username("app")
        .master_user_password("correct-horse-battery")
        .send()
        .await
        .expect("create primary cluster");
    rds.create_db_instance()
        .db_instance_identifier(format!("{identifier}-1"))
        .db_cluster_identifier(identifier)
        .db_instance_class("db.r5.large")
        .engine("aurora-postgresql")
        .send()
        .await
        .expect("create primary instance");
    out.db_cluster()
        .and_then(|c| c.db_cluster_arn())
        .expect("cluster ARN")
        .to_owned()
}

/// Creates an RDS MySQL instance (`db.r5.large`) in `region` and returns its ARN.
pub async fn create_source_instance(region: &str, identifier: &str, encrypted: bool) -> String {
    rds(region)
        .await
        .create_db_instance()
        .db_instance_identifier(identifier)
        .engine("mysql")
        .db_instance_class("db.r5.large")
        .allocated_storage(20)
        .master_username("app")
        .master_user_password("correct-horse-battery")
        .storage_encrypted(encrypted)
        .send()
        .await
        .expect("create source instance")
        .db_instance()
        .and_then(|i| i.db_instance_arn())
        .expect("instance ARN")
        .to_owned()
}

/// The instance `identifier` in `region`, if it exists.
pub async fn db_instance(region: &str, identifier: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    rds(region)
        .await
        .describe_db_instances()
        .filters(
            aws_sdk_rds::types::Filter::builder()
                .name("db-instance-id")
                .values(identifier)
                .build(),
        )
        .send()
        .await
        .expect("describe instances")
        .db_instances()
        .first()
        .cloned()
}

/// A PilotLight `app` with only `spec.database.rds`.
pub fn rds_pilotlight(source: &str, replica: &str) -> Value {
    json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "PilotLight",
        "metadata": {"name": "app"},
        "spec": {
            "regions": {"primary": "us-east-1", "standby": "us-west-2"},
            "database": {"rds": {
                "sourceInstanceIdentifier": source,
                "replicaInstanceIdentifier": replica,
                "replicaInstanceClass": "db.t3.medium",
            }},
            "failover": {"approval": {"required": false}, "allowDataLossWithoutApproval": true},
        },
    })
}

/// Per-test AWS identifiers, so tests share the emulator without colliding.
#[derive(Clone)]
pub struct AuroraNames {
    pub global: String,
    pub primary: String,
    pub standby: String,
}

impl AuroraNames {
    pub fn unique() -> Self {
        let s = unique_suffix();
        Self {
            global: format!("g-{s}"),
            primary: format!("p-{s}"),
            standby: format!("s-{s}"),
        }
    }
}

/// One test's world: its namespace, its AWS names and the manifest of its PilotLight `app`.
pub struct Scenario {
    pub client: Client,
    pub ns: TestNamespace,
    pub names: AuroraNames,
    pub manifest: Value,
}

impl Scenario {
    pub async fn new(prefix: &str) -> Self {
        let client = client().await;
        ensure_crds(&client).await;
        let ns = TestNamespace::new(&client, prefix).await;
        let names = AuroraNames::unique();
        let manifest = aurora_pilotlight("app", &names.primary, &names.standby, &names.global);
        Self {
            client,
            ns,
            names,
            manifest,
        }
    }

    pub async fn start_operator(&self) -> Operator {
        Operator::start(&self.client, fast_settings(&self.ns.name)).await
    }

    /// Applies the manifest after `edit` (a spec change makes the operator look at once).
    pub async fn apply(&mut self, edit: impl FnOnce(&mut Value)) -> PilotLight {
        edit(&mut self.manifest);
        apply_pilotlight(&self.client, &self.ns.name, self.manifest.clone()).await
    }

    pub async fn wait(&self, type_: &str, status: &str, reason: Option<&str>, timeout: Duration) -> PilotLight {
        wait_condition(&self.client, &self.ns.name, "app", type_, status, reason, timeout).await
    }

    /// Waits until condition `type_` is `status` for `reason`, and returns the PilotLight and that
    /// condition's message.
    pub async fn wait_for_reason(&self, type_: &str, status: &str, reason: &str) -> (PilotLight, String) {
        let pl = self.wait(type_, status, Some(reason), Duration::from_secs(90)).await;
        let message = condition(pl.status.as_ref().unwrap(), type_).message.clone();
        (pl, message)
    }

    pub async fn wait_ready(&self) -> PilotLight {
        self.wait("Ready", "True", None, Duration::from_secs(60)).await
    }

    pub async fn event_reasons(&self) -> Vec<String> {
        event_reasons(&self.client, &self.ns.name, "app").await
    }

    /// The notes of the Warning Events in the test's namespace.
    pub async fn warning_notes(&self) -> Vec<String> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.ns.name);
        api.list(&ListParams::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .filter_map(|e| e.message)
            .collect()
    }

    /// Deletes the PilotLight and waits until its finalizer has run and it is gone.
    pub async fn delete_pilotlight(&self) {
        let api: Api<PilotLight> = Api::namespaced(self.client.clone(), &self.ns.name);
        api.delete("app", &DeleteParams::default())
            .await
            .expect("delete PilotLight");
        eventually(Duration::from_secs(60), || async {
            api.get_opt("app").await.ok()?.is_none().then_some(())
        })
        .await
        .expect("PilotLight deleted after its cleanup");
    }
}

/// AWS names of [`full_setup`]'s PilotLight.
pub struct FullSetup {
    pub primary_bucket: String,
    pub standby_bucket: String,
    pub table: String,
    pub asg: String,
    pub template: String,
    pub image: String,
    pub zone: String,
    pub domain: String,
}

/// The seed article's whole setup for one PilotLight: creates the user's side in AWS (primary
/// cluster, buckets, table, source AMI, hosted zone) with this test's names, and sets the
/// scenario's manifest to a PilotLight with every component.
pub async fn full_setup(s: &mut Scenario) -> FullSetup {
    let suffix = unique_suffix();
    let seed = seed();
    let (primary_bucket, standby_bucket) = (format!("assets-{suffix}-use1"), format!("assets-{suffix}-usw2"));
    let table = format!("sessions-{suffix}");
    let (asg, template) = (format!("asg-{suffix}"), format!("lt-{suffix}"));
    create_primary_cluster("us-east-1", &s.names.primary).await;
    create_bucket("us-east-1", &primary_bucket).await;
    create_bucket("us-west-2", &standby_bucket).await;
    create_table(&table).await;
    let image = create_source_image(&format!("app-{suffix}")).await;
    let (zone, domain) = create_zone().await;
    let alb = |region: &str| {
        json!({
            "dnsName": seed["alb"][region]["dnsName"],
            "hostedZoneId": seed["alb"][region]["canonicalHostedZoneId"],
        })
    };
    let names = s.names.clone();
    s.manifest["spec"] = json!({
        "regions": {"primary": "us-east-1", "standby": "us-west-2"},
        "database": {"aurora": {
            "globalClusterIdentifier": names.global,
            "primaryClusterIdentifier": names.primary,
            "standbyClusterIdentifier": names.standby,
            "standbyInstanceClass": "db.r5.large",
            "writerEndpointRecord": {"hostedZoneId": zone, "name": format!("db.{domain}")},
        }},
        "storage": {
            "s3": [{
                "sourceBucket": primary_bucket,
                "destinationBucket": standby_bucket,
                "replicationRoleArn": seed["replicationRoleArn"],
            }],
            "dynamodb": [{"tableName": table}],
        },
        "compute": {
            "autoScalingGroup": {
                "name": asg,
                "subnetIds": seed["vpc"]["us-west-2"]["subnetIds"],
                "targetGroupArns": [seed["alb"]["us-west-2"]["targetGroupArn"]],
                "failover": {"minSize": 2, "desiredCapacity": 4, "maxSize": 10},
            },
            "launchTemplate": {"name": template, "sourceImageId": image, "instanceType": "c5.xlarge"},
        },
        "traffic": {"mode": "recordUpdate", "route53": {
            "hostedZoneId": zone,
            "recordName": format!("api.{domain}"),
            "primaryTarget": alb("us-east-1"),
            "standbyTarget": alb("us-west-2"),
            "healthCheck": {"fqdn": seed["alb"]["us-east-1"]["dnsName"], "requestInterval": 10, "failureThreshold": 3},
        }},
    });
    FullSetup {
        primary_bucket,
        standby_bucket,
        table,
        asg,
        template,
        image,
        zone,
        domain,
    }
}

/// A PilotLight manifest for an Aurora-only setup with per-test identifiers.
pub fn aurora_pilotlight(name: &str, primary: &str, standby: &str, global: &str) -> Value {
    json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "PilotLight",
        "metadata": {"name": name},
        "spec": {
            "regions": {"primary": "us-east-1", "standby": "us-west-2"},
            "database": {"aurora": {
                "globalClusterIdentifier": global,
                "primaryClusterIdentifier": primary,
                "standbyClusterIdentifier": standby,
                "standbyInstanceClass": "db.r5.large",
                "maxReplicationLag": "5s",
            }},
        }
    })
}

/// The approval guard's manifest: the ValidatingAdmissionPolicy and its binding, as shipped.
pub const APPROVAL_POLICY_FILE: &str = "deploy/admission/failoverrequest-approval.yaml";

/// Label of the namespaces where the tests' copy of the approval policy binding applies (see
/// [`install_approval_policy`]); [`approval_namespace`] creates namespaces with it.
pub const APPROVAL_TEST_LABEL: &str = "pilotlight.dev/approval-policy-test";

/// The two documents of [`APPROVAL_POLICY_FILE`].
pub fn approval_policy_documents() -> (
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
) {
    use serde::Deserialize;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(APPROVAL_POLICY_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect();
    let [policy, binding] = docs.as_slice() else {
        panic!("{}: expected two YAML documents, found {}", path.display(), docs.len())
    };
    (
        serde_json::from_value(policy.clone()).expect("the first document is a ValidatingAdmissionPolicy"),
        serde_json::from_value(binding.clone()).expect("the second document is a ValidatingAdmissionPolicyBinding"),
    )
}

/// Installs the FailoverRequest approval guard (server-side apply, idempotent) and waits until the
/// API server enforces it. Needs the CRDs ([`ensure_crds`]).
///
/// The policy is applied as shipped. The binding is too, except that it is limited to namespaces
/// labelled [`APPROVAL_TEST_LABEL`]: the shipped binding applies cluster-wide, and the test
/// environment is shared with tests that create FailoverRequests without the annotation
/// (`tests/integration/admission.rs`, whose fixtures and examples must stay valid for the CRD alone).
pub async fn install_approval_policy(client: &Client) {
    use k8s_openapi::{
        api::admissionregistration::v1::{MatchResources, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding},
        apimachinery::pkg::apis::meta::v1::LabelSelector,
    };
    let (policy, mut binding) = approval_policy_documents();
    let params = PatchParams::apply("pilot-light-tests").force();
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    policies
        .patch(&policy.name_any(), &params, &Patch::Apply(&policy))
        .await
        .expect("apply the ValidatingAdmissionPolicy");
    let spec = &mut binding.spec;
    assert!(
        spec.match_resources.is_none(),
        "the shipped binding applies cluster-wide"
    );
    spec.match_resources = Some(MatchResources {
        namespace_selector: Some(LabelSelector {
            match_labels: Some([(APPROVAL_TEST_LABEL.to_owned(), "true".to_owned())].into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    bindings
        .patch(&binding.name_any(), &params, &Patch::Apply(&binding))
        .await
        .expect("apply the ValidatingAdmissionPolicyBinding");

    // The API server enforces what its policy cache held at its last refresh (once a second, from
    // its informers), so the policy may be missing or an older version for a moment. Policies and
    // bindings reach those informers in the order they were written: once a sentinel policy and
    // binding written after the two above are enforced, so are the two above.
    let sentinel = format!("pilot-light-tests-sentinel-{}", unique_suffix());
    let sentinel_policy: ValidatingAdmissionPolicy = serde_json::from_value(json!({
        "metadata": {"name": sentinel},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [{
                    "apiGroups": ["pilotlight.dev"],
                    "apiVersions": ["v1alpha1"],
                    "operations": ["CREATE"],
                    "resources": ["failoverrequests"],
                }],
                "objectSelector": {"matchLabels": {"pilotlight.dev/approval-sentinel": sentinel}},
            },
            "validations": [{"expression": "false", "message": "sentinel"}],
        },
    }))
    .unwrap();
    let sentinel_binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
        "metadata": {"name": sentinel},
        "spec": {"policyName": sentinel, "validationActions": ["Deny"]},
    }))
    .unwrap();
    policies
        .create(&PostParams::default(), &sentinel_policy)
        .await
        .expect("create the sentinel policy");
    bindings
        .create(&PostParams::default(), &sentinel_binding)
        .await
        .expect("create the sentinel binding");
    // A dry-run create (nothing is stored) of a FailoverRequest only the sentinel matches.
    let requests: Api<FailoverRequest> = Api::namespaced(client.clone(), "default");
    let probe: FailoverRequest = serde_json::from_value(json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "FailoverRequest",
        "metadata": {"name": sentinel, "labels": {"pilotlight.dev/approval-sentinel": sentinel}},
        "spec": {"pilotLightRef": {"name": "app"}, "type": "Drill", "reason": "approval policy probe"},
    }))
    .unwrap();
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match requests.create(&dry_run, &probe).await {
            Err(kube::Error::Api(status)) if status.message.contains(&format!("with binding '{sentinel}'")) => break,
            other => assert!(
                Instant::now() < deadline,
                "the approval policy is not enforced after 30 s; last probe: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = bindings.delete(&sentinel, &DeleteParams::default()).await;
    let _ = policies.delete(&sentinel, &DeleteParams::default()).await;
}

/// The creator stamp's manifest: the MutatingAdmissionPolicy and its binding, as shipped.
pub const CREATOR_POLICY_FILE: &str = "deploy/admission/failoverrequest-creator.yaml";

/// Label of the namespaces where the tests' copy of the creator stamp's binding applies;
/// [`approval_namespace`] sets it beside [`APPROVAL_TEST_LABEL`].
pub const CREATOR_STAMP_TEST_LABEL: &str = "pilotlight.dev/creator-stamp-test";

/// Installs the creator stamp (server-side apply, idempotent), its binding limited to namespaces
/// labelled [`CREATOR_STAMP_TEST_LABEL`] as [`install_approval_policy`] limits the approval
/// guard's, and waits until the API server applies it: a dry-run create in a probe namespace
/// comes back stamped.
pub async fn install_creator_policy(client: &Client) {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    use serde::Deserialize;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CREATOR_POLICY_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect();
    assert_eq!(docs.len(), 2, "{}: a policy and its binding", path.display());
    assert!(
        docs[1]["spec"].get("matchResources").is_none(),
        "the shipped binding applies cluster-wide"
    );
    docs[1]["spec"]["matchResources"] =
        json!({"namespaceSelector": {"matchLabels": {CREATOR_STAMP_TEST_LABEL: "true"}}});
    let params = PatchParams::apply("pilot-light-tests").force();
    for doc in &docs {
        let kind = doc["kind"].as_str().unwrap();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", kind));
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let name = doc["metadata"]["name"].as_str().unwrap();
        api.patch(name, &params, &Patch::Apply(doc))
            .await
            .unwrap_or_else(|e| panic!("apply the {kind}: {e}"));
    }
    let probe_ns = "pilot-light-tests-creator-stamp";
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": {"name": probe_ns, "labels": {CREATOR_STAMP_TEST_LABEL: "true"}}
    }))
    .unwrap();
    match namespaces.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("create the probe namespace: {e}"),
    }
    let requests: Api<FailoverRequest> = Api::namespaced(client.clone(), probe_ns);
    let probe: FailoverRequest = serde_json::from_value(json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "FailoverRequest",
        "metadata": {"name": "probe", "annotations": {CREATED_BY: "nobody"}},
        "spec": {"pilotLightRef": {"name": "app"}, "type": "Drill", "reason": "creator stamp probe"},
    }))
    .unwrap();
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let stamped = eventually(Duration::from_secs(30), || async {
        let created = requests.create(&dry_run, &probe).await.ok()?;
        (created.annotations().get(CREATED_BY).map(String::as_str) != Some("nobody")).then_some(())
    })
    .await;
    assert!(stamped.is_some(), "the creator stamp is not applied after 30 s");
}

/// A fresh namespace where the tests' approval policy binding applies, deleted when dropped.
pub async fn approval_namespace(client: &Client, prefix: &str) -> TestNamespace {
    let name = format!("{prefix}-{}", unique_suffix());
    let api: Api<Namespace> = Api::all(client.clone());
    // Labelled at creation: the API server matches bindings against its cache of namespaces, so a
    // label added later takes effect only after a moment.
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {APPROVAL_TEST_LABEL: "true", CREATOR_STAMP_TEST_LABEL: "true"}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &ns).await.expect("create namespace");
    TestNamespace {
        name,
        client: client.clone(),
    }
}

/// A client of the test environment's API server that impersonates `user` (the admin of the
/// test kubeconfig may impersonate anyone).
pub async fn client_as(user: &str) -> Client {
    require_testenv();
    let mut config = kube::Config::infer().await.expect("kube config from KUBECONFIG");
    config.auth_info.impersonate = Some(user.to_owned());
    Client::try_from(config).expect("impersonating kube client")
}

/// Lets `users` create, read and change FailoverRequests (not their status) and read PilotLights
/// in `namespace`: a ClusterRole bound by a RoleBinding. Waits until the authorizer allows it.
pub async fn grant_failover_users(client: &Client, namespace: &str, users: &[&str]) {
    use k8s_openapi::api::{
        authorization::v1::SubjectAccessReview,
        rbac::v1::{ClusterRole, RoleBinding},
    };
    let params = PatchParams::apply("pilot-light-tests").force();
    let role_name = "pilot-light-tests-failover-user";
    let role: ClusterRole = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": role_name},
        "rules": [
            {
                "apiGroups": ["pilotlight.dev"],
                "resources": ["failoverrequests"],
                "verbs": ["create", "get", "list", "watch", "patch", "update"],
            },
            {"apiGroups": ["pilotlight.dev"], "resources": ["pilotlights"], "verbs": ["get"]},
        ],
    }))
    .unwrap();
    Api::<ClusterRole>::all(client.clone())
        .patch(role_name, &params, &Patch::Apply(&role))
        .await
        .expect("apply ClusterRole");
    let binding: RoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "failover-users", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": users
            .iter()
            .map(|user| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}))
            .collect::<Vec<_>>(),
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .patch("failover-users", &params, &Patch::Apply(&binding))
        .await
        .expect("apply RoleBinding");

    // The RBAC authorizer reads from a cache: ask it until every user may patch.
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    for user in users {
        let review: SubjectAccessReview = serde_json::from_value(json!({
            "spec": {
                "user": user,
                "resourceAttributes": {
                    "namespace": namespace,
                    "group": "pilotlight.dev",
                    "resource": "failoverrequests",
                    "verb": "patch",
                },
            },
        }))
        .unwrap();
        eventually(Duration::from_secs(30), || async {
            let answer = reviews.create(&PostParams::default(), &review).await.ok()?;
            answer.status?.allowed.then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("{user} may not patch FailoverRequests in {namespace} after 30 s"));
    }
}

/// Members of a global cluster as (cluster ARN, is writer), read from us-west-2.
pub async fn global_members(global: &str) -> Vec<(String, bool)> {
    let out = rds("us-west-2")
        .await
        .describe_global_clusters()
        .global_cluster_identifier(global)
        .send()
        .await
        .expect("describe global cluster");
    out.global_clusters()[0]
        .global_cluster_members()
        .iter()
        .map(|m| (m.db_cluster_arn().unwrap().to_owned(), m.is_writer().unwrap()))
        .collect()
}

/// The DB instances of `cluster` in `region`.
pub async fn cluster_instances(region: &str, cluster: &str) -> Vec<aws_sdk_rds::types::DbInstance> {
    rds(region)
        .await
        .describe_db_instances()
        .filters(
            aws_sdk_rds::types::Filter::builder()
                .name("db-cluster-id")
                .values(cluster)
                .build(),
        )
        .send()
        .await
        .expect("describe DB instances")
        .db_instances()
        .to_vec()
}

/// A new HTTP target group (port 80) in the seed's us-west-2 VPC; returns its ARN.
pub async fn create_target_group() -> String {
    elbv2("us-west-2")
        .await
        .create_target_group()
        .name(format!("tg-{}", unique_suffix()))
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(seed()["vpc"]["us-west-2"]["vpcId"].as_str().unwrap())
        .send()
        .await
        .expect("create target group")
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_owned()
}

/// UPSERTs `record` in hosted zone `zone` (one change, with `comment`).
pub async fn upsert_record(
    route53: &aws_sdk_route53::Client,
    zone: &str,
    record: aws_sdk_route53::types::ResourceRecordSet,
    comment: &str,
) -> Result<
    aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput,
    aws_sdk_route53::error::SdkError<
        aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError,
    >,
> {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
    let change = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(record)
        .build()
        .expect("a Route 53 change");
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .comment(comment)
                .changes(change)
                .build()
                .expect("a change batch"),
        )
        .send()
        .await
}

/// A benchmark's PilotLight count (`PILOT_LIGHT_BENCH_PILOTLIGHTS`, else `default`), or `None`
/// when the binary runs without `--bench` (`cargo test --all-targets` runs benches that way).
pub fn bench_pilotlights(bench: &str, default: usize) -> Option<usize> {
    if !std::env::args().any(|a| a == "--bench") {
        println!("{bench}: a benchmark; run it with `make bench-{bench}`");
        return None;
    }
    Some(
        std::env::var("PILOT_LIGHT_BENCH_PILOTLIGHTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}
