use std::{net::SocketAddr, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use pilot_light::{
    aws::budget::BudgetRates,
    config::{CheckIntervals, Settings},
    leader::{LeaseSettings, default_identity, lease_name},
    telemetry::{LogFormat, init_tracing},
};

#[derive(Parser)]
#[command(name = "pilot-light", version, about = "AWS pilot-light disaster recovery operator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (`pilot-light crd | kubectl apply -f -`).
    Crd {
        /// Write one file per CRD into this directory instead (how `crds/` is generated).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "PILOT_LIGHT_ADMIN_ADDR", default_value = "0.0.0.0:8080")]
    admin_addr: SocketAddr,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "PILOT_LIGHT_NAMESPACE")]
    namespace: Option<String>,
    /// Own only the PilotLights matching this label selector (e.g. `shard=a`): one of several
    /// operator Deployments, each with its own leader Lease. Requests are run by the shard of
    /// their PilotLight. Default: every PilotLight.
    #[arg(long, env = "PILOT_LIGHT_PILOTLIGHT_SELECTOR")]
    pilotlight_selector: Option<String>,
    /// Run the Evacuation controller (default: true, but false with --pilotlight-selector: of
    /// the shards of an estate, one runs the Evacuations; each request is run by its shard).
    #[arg(long, env = "PILOT_LIGHT_EVACUATIONS", action = clap::ArgAction::Set)]
    evacuations: Option<bool>,
    /// PilotLights converged at once (a queue for the AWS rate budgets shorter than the SDK's
    /// 15 s attempt timeout; requests are not limited by it).
    #[arg(long, env = "PILOT_LIGHT_MAX_CONCURRENT_RECONCILES", default_value_t = 16)]
    max_concurrent_reconciles: u16,
    /// Log format.
    #[arg(long, env = "PILOT_LIGHT_LOG_FORMAT", value_enum, default_value = "json")]
    log_format: LogFormat,
    /// Seconds between checks of a healthy Aurora global database (replication lag included).
    /// The four check intervals set the steady-state AWS cost.
    #[arg(long, env = "PILOT_LIGHT_DATABASE_CHECK_INTERVAL", default_value_t = 900)]
    database_check_interval: u64,
    /// Seconds between checks of healthy S3 replication and DynamoDB replicas.
    #[arg(long, env = "PILOT_LIGHT_STORAGE_CHECK_INTERVAL", default_value_t = 1800)]
    storage_check_interval: u64,
    /// Seconds between checks of healthy standby compute (AMI copy, launch template, ASG).
    #[arg(long, env = "PILOT_LIGHT_COMPUTE_CHECK_INTERVAL", default_value_t = 1800)]
    compute_check_interval: u64,
    /// Seconds between checks of healthy Route 53 health checks and records.
    #[arg(long, env = "PILOT_LIGHT_TRAFFIC_CHECK_INTERVAL", default_value_t = 3600)]
    traffic_check_interval: u64,
    /// Seconds between checks of the DR cache's prerequisites while Ready.
    #[arg(long, env = "PILOT_LIGHT_CACHE_CHECK_INTERVAL", default_value_t = 3600)]
    cache_check_interval: u64,
    /// Seconds between checks of the DR load balancer while Ready.
    #[arg(long, env = "PILOT_LIGHT_LOAD_BALANCER_CHECK_INTERVAL", default_value_t = 3600)]
    load_balancer_check_interval: u64,
    /// Seconds between checks while resources are being created or changed.
    #[arg(long, env = "PILOT_LIGHT_CONVERGING_INTERVAL", default_value_t = 5)]
    converging_interval: u64,
    /// Seconds between checks while converged but outside a threshold (lag high or stale).
    #[arg(long, env = "PILOT_LIGHT_DEGRADED_INTERVAL", default_value_t = 60)]
    degraded_interval: u64,
    /// Run the controllers only while holding the leader Lease (for several replicas).
    #[arg(long, env = "PILOT_LIGHT_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Namespace of the leader Lease (in a cluster: the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    leader_election_namespace: String,
    /// Seconds between looks at the primary region's health and the drill schedules. Each
    /// PilotLight with `spec.detection` costs one Route 53 GetHealthCheckStatus per look (Route 53
    /// allows 5 requests a second per account).
    #[arg(long, env = "PILOT_LIGHT_DETECTION_INTERVAL", default_value_t = 30)]
    detection_interval: u64,
    /// Longest retry delay after AWS errors, in seconds.
    #[arg(long, env = "PILOT_LIGHT_MAX_BACKOFF", default_value_t = 120)]
    max_backoff: u64,
    /// DNS server (IP:port) asked whether the application's name answers the new region after
    /// a failover, e.g. one of the hosted zone's Route 53 name servers, whose answers are not
    /// cached; the system's resolver when unset.
    #[arg(long, env = "PILOT_LIGHT_DNS_SERVER")]
    dns_server: Option<std::net::SocketAddr>,
    /// Requests a second the operator sends to an AWS service, as SERVICE=RATE (repeatable or
    /// comma-separated; 0 lifts a budget), shared by convergence and every request. Defaults:
    /// route53=5 (Route 53's documented account limit), rds=10, autoscaling=10, ec2=10.
    #[arg(
        long = "aws-rate-budget",
        env = "PILOT_LIGHT_AWS_RATE_BUDGETS",
        value_delimiter = ','
    )]
    aws_rate_budget: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Crd { dir: None } => {
            for (_, yaml) in pilot_light::api::crd_documents() {
                print!("---\n{yaml}");
            }
            ExitCode::SUCCESS
        }
        Command::Crd { dir: Some(dir) } => {
            for (file, yaml) in pilot_light::api::crd_documents() {
                if let Err(e) = std::fs::write(dir.join(file), yaml) {
                    eprintln!("pilot-light: writing {}: {e}", dir.join(file).display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Run(args) => {
            init_tracing(args.log_format);
            let rate_budgets = match BudgetRates::parse(args.aws_rate_budget.iter().map(String::as_str)) {
                Ok(rates) => rates,
                Err(e) => {
                    eprintln!("pilot-light: --aws-rate-budget: {e}");
                    return ExitCode::from(2);
                }
            };
            let settings = Settings {
                check_intervals: CheckIntervals {
                    database: Duration::from_secs(args.database_check_interval),
                    storage: Duration::from_secs(args.storage_check_interval),
                    compute: Duration::from_secs(args.compute_check_interval),
                    traffic: Duration::from_secs(args.traffic_check_interval),
                    cache: Duration::from_secs(args.cache_check_interval),
                    load_balancer: Duration::from_secs(args.load_balancer_check_interval),
                },
                converging_interval: Duration::from_secs(args.converging_interval),
                degraded_interval: Duration::from_secs(args.degraded_interval),
                detection_interval: Duration::from_secs(args.detection_interval),
                backoff_max: Duration::from_secs(args.max_backoff),
                handle_evacuations: args
                    .evacuations
                    .unwrap_or_else(|| Settings::handles_evacuations_by_default(args.pilotlight_selector.as_deref())),
                namespace: args.namespace,
                pilotlight_selector: args.pilotlight_selector,
                dns_server: args.dns_server,
                rate_budgets,
                max_concurrent_reconciles: args.max_concurrent_reconciles,
                ..Settings::default()
            };
            // Operators watching different namespaces or shards hold different Leases.
            let lease = args.leader_election.then(|| {
                let name = lease_name(settings.namespace.as_deref(), settings.pilotlight_selector.as_deref());
                LeaseSettings::new(args.leader_election_namespace.clone(), name, default_identity())
            });
            match pilot_light::run::run(args.admin_addr, settings, lease).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "pilot-light cannot run");
                    eprintln!("pilot-light: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
