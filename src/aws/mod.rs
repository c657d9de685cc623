//! AWS access: one set of SDK clients per region, built once and shared by every reconcile.

pub mod arc;
pub mod autoscaling;
pub mod budget;
pub mod cloudwatch;
pub mod dynamodb;
pub mod ec2;
pub mod elasticache;
pub mod elbv2;
mod error;
pub mod iam;
pub mod rds;
pub mod route53;
pub mod s3;
pub mod shared;
pub mod states;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{Intercept, context::FinalizerInterceptorContextRef},
        orchestrator::Metadata,
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::ConfigBag;

pub use error::{AwsError, AwsErrorKind, found};

use crate::telemetry::Metrics;

/// The SDK clients of one region.
#[derive(Clone, Debug)]
pub struct RegionalClients {
    pub region: String,
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// Route 53 is global; its clients exist per region like the others and all reach the same
    /// service.
    pub route53: aws_sdk_route53::Client,
    /// IAM is global too.
    pub iam: aws_sdk_iam::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    /// Route 53 ARC's configuration API (only in [`arc::CONTROL_CONFIG_REGION`]).
    pub arc_config: aws_sdk_route53recoverycontrolconfig::Client,
}

/// Who calls AWS. The failover executor's clients carry their own app name (`NAME-failover` in
/// the User-Agent), so CloudTrail (and the emulator's call log) tell a request's calls apart
/// from convergence's reads made at the same time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Caller {
    Convergence,
    Failover,
}

/// Suffix of the failover executor's app name.
pub const FAILOVER_APP_SUFFIX: &str = "-failover";

/// Lazily built, cached [`RegionalClients`] for every region a PilotLight names.
pub struct AwsClients {
    base: SdkConfig,
    failover_base: SdkConfig,
    metrics: Arc<Metrics>,
    /// One HTTPS client (one connection pool) behind every SDK client.
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
    /// Requests a second per service, shared by convergence and every request.
    pub budgets: Arc<budget::RateBudgets>,
    regions: Mutex<HashMap<(Caller, String), Arc<RegionalClients>>>,
    cluster_endpoints: Mutex<HashMap<(Caller, String), arc::EndpointClient>>,
    /// Route 53 reads shared between PilotLights.
    pub route53_view: route53::Route53View,
    /// Standby Auto Scaling Groups by name, described together for many PilotLights.
    pub groups: shared::SharedReads<autoscaling::Group>,
    /// AMI copies by source image, described together for many PilotLights.
    pub image_copies: shared::SharedReads<Vec<ec2::AmiCopy>>,
    /// Aurora global clusters, standby instances and replication lags, likewise.
    pub global_clusters: shared::SharedReads<rds::GlobalCluster>,
    pub db_instances: shared::SharedReads<rds::DbInstance>,
    pub replication_lags: shared::SharedReads<cloudwatch::LagSample>,
    /// `ReplicaLag` of RDS read replicas, by region and instance.
    pub replica_lags: shared::SharedReads<cloudwatch::LagSample>,
}

/// Tag on everything the operator creates: `namespace/name` of the PilotLight. Only resources
/// carrying it are ever deleted (deletionPolicy `Delete`).
pub const OWNER_TAG: &str = "pilotlight.dev/owner";

/// Region whose endpoint global services (Route 53) are called through.
pub const GLOBAL_REGION: &str = "us-east-1";

impl AwsClients {
    /// Loads credentials and settings the standard way (environment, profile, IRSA, Pod
    /// Identity; `AWS_ENDPOINT_URL` for the emulator). Retries are the SDK's standard mode:
    /// throttling and transient errors are retried with jittered backoff before we see them.
    /// `app_name` goes into the User-Agent (`app/NAME`, `app/NAME-failover` for the failover
    /// executor), which CloudTrail and the emulator's call log show. One read serves other PilotLights' periodic checks for `shared_window`
    /// (see [`CheckIntervals::shared_read_window`](crate::config::CheckIntervals::shared_read_window)).
    pub async fn from_env(metrics: Arc<Metrics>, app_name: &str, shared_window: Duration) -> Self {
        let failover_app =
            aws_config::AppName::new(format!("{app_name}{FAILOVER_APP_SUFFIX}")).expect("valid AWS app name");
        let app_name = aws_config::AppName::new(app_name.to_owned()).expect("valid AWS app name");
        let base = aws_config::defaults(BehaviorVersion::latest())
            .app_name(app_name)
            .retry_config(RetryConfig::standard().with_max_attempts(4))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(15))
                    .operation_timeout(Duration::from_secs(45))
                    .build(),
            )
            .load()
            .await;
        Self {
            failover_base: base.to_builder().app_name(failover_app).build(),
            base,
            metrics,
            http: budget::default_https_client(),
            budgets: Arc::new(budget::RateBudgets::new(budget::BudgetRates::default())),
            regions: Mutex::default(),
            cluster_endpoints: Mutex::default(),
            route53_view: route53::Route53View::new(shared_window),
            groups: shared::SharedReads::new(shared_window),
            image_copies: shared::SharedReads::new(shared_window),
            global_clusters: shared::SharedReads::new(shared_window),
            db_instances: shared::SharedReads::new(shared_window),
            replication_lags: shared::SharedReads::new(shared_window),
            replica_lags: shared::SharedReads::new(shared_window),
        }
    }

    /// These clients with other rate budgets than the defaults ([`budget::DEFAULT_BUDGETS`]).
    pub fn with_rate_budgets(mut self, rates: budget::BudgetRates) -> Self {
        self.budgets = Arc::new(budget::RateBudgets::new(rates));
        self
    }

    /// The clients global services are called through.
    pub fn global(&self) -> Arc<RegionalClients> {
        self.region(GLOBAL_REGION)
    }

    /// Convergence's clients for `region`, built on first use.
    pub fn region(&self, region: &str) -> Arc<RegionalClients> {
        self.clients(Caller::Convergence, region)
    }

    /// The failover executor's clients for `region` (admission's reads included).
    pub fn failover(&self, region: &str) -> Arc<RegionalClients> {
        self.clients(Caller::Failover, region)
    }

    /// Clients of an ARC cluster's regional endpoints, each signed for its own region, with one
    /// short attempt: the retry is the next endpoint ([`arc::update_states`]).
    pub fn routing_control_endpoints(
        &self,
        caller: Caller,
        endpoints: &[arc::ClusterEndpoint],
    ) -> Vec<arc::EndpointClient> {
        let mut cache = self.cluster_endpoints.lock().expect("ARC endpoint cache lock poisoned");
        endpoints
            .iter()
            .map(|endpoint| {
                cache
                    .entry((caller, endpoint.url.clone()))
                    .or_insert_with(|| {
                        let config = aws_sdk_route53recoverycluster::config::Builder::from(self.base_of(caller))
                            .region(aws_config::Region::new(endpoint.region.clone()))
                            .endpoint_url(&endpoint.url)
                            .http_client(self.http.clone())
                            .retry_config(RetryConfig::disabled())
                            .timeout_config(
                                TimeoutConfig::builder()
                                    .connect_timeout(arc::ENDPOINT_ATTEMPT_TIMEOUT)
                                    .operation_timeout(arc::ENDPOINT_ATTEMPT_TIMEOUT)
                                    .build(),
                            )
                            .interceptor(CallCounter {
                                metrics: self.metrics.clone(),
                                region: endpoint.region.clone(),
                            })
                            .build();
                        arc::EndpointClient {
                            region: endpoint.region.clone(),
                            client: aws_sdk_route53recoverycluster::Client::from_conf(config),
                        }
                    })
                    .clone()
            })
            .collect()
    }

    fn base_of(&self, caller: Caller) -> &SdkConfig {
        match caller {
            Caller::Convergence => &self.base,
            Caller::Failover => &self.failover_base,
        }
    }

    fn clients(&self, caller: Caller, region: &str) -> Arc<RegionalClients> {
        let base = self.base_of(caller);
        let mut regions = self.regions.lock().expect("AWS client cache lock poisoned");
        regions
            .entry((caller, region.to_owned()))
            .or_insert_with(|| {
                let config = base
                    .to_builder()
                    .region(aws_config::Region::new(region.to_owned()))
                    .build();
                let counter = CallCounter {
                    metrics: self.metrics.clone(),
                    region: region.to_owned(),
                };
                let paced = |service| self.budgets.wrap(&self.http, service, region, caller);
                Arc::new(RegionalClients {
                    region: region.to_owned(),
                    rds: aws_sdk_rds::Client::from_conf(
                        aws_sdk_rds::config::Builder::from(&config)
                            .http_client(paced("rds"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                        aws_sdk_cloudwatch::config::Builder::from(&config)
                            .http_client(paced("monitoring"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    dynamodb: aws_sdk_dynamodb::Client::from_conf(
                        aws_sdk_dynamodb::config::Builder::from(&config)
                            .http_client(paced("dynamodb"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    ec2: aws_sdk_ec2::Client::from_conf(
                        aws_sdk_ec2::config::Builder::from(&config)
                            .http_client(paced("ec2"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    autoscaling: aws_sdk_autoscaling::Client::from_conf(
                        aws_sdk_autoscaling::config::Builder::from(&config)
                            .http_client(paced("autoscaling"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    route53: aws_sdk_route53::Client::from_conf(
                        aws_sdk_route53::config::Builder::from(&config)
                            .http_client(paced("route53"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    iam: aws_sdk_iam::Client::from_conf(
                        aws_sdk_iam::config::Builder::from(&config)
                            .http_client(paced("iam"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    arc_config: aws_sdk_route53recoverycontrolconfig::Client::from_conf(
                        aws_sdk_route53recoverycontrolconfig::config::Builder::from(&config)
                            .http_client(paced("route53-recovery-control-config"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                        aws_sdk_elasticloadbalancingv2::config::Builder::from(&config)
                            .http_client(paced("elasticloadbalancing"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    elasticache: aws_sdk_elasticache::Client::from_conf(
                        aws_sdk_elasticache::config::Builder::from(&config)
                            .http_client(paced("elasticache"))
                            .interceptor(counter.clone())
                            .build(),
                    ),
                    s3: aws_sdk_s3::Client::from_conf(
                        aws_sdk_s3::config::Builder::from(&config)
                            .http_client(paced("s3"))
                            .interceptor(counter)
                            // A custom endpoint (the emulator, a VPC endpoint by IP) has no
                            // per-bucket host names.
                            .force_path_style(custom_endpoint())
                            .build(),
                    ),
                })
            })
            .clone()
    }
}

fn custom_endpoint() -> bool {
    std::env::var_os("AWS_ENDPOINT_URL").is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
}

/// Counts every HTTP attempt to AWS by service, operation, region and outcome.
#[derive(Clone, Debug)]
struct CallCounter {
    metrics: Arc<Metrics>,
    region: String,
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "pilot-light-call-counter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let outcome = match context.response().map(|r| r.status().as_u16()) {
            Some(200..=299) => "ok",
            Some(400..=499) => "client_error",
            Some(_) => "server_error",
            None => "unreachable",
        };
        self.metrics.aws_call(&service, &operation, &self.region, outcome);
        Ok(())
    }
}
