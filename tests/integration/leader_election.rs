//! Two `pilot-light run` processes against the test environment: only the Lease holder
//! reconciles; when it is killed the other takes over within the lease duration; a clean
//! shutdown releases the Lease.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use crate::common::*;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use serde_json::json;

struct Replica {
    name: &'static str,
    port: u16,
    process: KillOnDrop,
}

fn start(name: &'static str, namespace: &str) -> Replica {
    let port = free_port();
    let log = std::fs::File::create(std::env::temp_dir().join(format!("pilot-light-{namespace}-{name}.log"))).unwrap();
    let mut command = operator_command(port, namespace);
    command
        .args(["--leader-election-namespace", namespace])
        .env("POD_NAME", name)
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    Replica {
        name,
        port,
        process: KillOnDrop(Some(command.spawn().unwrap())),
    }
}

impl Replica {
    async fn metrics(&self) -> String {
        get(&format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    async fn is_leader(&self) -> bool {
        self.metrics().await.lines().any(|l| l == "pilot_light_leader 1")
    }

    async fn reconciliations(&self) -> u64 {
        self.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix("pilot_light_reconciliations_total{controller=\"pilotlight\"} "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

async fn holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    leases.get_opt(name).await.ok()??.spec?.holder_identity
}

/// The smallest PilotLight admission accepts: one DynamoDB table (created here).
async fn pilotlight(name: &str) -> serde_json::Value {
    let table = format!("leader-{name}-{}", unique_suffix());
    create_table(&table).await;
    json!({
        "apiVersion": "pilotlight.dev/v1alpha1",
        "kind": "PilotLight",
        "metadata": {"name": name},
        "spec": {
            "regions": {"primary": "us-east-1", "standby": "us-west-2"},
            "storage": {"dynamodb": [{"tableName": table}]},
        },
    })
}

#[tokio::test]
async fn only_the_leader_reconciles_and_a_standby_takes_over_within_the_lease_duration() {
    let client = client().await;
    ensure_crds(&client).await;
    let ns = TestNamespace::new(&client, "leader").await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns.name);
    let lease = format!("pilot-light-{}", ns.name);

    let first = start("replica-a", &ns.name);
    let leader = eventually(Duration::from_secs(30), || async { holder(&leases, &lease).await }).await;
    assert_eq!(leader.as_deref(), Some("replica-a"));
    let mut second = start("replica-b", &ns.name);
    eventually(Duration::from_secs(30), || async {
        get(&format!("http://127.0.0.1:{}/readyz", second.port))
            .await
            .filter(|(status, _)| *status == 200)
    })
    .await
    .expect("the standby replica is ready to take over");

    apply_pilotlight(&client, &ns.name, pilotlight("one").await).await;
    wait_condition(&client, &ns.name, "one", "Ready", "True", None, Duration::from_secs(30)).await;
    assert!(first.is_leader().await, "{}", first.metrics().await);
    assert!(!second.is_leader().await, "{}", second.metrics().await);
    assert!(first.reconciliations().await > 0);
    assert_eq!(second.reconciliations().await, 0, "the standby does not reconcile");
    assert_eq!(holder(&leases, &lease).await.as_deref(), Some("replica-a"));

    // The leader dies without a word (SIGKILL): the standby takes over once the Lease expires.
    let killed = Instant::now();
    drop(first);
    let taken = eventually(Duration::from_secs(40), || async {
        (holder(&leases, &lease).await.as_deref() == Some(second.name)).then_some(())
    })
    .await;
    let takeover = killed.elapsed();
    assert!(taken.is_some(), "replica-b never took the Lease");
    assert!(
        takeover < Duration::from_secs(15),
        "took over in {takeover:?}: the Lease lasts 10 s, standbys look every second"
    );
    println!(
        "standby took over {:.1} s after the leader was killed",
        takeover.as_secs_f64()
    );
    apply_pilotlight(&client, &ns.name, pilotlight("two").await).await;
    wait_condition(&client, &ns.name, "two", "Ready", "True", None, Duration::from_secs(30)).await;
    assert!(second.reconciliations().await > 0, "the new leader reconciles");

    // A clean shutdown hands the Lease back at once.
    let pid = second.process.0.as_ref().unwrap().id();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let exited = second.process.0.take().unwrap().wait().unwrap();
    assert!(exited.success(), "{exited:?}");
    assert_eq!(holder(&leases, &lease).await, None, "Lease released on SIGTERM");
}
