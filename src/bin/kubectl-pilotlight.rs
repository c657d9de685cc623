//! `kubectl pilotlight`: status, plans and FailoverRequests from the command line. Install the
//! binary on the PATH as `kubectl-pilotlight`.

use std::{process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use futures::TryStreamExt;
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams},
    runtime::{WatchStreamExt, watcher},
};
use pilot_light::{
    api::{CREATED_BY, Evacuation, EvacuationPhase, FailoverRequest, FailoverType, PilotLight, RequestPhase},
    context::whoami,
    plugin,
};

#[derive(Parser)]
#[command(
    name = "kubectl-pilotlight",
    version,
    about = "Pilot-light disaster recovery from kubectl"
)]
struct Cli {
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// Act as this user (Kubernetes impersonation, as `kubectl --as`): e.g. an on-call lead's
    /// approval from a shared admin context, if RBAC lets you impersonate them.
    #[arg(long = "as", global = true, value_name = "USER")]
    as_user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// PilotLights at a glance, or one in detail (conditions, a running request's steps).
    Status { name: Option<String> },
    /// The plan a request would run, from a dry run the operator admits like a real request.
    Plan {
        name: String,
        #[arg(long = "type", value_parser = parse_type, default_value = "Failover")]
        type_: FailoverType,
    },
    /// Unplanned failover to the standby region (may lose the replication lag's writes).
    Failover(RequestArgs),
    /// Planned switchover to the standby region (no data loss; needs the primary region).
    Switchover(RequestArgs),
    /// Rehearsal: standby compute up, smoke test, back to zero.
    Drill(RequestArgs),
    /// Switch back to the primary region.
    Failback(RequestArgs),
    /// Approve a request (or `evacuation/NAME`) as yourself (you cannot approve your own).
    Approve { request: String },
    /// Stop a request before its next step (`evacuation/NAME`: start no further request).
    Cancel { request: String },
    /// Fail over (switch over, drill, fail back) many PilotLights with one Evacuation and one
    /// approval: those `--selector` picks in `--namespaces` (or every namespace), in tiers.
    Evacuate(EvacuateArgs),
    /// Evacuations at a glance, or one in detail (counts, RTO percentiles, failures, members).
    Evacuation { name: Option<String> },
    /// FailoverRequests, oldest first (of one PilotLight when named).
    History { name: Option<String> },
}

#[derive(clap::Args)]
struct RequestArgs {
    /// The PilotLight.
    name: String,
    /// Why, for the record (an incident or change number).
    #[arg(long)]
    reason: String,
    /// Fail over although the standby is not Ready.
    #[arg(long)]
    force: bool,
    /// Follow the request until it ends.
    #[arg(long)]
    wait: bool,
    /// Drill only: warm the standby first and measure the drill from warm.
    #[arg(long)]
    prewarm: bool,
}

#[derive(clap::Args)]
struct EvacuateArgs {
    /// Why, for the record (an incident number); copied into every request.
    #[arg(long)]
    reason: String,
    #[arg(long = "type", value_parser = parse_type, default_value = "Failover")]
    type_: FailoverType,
    /// PilotLights with these labels (KEY=VALUE,...); without it, every PilotLight there.
    #[arg(long, short = 'l', default_value = "")]
    selector: String,
    /// Namespaces to look in (comma-separated); default: every namespace.
    #[arg(long, value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Only PilotLights active in this region (the region being evacuated).
    #[arg(long)]
    from_region: Option<String>,
    /// Requests running at once.
    #[arg(long, default_value_t = 10)]
    max_concurrent: u32,
    /// Also PilotLights that are not Ready.
    #[arg(long)]
    force: bool,
    /// Write every plan and readiness; change nothing, need no approval.
    #[arg(long)]
    dry_run: bool,
    /// Name of the Evacuation (default: generated from the type).
    #[arg(long)]
    name: Option<String>,
}

fn parse_type(value: &str) -> std::result::Result<FailoverType, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| format!("{value}: one of Failover, Switchover, Drill, Failback"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

async fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = kube::Config::infer().await?;
    config.auth_info.impersonate = cli.as_user.clone();
    let client = Client::try_from(config)?;
    let namespace = cli
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let pilotlights: Api<PilotLight> = Api::namespaced(client.clone(), &namespace);
    let requests: Api<FailoverRequest> = Api::namespaced(client.clone(), &namespace);
    match cli.command {
        Command::Status { name: None } => print!(
            "{}",
            plugin::status_table(&pilotlights.list(&ListParams::default()).await?.items)
        ),
        Command::Status { name: Some(name) } => {
            let pl = pilotlights.get(&name).await?;
            let open = requests
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .find(|r| {
                    r.spec.pilot_light_ref.name == name
                        && matches!(
                            r.status.as_ref().and_then(|s| s.phase),
                            Some(RequestPhase::Running | RequestPhase::AwaitingApproval)
                        )
                });
            print!("{}", plugin::status_detail(&pl, open.as_ref()));
        }
        Command::Plan { name, type_ } => {
            let me = whoami(&client).await?;
            let mut request = FailoverRequest::against(&name, type_, "kubectl pilotlight plan", &me);
            request.spec.dry_run = true;
            let created = requests.create(&PostParams::default(), &request).await?;
            return follow(&requests, &created.name_any()).await;
        }
        Command::Failover(args) => return start(&client, &requests, FailoverType::Failover, args).await,
        Command::Switchover(args) => return start(&client, &requests, FailoverType::Switchover, args).await,
        Command::Drill(args) => return start(&client, &requests, FailoverType::Drill, args).await,
        Command::Failback(args) => return start(&client, &requests, FailoverType::Failback, args).await,
        Command::Approve { request } if request.starts_with("evacuation/") => {
            let me = whoami(&client).await?;
            let name = request.trim_start_matches("evacuation/");
            set(
                &Api::<Evacuation>::all(client.clone()),
                name,
                serde_json::json!({"approvedBy": me}),
            )
            .await?;
            println!("{request} approved by {me}: its requests start now, tier by tier");
        }
        Command::Cancel { request } if request.starts_with("evacuation/") => {
            let name = request.trim_start_matches("evacuation/");
            set(
                &Api::<Evacuation>::all(client.clone()),
                name,
                serde_json::json!({"cancel": true}),
            )
            .await?;
            println!("{request}: cancel requested; no further request starts, running ones finish");
        }
        Command::Evacuate(args) => return evacuate(&client, args).await,
        Command::Evacuation { name: None } => {
            let all = Api::<Evacuation>::all(client.clone())
                .list(&ListParams::default())
                .await?;
            for e in &all.items {
                let status = e.status.clone().unwrap_or_default();
                println!(
                    "{}  {:?}  {}",
                    e.name_any(),
                    e.spec.type_,
                    status.message.as_deref().unwrap_or("not seen by the operator yet")
                );
            }
        }
        Command::Evacuation { name: Some(name) } => {
            let e = Api::<Evacuation>::all(client.clone()).get(&name).await?;
            print!("{}", plugin::evacuation_summary(&e));
        }
        Command::Approve { request } => {
            let me = whoami(&client).await?;
            set(&requests, &request, serde_json::json!({"approvedBy": me})).await?;
            println!("{request} approved by {me}");
        }
        Command::Cancel { request } => {
            set(&requests, &request, serde_json::json!({"cancel": true})).await?;
            println!("{request}: cancel requested; it stops before its next step");
        }
        Command::History { name } => {
            let mut items = requests.list(&ListParams::default()).await?.items;
            items.retain(|r| name.as_ref().is_none_or(|n| r.spec.pilot_light_ref.name == *n));
            print!("{}", plugin::history_table(&items));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Merges `spec` into the object's spec, as `kubectl patch --type merge` does.
async fn set<K>(api: &Api<K>, name: &str, spec: serde_json::Value) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({"spec": spec})),
    )
    .await?;
    Ok(())
}

/// Creates the Evacuation, recording the caller as its creator, and prints who is in it once the
/// operator has fixed the set.
async fn evacuate(client: &Client, args: EvacuateArgs) -> Result<ExitCode> {
    let me = whoami(client).await?;
    let selector = plugin::label_selector(&args.selector)?;
    let mut manifest = serde_json::json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "Evacuation",
        "metadata": {"annotations": {CREATED_BY: me}},
        "spec": {
            "type": args.type_,
            "reason": args.reason,
            "namespaces": args.namespaces,
            "selector": selector,
            "maxConcurrent": args.max_concurrent,
            "force": args.force,
            "dryRun": args.dry_run,
        },
    });
    match &args.name {
        Some(name) => manifest["metadata"]["name"] = serde_json::json!(name),
        None => {
            manifest["metadata"]["generateName"] =
                serde_json::json!(format!("{}-", format!("{:?}", args.type_).to_lowercase()))
        }
    }
    if let Some(region) = &args.from_region {
        manifest["spec"]["fromRegion"] = serde_json::json!(region);
    }
    let evacuation: Evacuation = serde_json::from_value(manifest)?;
    let api = Api::<Evacuation>::all(client.clone());
    let created = api.create(&PostParams::default(), &evacuation).await?;
    let name = created.name_any();
    println!("evacuation/{name} created by {me}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let e = api.get(&name).await?;
        if e.phase().is_some() {
            print!("{}", plugin::evacuation_summary(&e));
            if e.phase() == Some(EvacuationPhase::AwaitingApproval) {
                println!("waiting for a second person: kubectl pilotlight approve evacuation/{name}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("the operator has not taken it up yet: kubectl pilotlight evacuation {name}");
    Ok(ExitCode::SUCCESS)
}

async fn start(
    client: &Client,
    requests: &Api<FailoverRequest>,
    type_: FailoverType,
    args: RequestArgs,
) -> Result<ExitCode> {
    let me = whoami(client).await?;
    let mut request = FailoverRequest::against(&args.name, type_, &args.reason, &me);
    request.spec.force = args.force;
    request.spec.prewarm = args.prewarm;
    let created = requests.create(&PostParams::default(), &request).await?;
    let name = created.name_any();
    println!("{name} created by {me}");
    if args.wait {
        return follow(requests, &name).await;
    }
    println!("follow it with: kubectl pilotlight status {}", args.name);
    Ok(ExitCode::SUCCESS)
}

/// Prints the request's steps whenever they change, until it ends or waits for approval.
/// Exits non-zero unless it succeeded.
async fn follow(requests: &Api<FailoverRequest>, name: &str) -> Result<ExitCode> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(requests.clone(), config).applied_objects());
    let mut last = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, stream.try_next()).await else {
            eprintln!(
                "stopped following {name} after an hour; it has not ended: kubectl pilotlight status shows where it is"
            );
            return Ok(ExitCode::FAILURE);
        };
        let Some(request) = next? else { break };
        let shown = plugin::steps_table(&request);
        if shown != last {
            println!("{shown}");
            last = shown;
        }
        let phase = request.status.as_ref().and_then(|s| s.phase);
        if phase == Some(RequestPhase::AwaitingApproval) {
            println!("waiting for a second person: kubectl pilotlight approve {name}");
            return Ok(ExitCode::SUCCESS);
        }
        if request.is_final() {
            return Ok(if phase == Some(RequestPhase::Succeeded) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
    }
    Ok(ExitCode::FAILURE)
}
