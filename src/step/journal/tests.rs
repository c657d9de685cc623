use std::sync::{Arc, Mutex};

use super::*;
use crate::api::StepKind;

/// Keeps every status written, and can be held so that writes queue up behind one in flight.
#[derive(Clone, Default)]
struct Memory {
    writes: Arc<Mutex<Vec<FailoverRequestStatus>>>,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl Sink for Memory {
    fn write<'a>(&'a self, status: &'a FailoverRequestStatus) -> BoxFuture<'a, Result<(), kube::Error>> {
        async move {
            let _open = self.gate.lock().await;
            self.writes.lock().unwrap().push(status.clone());
            Ok(())
        }
        .boxed()
    }
}

fn plan() -> FailoverRequestStatus {
    let step = |kind: StepKind| StepStatus {
        name: kind.name().into(),
        state: StepState::Pending,
        depends_on: vec![],
        started_at: None,
        finished_at: None,
        attempts: 0,
        message: None,
        operation: None,
    };
    FailoverRequestStatus {
        steps: vec![step(StepKind::PromoteDatabase), step(StepKind::SwitchTraffic)],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_call_is_journaled_before_and_after_it_is_made() {
    let memory = Memory::default();
    let journal = Journal::with_sink(Box::new(memory.clone()), plan());
    journal
        .calling(
            StepKind::SwitchTraffic,
            "ChangeResourceRecordSets app.example.com".into(),
        )
        .await
        .unwrap();
    journal
        .called(StepKind::SwitchTraffic, "record changing".into(), Some("C123".into()))
        .await
        .unwrap();
    let writes = memory.writes.lock().unwrap().clone();
    assert_eq!(writes.len(), 2);
    let before = &writes[0].steps[1];
    assert_eq!((before.state, before.attempts), (StepState::Running, 1));
    assert_eq!(
        before.message.as_deref(),
        Some("calling ChangeResourceRecordSets app.example.com")
    );
    assert_eq!(writes[0].current_step.as_deref(), Some("SwitchTraffic"));
    assert_eq!(writes[1].steps[1].operation.as_deref(), Some("C123"));
    assert_eq!(
        writes[1].steps[0].state,
        StepState::Pending,
        "the other step is untouched"
    );
    assert_eq!(journal.operation(StepKind::SwitchTraffic).as_deref(), Some("C123"));
    assert_eq!(journal.operation(StepKind::PromoteDatabase), None);
}

#[tokio::test]
async fn noted_changes_are_written_only_by_a_flush_and_never_twice() {
    let memory = Memory::default();
    let journal = Journal::with_sink(Box::new(memory.clone()), plan());
    journal.note(|s| s.message = Some("noted".into()));
    assert!(memory.writes.lock().unwrap().is_empty(), "a note alone writes nothing");
    journal.flush().await.unwrap();
    journal.flush().await.unwrap();
    let writes = memory.writes.lock().unwrap().clone();
    assert_eq!(writes.len(), 1, "a change already written is not written again");
    assert_eq!(writes[0].message.as_deref(), Some("noted"));
}

#[tokio::test]
async fn changes_made_during_a_write_are_group_committed_by_one_write() {
    let memory = Memory::default();
    let journal = Arc::new(Journal::with_sink(Box::new(memory.clone()), plan()));
    let held = memory.gate.lock().await;
    journal.note(|s| s.message = Some("first".into()));
    let first = tokio::spawn({
        let journal = journal.clone();
        async move { journal.flush().await }
    });
    // Wait until the first write is in flight (it holds the journal's write lock).
    while journal.written.try_lock().is_ok() {
        tokio::task::yield_now().await;
    }
    let later: Vec<_> = (0..3)
        .map(|i| {
            journal.note(|s| s.steps[0].attempts = i + 1);
            let journal = journal.clone();
            tokio::spawn(async move { journal.flush().await })
        })
        .collect();
    drop(held);
    first.await.unwrap().unwrap();
    for flush in later {
        flush.await.unwrap().unwrap();
    }
    let writes = memory.writes.lock().unwrap().clone();
    assert_eq!(
        writes.len(),
        2,
        "three flushes behind one write share the next one: {writes:?}"
    );
    assert_eq!(writes[0].message.as_deref(), Some("first"));
    assert_eq!(
        writes[1].steps[0].attempts, 3,
        "the second write carries the latest status"
    );
}
