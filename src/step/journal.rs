//! The request's status as its journal, written to the API server (server-side apply, one field
//! manager) before and after every mutating call, so a restarted operator finds where the
//! request stopped. Steps observe AWS before they act, so a state noted but not yet written
//! (a step started, or done without a call) is found again by observation.

use futures::{FutureExt, future::BoxFuture};
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Resource,
    api::{Patch, PatchParams},
};
use std::sync::Mutex;

use crate::{
    api::{FailoverRequest, FailoverRequestStatus, StepKind, StepState, StepStatus},
    config::MANAGER,
};

/// The status of one request, shared by its concurrently running steps. The status itself is
/// behind a plain lock (never held across an await, so the executor can read and note without
/// waiting for steps). Writes are serialized and group-committed: each carries the latest
/// status, and a change that a write already carried is not written again.
pub struct Journal {
    sink: Box<dyn Sink>,
    /// The status and its version (bumped by every change).
    status: Mutex<(FailoverRequestStatus, u64)>,
    /// The version last written.
    written: tokio::sync::Mutex<u64>,
}

impl Journal {
    /// A journal written to the request `name` through `api`.
    pub fn new(api: Api<FailoverRequest>, name: String, status: FailoverRequestStatus) -> Self {
        Self::with_sink(Box::new(RequestStatus { api, name }), status)
    }

    pub fn with_sink(sink: Box<dyn Sink>, status: FailoverRequestStatus) -> Self {
        Self {
            sink,
            status: Mutex::new((status, 0)),
            written: tokio::sync::Mutex::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (FailoverRequestStatus, u64)> {
        self.status.lock().expect("journal lock poisoned")
    }

    pub fn snapshot(&self) -> FailoverRequestStatus {
        self.lock().0.clone()
    }

    /// Changes the status and returns once the change is written.
    pub async fn update(&self, change: impl FnOnce(&mut FailoverRequestStatus)) -> Result<(), kube::Error> {
        self.note(change);
        self.flush().await
    }

    /// Changes the status in memory only; the next write carries it.
    pub fn note(&self, change: impl FnOnce(&mut FailoverRequestStatus)) {
        let mut guard = self.lock();
        change(&mut guard.0);
        guard.1 += 1;
    }

    /// Returns once every change noted so far is written: at once when a write that started
    /// after them already carried them, else after writing the latest status.
    pub async fn flush(&self) -> Result<(), kube::Error> {
        let wanted = self.lock().1;
        let mut written = self.written.lock().await;
        if *written >= wanted {
            return Ok(());
        }
        let (status, version) = self.lock().clone();
        self.sink.write(&status).await?;
        *written = version;
        Ok(())
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
            .0
            .steps
            .iter()
            .find(|s| s.name == kind.name())
            .and_then(|s| s.operation.clone())
    }
}

/// Where a journal's writes go: the request's status, or (in unit tests) memory.
pub trait Sink: Send + Sync {
    fn write<'a>(&'a self, status: &'a FailoverRequestStatus) -> BoxFuture<'a, Result<(), kube::Error>>;
}

struct RequestStatus {
    api: Api<FailoverRequest>,
    name: String,
}

impl Sink for RequestStatus {
    fn write<'a>(&'a self, status: &'a FailoverRequestStatus) -> BoxFuture<'a, Result<(), kube::Error>> {
        write(&self.api, &self.name, status).boxed()
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

#[cfg(test)]
mod tests;
