//! `interval`: ticks at a fixed period.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures::Stream;

use super::{Sleep, sleep_until};

/// Ticks every `period`; the first tick completes at once.
///
/// A tick that is late by more than a period (the runtime was busy) does not cause a burst
/// of catch-up ticks: the missed ones are skipped and the schedule continues from the next
/// multiple of `period`.
///
/// # Panics
///
/// If `period` is zero. Waiting for a tick that is not yet due ([`Interval::tick`],
/// [`Interval::poll_tick`], the stream) panics outside of a plexio runtime, as
/// [`sleep`](super::sleep) does.
///
/// ```
/// use std::time::Duration;
/// plexio::block_on(async {
///     let mut interval = plexio::time::interval(Duration::from_millis(2));
///     let first = interval.tick().await;
///     let second = interval.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// As [`interval`]: if `period` is zero, and when a tick that is not yet due is waited for
/// outside of a plexio runtime.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "plexio::time::interval needs a period above zero");
    Interval { next: start, period, sleep: sleep_until(start) }
}

/// The ticker of [`interval`]; also a [`Stream`] of tick instants.
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.sleep).poll(cx));
        let tick = self.next;
        let now = Instant::now();
        let mut next = tick + self.period;
        if next <= now {
            let behind = now.duration_since(next).as_nanos() / self.period.as_nanos() + 1;
            next += self.period.saturating_mul(u32::try_from(behind).unwrap_or(u32::MAX));
        }
        self.next = next;
        self.sleep.reset(next);
        Poll::Ready(tick)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Starts the schedule again: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.next = Instant::now() + self.period;
        self.sleep.reset(self.next);
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
