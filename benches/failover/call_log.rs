//! The emulator's call log, and taking the emulator for a measurement.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Call, Emulator};

pub struct CallLog {
    pub emulator: Emulator,
    pub mark: u64,
}

impl CallLog {
    pub async fn new() -> Self {
        let emulator = Emulator::new();
        let mark = emulator.calls_since(0).await.last().map_or(0, |c| c.seq);
        Self { emulator, mark }
    }

    /// Calls since the last call of this method (or creation).
    pub async fn advance(&mut self) -> Vec<Call> {
        let calls = self.emulator.calls_since(self.mark).await;
        if let Some(last) = calls.last() {
            self.mark = last.seq;
        }
        calls
    }

    /// Waits until `app` made no call for `period` (at most `limit`); returns whether it did.
    pub async fn quiet(&mut self, app: &str, period: Duration, limit: Duration) -> bool {
        self.advance().await;
        let deadline = Instant::now() + limit;
        loop {
            tokio::time::sleep(period).await;
            let calls = self.advance().await;
            if !calls.iter().any(|c| c.made_by(app)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
        }
    }
}

/// Whether durations JSON `a` equals `b` (numbers compared as floats).
pub fn same_durations(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return false;
    };
    a.len() == b.len()
        && a.iter().all(|(k, v)| {
            b.get(k)
                .and_then(Value::as_f64)
                .zip(v.as_f64())
                .is_some_and(|(x, y)| (x - y).abs() < 1e-9)
        })
}

/// Sets `durations` and turns request recording on (the straight line replays what the engine
/// sent), after waiting (up to 10 min) until nobody else's fault rules are in effect.
pub async fn take_emulator(log: &CallLog, durations: &Value) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let faults = log.emulator.faults().await;
        if faults.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "fault rules of someone else's tests stayed in effect for 10 min: {faults:?}"
        );
        println!("  (waiting: someone else's fault rules are in effect: {faults:?})");
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    log.emulator.set_durations(durations.clone()).await;
    log.emulator.set_recording(true).await;
}

/// Whether the emulator still has `durations` and no fault rules: else a measurement was disturbed.
pub async fn undisturbed(log: &CallLog, durations: &Value) -> bool {
    let now = log.emulator.durations().await;
    let faults = log.emulator.faults().await;
    let ok = same_durations(&now, durations) && faults.is_empty();
    if !ok {
        println!("  DISTURBED: durations now {now}, faults {faults:?}; measuring again");
    }
    ok
}
