//! `sleep` and `sleep_until`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::runtime::{Shared, TimerKey, context};

/// Waits until `duration` has passed.
///
/// It never completes early. A duration too large to represent as a deadline (such as
/// `Duration::MAX`) never completes. The runtime's earliest timer sets how long its backend
/// waits, so a sleeping runtime does not wake up on a fixed tick.
///
/// # Panics
///
/// The returned future panics if polled, before its deadline, outside of a plexio runtime
/// (on a thread that is not inside `block_on`); making it does not.
///
/// ```
/// use std::time::{Duration, Instant};
/// plexio::block_on(async {
///     let start = Instant::now();
///     plexio::time::sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(Instant::now().checked_add(duration))
}

/// Waits until `deadline`.
///
/// # Panics
///
/// As [`sleep`]: the returned future panics if polled, before `deadline`, outside of a
/// plexio runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(Some(deadline))
}

/// The future of [`sleep`] and [`sleep_until`].
pub struct Sleep {
    /// `None`: never.
    deadline: Option<Instant>,
    timer: Option<Timer>,
}

/// A timer entry in the runtime that first polled the `Sleep`.
struct Timer {
    shared: Arc<Shared>,
    key: TimerKey,
}

impl Sleep {
    fn new(deadline: Option<Instant>) -> Sleep {
        Sleep { deadline, timer: None }
    }

    /// When the sleep ends; `None` if never.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.deadline.is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Moves the deadline, as if the sleep had been made anew with it.
    pub fn reset(&mut self, deadline: Instant) {
        // A pending timer moved later stays in the runtime's timers, moved in place: the
        // common case, a timeout pushed back by activity. A deadline moved earlier may
        // already have passed, so the timer starts over and the next poll asks the
        // runtime's timers whether it has. (A later deadline that has passed as well, the old one not yet
        // fired, completes when the runtime next fires its timers, within its turn.)
        let postponed = match (&self.timer, self.deadline) {
            (Some(timer), Some(current)) if deadline >= current => {
                timer.shared.timers.postpone(timer.key, deadline)
            }
            _ => false,
        };
        if !postponed {
            self.cancel();
        }
        self.deadline = Some(deadline);
    }

    /// Moves the deadline to never.
    pub(crate) fn reset_never(&mut self) {
        self.cancel();
        self.deadline = None;
    }

    fn cancel(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.shared.timers.remove(timer.key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(deadline) = this.deadline else {
            return Poll::Pending;
        };
        // A timer still pending in the runtime is not due: the runtime fires it, and so
        // wakes this task, once its deadline has passed. No clock reading is needed until
        // then (a server polls its timeouts on every request).
        if let Some(timer) = &this.timer {
            if timer.shared.timers.update(timer.key, cx.waker()) {
                return Poll::Pending;
            }
            this.timer = None;
        }
        // Never polled, or fired: the runtime's timers answer whether the deadline has
        // passed (from their latest clock reading where that settles it), else start a timer.
        let Some(shared) = context::shared() else {
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            panic!("a plexio timer was polled outside of a plexio runtime");
        };
        let Some(key) = shared.timers.start(deadline, cx.waker(), Instant::now) else {
            return Poll::Ready(());
        };
        this.timer = Some(Timer { shared, key });
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").field("deadline", &self.deadline).finish()
    }
}
