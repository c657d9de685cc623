//! Rate budgets: how many HTTP requests a second the operator sends to one AWS service, shared
//! by every PilotLight's convergence and every running request, so that an evacuation of many
//! PilotLights stays under the account's API limits instead of being throttled by them.
//!
//! A budget paces requests (it never refuses one): each request reserves the next free slot and
//! is sent at that time (see [`Pacer`] for the shape). Requests of the failover executor queue for slots in order; convergence
//! only takes a slot when no request is waiting, so a busy region's reads never delay a failover.
//! The budget sits in the HTTP connector, so the SDK's own retries are paced as well.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_smithy_runtime_api::client::{
    http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
    },
    orchestrator::HttpRequest,
    runtime_components::RuntimeComponents,
};

use super::Caller;

/// The AWS services the operator calls, by their signing name, whose budgets can be set.
pub const SERVICES: &[&str] = &[
    "route53",
    "rds",
    "autoscaling",
    "ec2",
    "monitoring",
    "s3",
    "dynamodb",
    "elasticloadbalancing",
    "elasticache",
    "iam",
    "route53-recovery-control-config",
];

/// Requests a second per service. Route 53's is documented: "five requests per second per AWS
/// account" for the Route 53 API
/// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests),
/// and it is one budget for all regions because Route 53 is global. EC2 refills its mutating
/// actions' token bucket at 5 a second and its non-mutating ones at 20
/// (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html); RDS and Auto Scaling
/// publish no numbers, so theirs are conservative defaults. The others are unlimited unless set.
pub const DEFAULT_BUDGETS: &[(&str, f64)] = &[("route53", 5.0), ("rds", 10.0), ("autoscaling", 10.0), ("ec2", 10.0)];

/// Services that are global: one budget whatever the region a client is signed for.
const GLOBAL_SERVICES: &[&str] = &["route53", "iam", "route53-recovery-control-config"];

/// Requests a second allowed per service (absent: unlimited).
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetRates(pub HashMap<String, f64>);

impl Default for BudgetRates {
    fn default() -> Self {
        Self(DEFAULT_BUDGETS.iter().map(|(s, r)| ((*s).to_owned(), *r)).collect())
    }
}

impl BudgetRates {
    /// Parses `SERVICE=RATE` (requests a second; 0 means unlimited), as given to
    /// `--aws-rate-budget`, over the defaults.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut rates = Self::default();
        for entry in entries {
            let (service, rate) = entry
                .split_once('=')
                .ok_or_else(|| format!("rate budget '{entry}' must be SERVICE=REQUESTS_PER_SECOND"))?;
            if !SERVICES.contains(&service) {
                return Err(format!(
                    "rate budget '{entry}': unknown service '{service}'; known: {}",
                    SERVICES.join(", ")
                ));
            }
            let rate: f64 = rate
                .parse()
                .ok()
                .filter(|r: &f64| r.is_finite() && *r >= 0.0)
                .ok_or_else(|| format!("rate budget '{entry}': '{rate}' is not a non-negative number"))?;
            if rate == 0.0 {
                rates.0.remove(service);
            } else {
                rates.0.insert(service.to_owned(), rate);
            }
        }
        Ok(rates)
    }
}

/// The pacing of one budget: at most `burst` requests in any `window`, the whole-number rate in
/// any second (one request per `1/rate` seconds below one a second). A step's few back-to-back
/// calls go out at once, as AWS's own token buckets allow, while no second holds more than the
/// rate; a request past the burst waits for the oldest of the last `burst` to leave the window.
#[derive(Debug)]
pub struct Pacer {
    burst: usize,
    window: Duration,
    /// The send times of the last `burst` reservations, oldest first.
    sent: VecDeque<Instant>,
}

/// What a request should do after asking the pacer at `now`.
#[derive(Debug, PartialEq)]
pub enum Slot {
    /// Send at this instant (`now` or later); the slot is taken.
    At(Instant),
    /// A convergence request while others wait: no slot taken; ask again at this instant.
    Busy(Instant),
}

impl Pacer {
    pub fn new(rate: f64) -> Self {
        let burst = rate.floor().max(1.0);
        Self {
            burst: burst as usize,
            window: Duration::from_secs_f64((burst / rate).max(1.0)),
            sent: VecDeque::new(),
        }
    }

    /// Takes the next free slot for a failover request; a convergence request takes one only
    /// when it can be sent at once.
    pub fn reserve(&mut self, now: Instant, caller: Caller) -> Slot {
        let at = match self.sent.front() {
            Some(oldest) if self.sent.len() == self.burst => (*oldest + self.window).max(now),
            _ => now,
        };
        if caller == Caller::Convergence && at > now {
            return Slot::Busy(at);
        }
        if self.sent.len() == self.burst {
            self.sent.pop_front();
        }
        self.sent.push_back(at);
        Slot::At(at)
    }
}

type SharedPacer = Arc<Mutex<Pacer>>;

/// The budgets of one operator, by service (and region for regional services).
#[derive(Debug, Default)]
pub struct RateBudgets {
    rates: BudgetRates,
    /// By service and region ("" for a global service).
    pacers: Mutex<HashMap<(String, String), SharedPacer>>,
}

impl RateBudgets {
    pub fn new(rates: BudgetRates) -> Self {
        Self {
            rates,
            ..Self::default()
        }
    }

    /// The pacer of `service` in `region`, or `None` when the service is unlimited.
    fn pacer(&self, service: &str, region: &str) -> Option<Arc<Mutex<Pacer>>> {
        let rate = *self.rates.0.get(service)?;
        let region = if GLOBAL_SERVICES.contains(&service) { "" } else { region };
        let mut pacers = self.pacers.lock().expect("rate budget lock poisoned");
        Some(
            pacers
                .entry((service.to_owned(), region.to_owned()))
                .or_insert_with(|| Arc::new(Mutex::new(Pacer::new(rate))))
                .clone(),
        )
    }

    /// `inner` with every request to `service` in `region` paced by its budget (unchanged when
    /// the service is unlimited).
    pub fn wrap(&self, inner: &SharedHttpClient, service: &str, region: &str, caller: Caller) -> SharedHttpClient {
        match self.pacer(service, region) {
            None => inner.clone(),
            Some(pacer) => SharedHttpClient::new(PacedClient {
                inner: inner.clone(),
                pacing: Pacing { pacer, caller },
            }),
        }
    }
}

#[derive(Clone, Debug)]
struct Pacing {
    pacer: Arc<Mutex<Pacer>>,
    caller: Caller,
}

impl Pacing {
    async fn wait_for_slot(&self) {
        loop {
            let slot = self
                .pacer
                .lock()
                .expect("rate budget lock poisoned")
                .reserve(Instant::now(), self.caller);
            match slot {
                Slot::At(at) => {
                    tokio::time::sleep_until(at.into()).await;
                    break;
                }
                Slot::Busy(at) => tokio::time::sleep_until(at.into()).await,
            }
        }
    }
}

#[derive(Debug)]
struct PacedClient {
    inner: SharedHttpClient,
    pacing: Pacing,
}

impl HttpClient for PacedClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pacing: self.pacing.clone(),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacing: Pacing,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, pacing) = (self.inner.clone(), self.pacing.clone());
        HttpConnectorFuture::new(async move {
            pacing.wait_for_slot().await;
            inner.call(request).await
        })
    }
}

/// The SDK's default HTTPS client (hyper 1, rustls with aws-lc, proxy settings from the
/// environment), made once so that every client shares its connection pool.
pub fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests;
