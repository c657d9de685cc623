//! The integration tests that change what every other test sees: the emulator's global fault
//! rules and operation durations, the CRDs themselves, or the cluster-wide approval policy (the
//! chart's, applied by `helm.rs`, has the name `install_approval_policy` uses). Every test here holds [`SERIAL`], and
//! cargo runs this binary after or before `tests/integration/`, never beside it.

#[path = "../common/mod.rs"]
mod common;

mod data_plane;
mod evacuation;
mod failover_faults;
mod failover_restarts;
mod faults;
mod helm;
mod operator_process;

/// Held for a whole test: one test at a time owns the environment.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
