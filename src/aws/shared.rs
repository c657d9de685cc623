//! Describes shared between PilotLights, for APIs that take many names in one call.
//!
//! Every periodic check registers the name it needs; the first check of a window describes all
//! registered names of its region in one call (or one per page of names), and the other checks of
//! that window read the answer. With the scheduler's aligned check times, one call per region and
//! window serves every PilotLight. Checks that need fresh data describe only their own name.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::AwsError;

/// Names not asked for during this long are no longer described (deleted PilotLights, old
/// specs).
const FORGET_AFTER: Duration = Duration::from_secs(3 * 3600);

/// What a shared describe found, or how it failed: a failure is shared too, so that during an
/// outage the PilotLights of a region do not queue up behind each other's timeouts.
type Found<T> = Result<HashMap<String, T>, AwsError>;

struct Region<T> {
    /// Name -> when a check last asked for it.
    wanted: HashMap<String, Instant>,
    /// The last shared describe: when, which names it covered, and its outcome.
    read: Option<(Instant, BTreeSet<String>, Found<T>)>,
}

impl<T> Default for Region<T> {
    fn default() -> Self {
        Self {
            wanted: HashMap::new(),
            read: None,
        }
    }
}

type Slot<T> = Arc<tokio::sync::Mutex<Region<T>>>;

pub struct SharedReads<T> {
    window: Duration,
    regions: Mutex<HashMap<String, Slot<T>>>,
}

impl<T: Clone> SharedReads<T> {
    /// Answers read at most `window` ago serve other checks.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            regions: Mutex::default(),
        }
    }

    /// What exists under `name` in `region` (`None`: nothing). `describe` gets the names to
    /// describe and returns what exists among them.
    pub async fn get<F, Fut>(&self, region: &str, name: &str, fresh: bool, describe: F) -> Result<Option<T>, AwsError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<HashMap<String, T>, AwsError>>,
    {
        let slot = self
            .regions
            .lock()
            .expect("shared reads lock poisoned")
            .entry(region.to_owned())
            .or_default()
            .clone();
        if fresh {
            // A fresh describe of one name holds no lock while it waits for AWS.
            slot.lock().await.wanted.insert(name.to_owned(), Instant::now());
            let found = describe(vec![name.to_owned()]).await?;
            let result = found.get(name).cloned();
            // Keep a shared answer current with what this check just saw.
            if let Some((_, covered, Ok(shared))) = slot.lock().await.read.as_mut()
                && covered.contains(name)
            {
                match &result {
                    Some(value) => shared.insert(name.to_owned(), value.clone()),
                    None => shared.remove(name),
                };
            }
            return Ok(result);
        }
        // Shared describes are single-flight: whoever comes while one runs waits for its answer.
        let mut state = slot.lock().await;
        let now = Instant::now();
        state.wanted.insert(name.to_owned(), now);
        state
            .wanted
            .retain(|_, asked| now.duration_since(*asked) < FORGET_AFTER);
        if let Some((at, covered, found)) = &state.read
            && at.elapsed() < self.window
            && covered.contains(name)
        {
            return match found {
                Ok(found) => Ok(found.get(name).cloned()),
                Err(e) => Err(e.clone()),
            };
        }
        let names: Vec<String> = state.wanted.keys().cloned().collect();
        let found = describe(names.clone()).await;
        let result = match &found {
            Ok(found) => Ok(found.get(name).cloned()),
            Err(e) => Err(e.clone()),
        };
        state.read = Some((Instant::now(), names.into_iter().collect(), found));
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn describe(calls: &AtomicUsize, names: Vec<String>) -> Result<HashMap<String, usize>, AwsError> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(names
            .into_iter()
            .filter(|n| n != "missing")
            .map(|n| (n.clone(), n.len()))
            .collect())
    }

    #[tokio::test]
    async fn one_describe_serves_every_registered_name_within_the_window() {
        let reads = SharedReads::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        // Three PilotLights register over their first (fresh) checks.
        for name in ["a", "bb", "missing"] {
            reads.get("r", name, true, |n| describe(&calls, n)).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Their periodic checks: one describe for all three.
        assert_eq!(
            reads.get("r", "a", false, |n| describe(&calls, n)).await.unwrap(),
            Some(1)
        );
        assert_eq!(
            reads.get("r", "bb", false, |n| describe(&calls, n)).await.unwrap(),
            Some(2)
        );
        assert_eq!(
            reads.get("r", "missing", false, |n| describe(&calls, n)).await.unwrap(),
            None
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // Another region has its own describe.
        reads.get("other", "a", false, |n| describe(&calls, n)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_failed_shared_describe_answers_the_whole_window() {
        let reads = SharedReads::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let failing = |_: Vec<String>| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<HashMap<String, usize>, _>(AwsError::invalid_request("x", "Describe", "r", "down".into()))
        };
        for name in ["a", "b"] {
            reads.get("r", name, true, |n| describe(&calls, n)).await.unwrap();
        }
        assert!(reads.get("r", "a", false, failing).await.is_err());
        assert!(
            reads.get("r", "b", false, failing).await.is_err(),
            "the same failure, no second call"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_expired_answer_is_read_again() {
        let reads = SharedReads::new(Duration::ZERO);
        let calls = AtomicUsize::new(0);
        reads.get("r", "a", false, |n| describe(&calls, n)).await.unwrap();
        reads.get("r", "a", false, |n| describe(&calls, n)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
