//! Helpers at the bottom of the crate, importing nothing of it: every other module may use
//! them, so that the drivers, the runtime and the task handles never import each other in a
//! circle to share one.
//!
//! - [`lock`]: locking a mutex whatever a panicking holder left behind.
//! - [`coop`]: the cooperative budget, set by the executor and spent by the drivers.
//! - [`trace`]: events for the `tracing` feature, nothing without it.
//! - [`thread`]: the calling thread's id, cached.

pub(crate) mod coop;
mod lock;
pub(crate) mod thread;
pub(crate) mod trace;

pub(crate) use lock::lock;
