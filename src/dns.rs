//! DNS lookups: how the traffic step sees that a name answers the new region. Route 53's answers
//! are its data plane, which keeps working when its control plane (in us-east-1) does not, so
//! "traffic moved" is observed here, not with `GetChange`.
//!
//! Answers are never cached: the step asks again until the answer changes, and a cached answer
//! would only tell it what the name said a TTL ago.

use std::{collections::BTreeSet, net::IpAddr, net::SocketAddr};

use hickory_resolver::{
    TokioResolver,
    config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts},
    net::runtime::TokioRuntimeProvider,
};

/// Looks names up through `--dns-server` when set (e.g. one of the hosted zone's authoritative
/// Route 53 name servers, or the emulator's), else through the system's resolver.
/// A resolver that could not be built (no readable system DNS settings) answers every lookup
/// with why.
#[derive(Clone)]
pub struct Dns {
    resolver: Result<TokioResolver, String>,
}

impl Dns {
    pub fn new(server: Option<SocketAddr>) -> Self {
        Self {
            resolver: resolver(server),
        }
    }

    /// The addresses `name` answers now (following CNAMEs), or why it does not.
    pub async fn addresses(&self, name: &str) -> Result<BTreeSet<IpAddr>, String> {
        let resolver = self.resolver.as_ref().map_err(Clone::clone)?;
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        resolver
            .lookup_ip(fqdn.as_str())
            .await
            .map(|answer| answer.iter().collect())
            .map_err(|e| format!("{name}: {e}"))
    }
}

fn resolver(server: Option<SocketAddr>) -> Result<TokioResolver, String> {
    {
        let mut builder = match server {
            Some(addr) => {
                let connection = |mut c: ConnectionConfig| {
                    c.port = addr.port();
                    c
                };
                let server = NameServerConfig::new(
                    addr.ip(),
                    true,
                    vec![connection(ConnectionConfig::udp()), connection(ConnectionConfig::tcp())],
                );
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio().map_err(|e| format!("reading the system's DNS settings: {e}"))?,
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.cache_size = 0;
        options.attempts = 1;
        options.timeout = std::time::Duration::from_secs(2);
        builder.build().map_err(|e| format!("building the DNS resolver: {e}"))
    }
}

/// Whether `name`'s answer is the target's: same addresses, none missing.
pub fn answers_target(name: &BTreeSet<IpAddr>, target: &BTreeSet<IpAddr>) -> bool {
    !target.is_empty() && name == target
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ips: &[&str]) -> BTreeSet<IpAddr> {
        ips.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn a_name_answers_its_target_only_with_the_same_addresses() {
        let target = set(&["198.18.0.7", "198.18.0.8"]);
        assert!(answers_target(&set(&["198.18.0.8", "198.18.0.7"]), &target));
        assert!(!answers_target(&set(&["198.18.0.7"]), &target));
        assert!(!answers_target(&set(&["198.18.1.1"]), &target));
        assert!(!answers_target(&set(&[]), &set(&[])), "nothing resolves: not moved");
    }
}
