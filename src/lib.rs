//! pilot-light: a Kubernetes operator that keeps an AWS multi-region pilot-light
//! disaster-recovery setup converged and runs failover on request.

pub mod api;
pub mod aws;
pub mod backoff;
pub mod config;
pub mod context;
pub mod detection;
pub mod dns;
pub mod error;
pub mod evacuation;
pub mod failover;
pub mod leader;
pub mod pilotlight;
pub mod plugin;
pub mod run;
pub mod step;
pub mod telemetry;
