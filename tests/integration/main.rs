//! The integration tests that share one test environment and may run side by side: each works
//! in its own namespace, under AWS names of its own, and leaves the emulator's global settings
//! (faults, durations) alone. One binary, so the AWS SDK crates are linked once rather than once
//! per file (on a cold build that saves about 2 GB of disk and a link per file).
//!
//! Tests that need the environment to themselves are in `tests/exclusive/`.

#[path = "../common/mod.rs"]
mod common;

mod admission;
mod approval;
mod argocd;
mod aurora;
mod cache;
mod compute;
mod crds;
mod dashboard;
mod data_plane;
mod detection;
mod dynamodb;
mod evacuation;
mod failover;
mod kubectl;
mod leader_election;
mod load_balancer;
mod plugin;
mod prewarm;
mod rds;
mod rpo;
mod s3;
mod seed_steps;
mod shards;
mod traffic;
