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
/// multiple of `period`. A tick too far away to represent as an instant (any tick after the
/// first with `Duration::MAX`) never comes, as a [`sleep`](super::sleep) that long never ends.
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
    Interval { period, sleep: sleep_until(start) }
}

/// The first multiple of `period` after `tick` that is later than `now`, skipping the ticks
/// missed meanwhile; `None` if it is too far away to represent.
fn next_tick(tick: Instant, period: Duration, now: Instant) -> Option<Instant> {
    let next = tick.checked_add(period)?;
    if next > now {
        return Some(next);
    }
    let behind = now.duration_since(next).as_nanos() / period.as_nanos() + 1;
    let skipped = period.as_nanos().checked_mul(behind)?;
    let skipped = Duration::new(
        u64::try_from(skipped / 1_000_000_000).ok()?,
        (skipped % 1_000_000_000) as u32,
    );
    next.checked_add(skipped)
}

/// The ticker of [`interval`]; also a [`Stream`] of tick instants.
#[derive(Debug)]
pub struct Interval {
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
        // The sleep only completes with a deadline, which is always the next tick.
        let Some(tick) = self.sleep.deadline() else { return Poll::Pending };
        match next_tick(tick, self.period, Instant::now()) {
            Some(next) => self.sleep.reset(next),
            None => self.sleep.reset_never(),
        }
        Poll::Ready(tick)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Starts the schedule again: the next tick is one period from now (never, if that is
    /// too far away to represent).
    pub fn reset(&mut self) {
        match Instant::now().checked_add(self.period) {
            Some(next) => self.sleep.reset(next),
            None => self.sleep.reset_never(),
        }
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
