//! The request's status as its journal: every change is written to the API server (server-side
//! apply, one field manager) before the executor goes on, so a restarted operator finds exactly
//! where the request stopped.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Resource,
    api::{Patch, PatchParams},
};
use std::sync::Mutex;

use crate::{
    api::{FailoverRequest, FailoverRequestStatus, StepState, StepStatus},
    context::MANAGER,
};

use super::plan::StepKind;

/// The status of one request, shared by its concurrently running steps. The status itself is
/// behind a plain lock (never held across an await, so the executor can read and note without
/// waiting for steps); writes are serialized and each carries the latest status.
pub struct Journal {
    api: Api<FailoverRequest>,
    name: String,
    status: Mutex<FailoverRequestStatus>,
    writes: tokio::sync::Mutex<()>,
}

impl Journal {
    pub fn new(api: Api<FailoverRequest>, name: String, status: FailoverRequestStatus) -> Self {
        Self {
            api,
            name,
            status: Mutex::new(status),
            writes: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FailoverRequestStatus> {
        self.status.lock().expect("journal lock poisoned")
    }

    pub fn snapshot(&self) -> FailoverRequestStatus {
        self.lock().clone()
    }

    /// Changes the status and writes it.
    pub async fn update(&self, change: impl FnOnce(&mut FailoverRequestStatus)) -> Result<(), kube::Error> {
        let _writing = self.writes.lock().await;
        let status = {
            let mut status = self.lock();
            change(&mut status);
            status.clone()
        };
        write(&self.api, &self.name, &status).await
    }

    /// Changes the status in memory only; the next write carries it.
    pub fn note(&self, change: impl FnOnce(&mut FailoverRequestStatus)) {
        change(&mut self.lock());
    }

    /// Changes one step and writes the status.
    pub async fn step(&self, kind: StepKind, change: impl FnOnce(&mut StepStatus)) -> Result<(), kube::Error> {
        self.update(|status| {
            if let Some(step) = status.steps.iter_mut().find(|s| s.name == kind.name()) {
                change(step);
            }
            status.current_step = Some(kind.name().to_owned());
        })
        .await
    }

    /// Before a mutating call: the step is Running, one more attempt, and what it calls.
    pub async fn calling(&self, kind: StepKind, call: String) -> Result<(), kube::Error> {
        self.step(kind, |s| {
            s.state = StepState::Running;
            s.started_at.get_or_insert_with(now);
            s.attempts += 1;
            s.message = Some(format!("calling {call}"));
        })
        .await
    }

    /// After a mutating call returned: what it did and what to wait for.
    pub async fn called(&self, kind: StepKind, message: String, operation: Option<String>) -> Result<(), kube::Error> {
        self.step(kind, |s| {
            s.message = Some(message);
            if operation.is_some() {
                s.operation = operation;
            }
        })
        .await
    }

    /// The operation an earlier attempt of `kind` started, if any.
    pub fn operation(&self, kind: StepKind) -> Option<String> {
        self.lock()
            .steps
            .iter()
            .find(|s| s.name == kind.name())
            .and_then(|s| s.operation.clone())
    }
}

pub fn now() -> Time {
    Time(Timestamp::now())
}

/// Server-side applies `status` as the request's whole status.
pub async fn write(api: &Api<FailoverRequest>, name: &str, status: &FailoverRequestStatus) -> Result<(), kube::Error> {
    let patch = serde_json::json!({
        "apiVersion": FailoverRequest::api_version(&()),
        "kind": FailoverRequest::kind(&()),
        "status": status,
    });
    api.patch_status(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&patch))
        .await?;
    Ok(())
}
