//! The straight line: one request's AWS calls sent again, one after the other, exactly as the
//! emulator recorded them from the failover executor (`PUT /_emulator/calls/recording`). There
//! is no hand-written copy of the engine's calls: when the engine changes what it calls, the
//! baseline changes with it.

use std::time::{Duration, Instant};

use aws_smithy_types::base64;

use crate::common::{Call, RecordedRequest};

/// The app name the straight line's requests carry, in place of the executor's.
pub const APP: &str = "bench-straight-line";

/// Sends recorded requests to the emulator, over one kept-alive HTTP connection pool built
/// outside every timed section.
pub struct Replayer {
    http: reqwest::Client,
    endpoint: String,
}

impl Replayer {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint: std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL (source .testenv/env)"),
        }
    }

    /// Sends `calls` (one request's, in log order) again, each after the previous answered.
    /// Returns the time from the first send to the last answer and the number of calls; panics
    /// when a call ends otherwise than the engine's did.
    pub async fn replay(&self, calls: &[Call]) -> (Duration, usize) {
        let mut minted = Minted::default();
        let started = Instant::now();
        for c in calls {
            let recorded = c.request.as_ref().unwrap_or_else(|| {
                panic!(
                    "{} {} {} has no recorded request: was recording on?",
                    c.region, c.service, c.action
                )
            });
            let (ok, answer) = self.send(recorded, &minted).await;
            assert_eq!(
                ok,
                c.outcome == "ok",
                "replayed {} {} {}: outcome differs from the operator's ({})",
                c.region,
                c.service,
                c.action,
                c.outcome
            );
            minted.learn(&decode(&recorded.answer), &answer);
        }
        (started.elapsed(), calls.len())
    }

    /// One recorded request, its identifiers replaced by the ones this replay was given.
    async fn send(&self, r: &RecordedRequest, minted: &Minted) -> (bool, Vec<u8>) {
        let query = if r.query.is_empty() {
            String::new()
        } else {
            format!("?{}", minted.apply(&r.query))
        };
        let url = format!("{}{}{query}", self.endpoint, minted.apply(&r.path));
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).expect("an HTTP method");
        let body = minted.apply(&String::from_utf8_lossy(&decode(&r.body))).into_bytes();
        let mut request = self
            .http
            .request(method, url)
            .header("user-agent", format!("app/{APP}"));
        for (name, value) in &r.headers {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.expect("the emulator answers");
        let ok = response.status().as_u16() < 400;
        (ok, response.bytes().await.expect("an answer's body").to_vec())
    }
}

fn decode(b64: &str) -> Vec<u8> {
    base64::decode(b64).expect("base64 from the emulator")
}

/// Identifiers AWS minted for the engine's calls and for the replayed ones, in order. Route 53
/// change ids are the only such identifiers a later call of a request names (`GetChange`).
#[derive(Default)]
struct Minted(Vec<(String, String)>);

impl Minted {
    fn learn(&mut self, recorded: &[u8], replayed: &[u8]) {
        self.0
            .extend(change_ids(recorded).into_iter().zip(change_ids(replayed)));
    }

    fn apply(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_owned(), |t, (recorded, replayed)| t.replace(recorded, replayed))
    }
}

/// The `/change/…` ids in a Route 53 answer (`<ChangeInfo><Id>/change/C…</Id>`).
fn change_ids(answer: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(answer);
    text.split("<Id>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Id>").map(|(id, _)| id))
        .filter(|id| id.starts_with("/change/"))
        .map(str::to_owned)
        .collect()
}
