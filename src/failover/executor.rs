//! The executor: the only code that mutates AWS during a request. It runs the plan from the
//! journal, starting every step whose dependencies succeeded ([`plan::startable`]), retries a
//! step's retryable errors with the one backoff policy, journals each step's outcome, and hands
//! the ended plan to [`outcome::finish`]. A restarted operator runs the same code on the journal
//! it finds: steps that succeeded are not run again, and a step that was running starts over by
//! observing AWS, so no call that took effect is made twice.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered};
use kube::{ResourceExt, runtime::controller::Action, runtime::events::EventType};
use tracing::{info, warn};

use super::{
    FailoverContext,
    outcome::{self, DEFERRED_RETRY},
    plan, publish, requests_api, set_finalizer,
    steps::{self, Done, StepContext, StepError},
};
use crate::{
    api::{FailoverRequest, FailoverRequestStatus, PilotLight, StepKind, StepState},
    backoff::Backoff,
    error::{Error, Result},
    step::{
        Direction, deferral,
        journal::{Journal, now},
    },
};

/// How long a step's outcome waits for another write to carry it before it is written alone.
const OUTCOME_WRITE_DELAY: Duration = Duration::from_millis(50);

/// Attempts of a step that fails with a retryable error (throttling, 5xx, unreachable) before
/// the request fails. With [`STEP_BACKOFF`] they span about two minutes.
const STEP_ATTEMPTS: u32 = 8;

/// Delays between a step's attempts: 0.5 s doubling to 32 s, jittered.
const STEP_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(32),
};

/// One request's run: what its steps share, and which have been started in this process.
struct Run<'a> {
    ctx: &'a FailoverContext,
    request: &'a FailoverRequest,
    pl: &'a PilotLight,
    journal: Journal,
}

/// Each in-flight future yields whether it was a step (true) or a journal write (false).
type InFlight<'a> = FuturesUnordered<BoxFuture<'a, Result<bool>>>;

/// Runs the plan from the journal until every step ended, then records the outcome. A request
/// just admitted (`admitted` holds its PilotLight's admission lock) has its Running phase and
/// finalizer written first, concurrently with the steps' first reads; the lock is released once
/// they are.
pub async fn execute(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    pl: &PilotLight,
    status: FailoverRequestStatus,
    admitted: Option<tokio::sync::OwnedMutexGuard<()>>,
) -> Result<Action> {
    let run = Run {
        ctx,
        request,
        pl,
        journal: Journal::new(requests_api(ctx, request), request.name_any(), status),
    };
    let stopped_by_person = run.steps(admitted).await?;
    outcome::finish(ctx, request, pl, &run.journal, stopped_by_person).await
}

impl Run<'_> {
    /// Drives every step to an end; returns whether a person stopped the request. The loop
    /// awaits nothing but the steps (and journal flushes among them): a step holding the
    /// journal's write lock must keep being polled, so everything else here is synchronous.
    async fn steps(&self, admitted: Option<tokio::sync::OwnedMutexGuard<()>>) -> Result<bool> {
        let mut in_flight: InFlight<'_> = FuturesUnordered::new();
        if let Some(admission) = admitted {
            in_flight.push(self.write_admission(admission));
        }
        let mut started = HashSet::new();
        let mut stopped_by_person = false;
        // Step outcomes noted but not yet written.
        let mut unwritten = false;
        let mut running = 0_usize;
        // Set once no step runs: outcome writes still waiting for their turn are then left to
        // `finish`, which writes everything with the phase.
        let (steps_done, steps_done_rx) = tokio::sync::watch::channel(false);
        loop {
            stopped_by_person |= self.ctx.stop_requested(self.request);
            for kind in self.startable(stopped_by_person, &mut started) {
                running += 1;
                in_flight.push(self.start(kind));
            }
            if running == 0 {
                let _ = steps_done.send(true);
            } else if unwritten {
                in_flight.push(self.write_outcomes_soon(steps_done_rx.clone()));
                unwritten = false;
            }
            match in_flight.next().await {
                Some(step_ended) => {
                    if step_ended? {
                        running -= 1;
                        unwritten = true;
                    }
                }
                None => break,
            }
        }
        Ok(stopped_by_person)
    }

    /// The steps to start now, marked Running in the journal (the next write carries it).
    fn startable(&self, stopping: bool, started: &mut HashSet<String>) -> Vec<StepKind> {
        let snapshot = self.journal.snapshot();
        let failed = snapshot.steps.iter().any(|s| s.state == StepState::Failed);
        let kinds: Vec<StepKind> = plan::startable(&snapshot.steps, stopping || failed, self.request.spec.type_)
            .into_iter()
            .filter_map(|name| StepKind::from_name(&name))
            .filter(|kind| started.insert(kind.name().to_owned()))
            .collect();
        for kind in &kinds {
            self.journal.note(|s| {
                if let Some(step) = s.steps.iter_mut().find(|s| s.name == kind.name()) {
                    step.state = StepState::Running;
                    step.started_at.get_or_insert_with(now);
                }
            });
        }
        kinds
    }

    /// Writes the Running phase and the finalizer of a request just admitted, then releases its
    /// PilotLight's admission lock.
    fn write_admission(&self, admission: tokio::sync::OwnedMutexGuard<()>) -> BoxFuture<'_, Result<bool>> {
        self.journal.note(|_| {});
        async move {
            tokio::try_join!(
                async { self.journal.flush().await.map_err(Error::from) },
                set_finalizer(self.ctx, self.request, true)
            )?;
            drop(admission);
            Ok(false)
        }
        .boxed()
    }

    fn start(&self, kind: StepKind) -> BoxFuture<'_, Result<bool>> {
        let type_ = self.request.spec.type_;
        async move {
            let sc = StepContext {
                ctx: self.ctx,
                pl: self.pl,
                type_,
                direction: Direction::of(&self.pl.spec, type_),
                journal: &self.journal,
                kind,
            };
            let began = Instant::now();
            let result = run_with_retries(&sc).await;
            record_step(self.ctx, self.request, &self.journal, kind, result, began.elapsed());
            Ok(true)
        }
        .boxed()
    }

    /// Steps ended while others run. Their outcome rides on the next write a running step makes
    /// before or after a call; if none comes soon, it is written on its own, so that
    /// `kubectl get fr -w` shows progress during long waits.
    fn write_outcomes_soon(&self, mut done: tokio::sync::watch::Receiver<bool>) -> BoxFuture<'_, Result<bool>> {
        async move {
            let alone = tokio::select! {
                () = tokio::time::sleep(OUTCOME_WRITE_DELAY) => true,
                _ = done.wait_for(|d| *d) => false,
            };
            if alone {
                self.journal.flush().await?;
            }
            Ok(false)
        }
        .boxed()
    }
}

/// Runs a step, trying again (with [`STEP_BACKOFF`]) after retryable errors, or deferring it
/// (see [`deferral`]). Throttling is tried again for as long as it lasts: it says AWS is there,
/// and an evacuation's many requests must not fail for it. Each try observes first, so a retry never repeats a call that took effect.
async fn run_with_retries(sc: &StepContext<'_>) -> std::result::Result<Done, StepError> {
    let (mut attempt, mut throttled) = (0, 0);
    loop {
        let result = steps::run(sc).await;
        if let Err(e) = &result
            && e.throttled
        {
            throttled += 1;
            let delay = STEP_BACKOFF.jittered(throttled);
            warn!(step = sc.kind.name(), error = %e.message, retry_in = ?delay, "step throttled; retrying");
            sc.journal.note(|s| {
                if let Some(step) = s.steps.iter_mut().find(|s| s.name == sc.kind.name()) {
                    step.message = Some(format!("throttled by AWS {throttled} times; retrying: {}", e.message));
                }
            });
            tokio::time::sleep(delay).await;
            continue;
        }
        attempt += 1;
        match result {
            Err(e) if let Some(deferred) = deferral(sc.kind, sc.direction.from, &e, attempt < STEP_ATTEMPTS) => {
                return Ok(deferred);
            }
            Err(e) if e.retryable && attempt < STEP_ATTEMPTS => {
                let delay = STEP_BACKOFF.jittered(attempt);
                warn!(step = sc.kind.name(), error = %e.message, retry_in = ?delay, "step failed; retrying");
                sc.journal.note(|s| {
                    if let Some(step) = s.steps.iter_mut().find(|s| s.name == sc.kind.name()) {
                        step.message = Some(format!("retrying: {}", e.message));
                    }
                });
                tokio::time::sleep(delay).await;
            }
            Err(e) if let Some(skipped) = steps::optional(sc, &e) => return Ok(skipped),
            other => return other,
        }
    }
}

/// Notes how a step ended (the executor has it written), with an Event and a metric.
fn record_step(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    journal: &Journal,
    kind: StepKind,
    result: std::result::Result<Done, StepError>,
    took: Duration,
) {
    let (state, message, event_type) = match result {
        Ok(Done::Succeeded(m)) => (StepState::Succeeded, m, EventType::Normal),
        Ok(Done::Deferred(m)) => (StepState::Deferred, m, EventType::Warning),
        Ok(Done::Skipped(m)) => (StepState::Skipped, m, EventType::Warning),
        Err(e) => (StepState::Failed, e.message, EventType::Warning),
    };
    journal.note(|status| {
        if let Some(s) = status.steps.iter_mut().find(|s| s.name == kind.name()) {
            s.state = state;
            s.finished_at = (state != StepState::Deferred).then(now);
            s.message = Some(message.clone());
        }
    });
    ctx.metrics.step_finished(kind.name(), &format!("{state:?}"), took);
    info!(step = kind.name(), ?state, %message, "step ended");
    // One reason per step and outcome: Events with the same reason are folded into one series.
    publish(ctx, request, event_type, &format!("{}{state:?}", kind.name()), message);
}

/// Steps left Deferred after success: try them again now that time has passed.
pub async fn retry_deferred(
    ctx: &FailoverContext,
    request: &FailoverRequest,
    pl: &PilotLight,
    status: FailoverRequestStatus,
) -> Result<Action> {
    let type_ = request.spec.type_;
    let journal = Journal::new(requests_api(ctx, request), request.name_any(), status.clone());
    let deferred: Vec<StepKind> = status
        .steps
        .iter()
        .filter(|s| s.state == StepState::Deferred)
        .filter_map(|s| StepKind::from_name(&s.name))
        .collect();
    let mut remaining = 0;
    for kind in deferred {
        let sc = StepContext {
            ctx,
            pl,
            type_,
            direction: Direction::of(&pl.spec, type_),
            journal: &journal,
            kind,
        };
        let began = Instant::now();
        // A region still silent keeps the step Deferred: only an answer decides it.
        match steps::run(&sc).await {
            Ok(Done::Deferred(_)) => remaining += 1,
            Err(e) if deferral(kind, sc.direction.from, &e, false).is_some() => remaining += 1,
            result => {
                record_step(ctx, request, &journal, kind, result, began.elapsed());
                journal.flush().await?;
            }
        }
    }
    if remaining > 0 {
        return Ok(Action::requeue(DEFERRED_RETRY));
    }
    set_finalizer(ctx, request, false).await?;
    journal
        .update(|s| s.message = Some(outcome::after_deferred(s.message.as_deref().unwrap_or_default())))
        .await?;
    Ok(Action::await_change())
}
