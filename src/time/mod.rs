//! Timers: [`sleep`], [`timeout`] and [`interval`].
//!
//! Timers belong to the runtime that first polls them. The earliest pending deadline sets
//! how long the runtime's backend may wait, so an idle runtime sleeps exactly until its next
//! timer, and a timer never fires before its deadline.
//!
//! The futures live here; the pending deadlines they register are the runtime's
//! (`runtime::timers`), which fires them on each turn.

mod interval;
mod sleep;
mod timeout;

pub use interval::{Interval, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Elapsed, Timeout, timeout};
