//! Timers: [`sleep`], [`timeout`] and [`interval`].
//!
//! Timers belong to the runtime that first polls them. The earliest pending deadline sets
//! how long the runtime's backend may wait, so an idle runtime sleeps until its next timer,
//! and a timer never fires before its deadline. The runtime counts time in milliseconds: a
//! timer fires on the first millisecond tick at or after its deadline, timers in the order
//! of their deadlines.
//!
//! The futures live here; the pending deadlines they register are the runtime's
//! (`runtime::timers`, a timing wheel, where adding and cancelling a timer cost the same
//! however many are pending), which fires them on each turn. A `Sleep` registers only when
//! first polled, so one made and dropped unpolled costs nothing there.

mod interval;
mod sleep;
mod timeout;

pub use interval::{Interval, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Elapsed, Timeout, timeout};
