//! Watching FailoverRequests from the client's side.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    Api,
    runtime::{WatchStreamExt, watcher},
};
use pilot_light::api::{FailoverRequest, RequestPhase, StepState};
use serde_json::Value;
use tokio::sync::mpsc;

/// Per step: seconds after the create call at which the watch first saw it running, and
/// succeeded.
pub type StepTimes = BTreeMap<String, (Option<f64>, Option<f64>)>;

/// One watch event as the client saw it.
pub struct Seen {
    pub at: Instant,
    pub request: FailoverRequest,
}

/// A watch on the namespace's FailoverRequests; keeps every event per request.
pub struct Observer {
    pub rx: mpsc::UnboundedReceiver<Seen>,
    pub seen: HashMap<String, Vec<Seen>>,
}

impl Observer {
    pub async fn start(api: Api<FailoverRequest>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut stream = watcher(api, watcher::Config::default()).default_backoff().boxed();
            while let Some(event) = stream.next().await {
                match event {
                    Ok(watcher::Event::Apply(r) | watcher::Event::InitApply(r)) => {
                        let _ = tx.send(Seen {
                            at: Instant::now(),
                            request: r,
                        });
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("FailoverRequest watch: {e}"),
                }
            }
        });
        ready_rx.await.expect("FailoverRequest watch started");
        Self {
            rx,
            seen: HashMap::new(),
        }
    }

    /// The first event of `name` that satisfies `done`: when the client saw it, and the object.
    pub async fn wait(
        &mut self,
        name: &str,
        timeout: Duration,
        done: impl Fn(&FailoverRequest) -> bool,
    ) -> (Instant, FailoverRequest) {
        if let Some(s) = self.seen.get(name).and_then(|v| v.iter().find(|s| done(&s.request))) {
            return (s.at, s.request.clone());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let seen = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(seen)) => seen,
                Ok(None) => panic!("the FailoverRequest watch ended"),
                Err(_) => panic!(
                    "FailoverRequest {name}: not done within {timeout:?}; last seen: {:#?}",
                    self.seen
                        .get(name)
                        .and_then(|v| v.last())
                        .and_then(|s| s.request.status.clone())
                ),
            };
            let key = seen.request.metadata.name.clone().unwrap_or_default();
            let hit = (key == name && done(&seen.request)).then(|| (seen.at, seen.request.clone()));
            self.seen.entry(key).or_default().push(seen);
            if let Some(hit) = hit {
                return hit;
            }
        }
    }

    pub fn history(&self, name: &str) -> &[Seen] {
        self.seen.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// How many times the client saw the status of `name` change up to `until`: the status
    /// writes that reached it (the watch delivers every change).
    pub fn status_writes(&self, name: &str, until: Instant) -> usize {
        let mut previous: Option<Value> = None;
        let mut writes = 0;
        for s in self.history(name).iter().filter(|s| s.at <= until) {
            let status = serde_json::to_value(&s.request.status).unwrap();
            if let Some(p) = &previous
                && *p != status
            {
                writes += 1;
            }
            previous = Some(status);
        }
        writes
    }

    /// Seconds after `t0` at which each step was first seen Running (or past it) and first seen
    /// Succeeded, and when the request was first seen Running.
    pub fn step_times(&self, name: &str, t0: Instant) -> (Option<f64>, StepTimes) {
        let mut running = None;
        let mut steps = StepTimes::new();
        for s in self.history(name) {
            let at = s.at.saturating_duration_since(t0).as_secs_f64();
            let Some(status) = &s.request.status else {
                continue;
            };
            if status.phase == Some(RequestPhase::Running) && running.is_none() {
                running = Some(at);
            }
            for step in &status.steps {
                let entry = steps.entry(step.name.clone()).or_default();
                if step.state != StepState::Pending && entry.0.is_none() {
                    entry.0 = Some(at);
                }
                if step.state == StepState::Succeeded && entry.1.is_none() {
                    entry.1 = Some(at);
                }
            }
        }
        (running, steps)
    }
}
