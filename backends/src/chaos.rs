//! `ChaosBackend`: a wrapper that makes any backend misbehave in every way the
//! [`Backend`] contract allows, so that the code above it (plexio's reactor, or a reactor of
//! your own) is tested against the worst a real mechanism may do.
//!
//! From a seed, it adds spurious events for registered sources, holds events (or some of
//! their directions) back to the next poll, fails polls with `Interrupted`, and returns from
//! polls before their timeout. The last one is more than the contract allows, on purpose:
//! clocks and signals cut real waits short too, and a timer must still never fire early.
//! Otherwise it keeps the contract: it reports nothing for a deregistered source, never
//! loses an event it held back, and never blocks while it holds one. A run that fails can be
//! replayed with the same seed (see [`ChaosBackend::seed`]).
//!
//! A plexio program reaches it as `plexio::backend::chaos` (with plexio's `chaos` feature),
//! wraps one of plexio's backends opened by name, and runs a runtime on the wrapper:
//!
//! ```
//! # #[cfg(feature = "poll")] {
//! # // This crate's own doc tests cannot name plexio, which depends on it: these two
//! # // paths stand in for plexio's re-exports of the same items. plexio's doc test of
//! # // `plexio::backend::chaos` runs the whole example, runtime included.
//! # mod plexio { pub mod backend {
//! #     pub use plexio_backends::chaos;
//! #     pub fn open(name: &str)
//! #         -> Result<std::sync::Arc<dyn plexio_backends::Backend>, plexio_backends::Error> {
//! #         plexio_backends::registry::open(Some(name))
//! #     }
//! # } }
//! use plexio::backend::chaos::ChaosBackend;
//!
//! let chaotic = ChaosBackend::new(plexio::backend::open("poll")?, 42);
//! assert_eq!(chaotic.seed(), 42);
//! // let runtime = plexio::Runtime::builder().custom_backend(chaotic).build()?;
//! # }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::{Backend, Event, Events, Interest, RawSource, Ready, Token, Triggering};

/// How often each fault strikes, as a probability from 0 to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Per poll: an event for a registered source that is not (known to be) ready.
    pub spurious: f64,
    /// Per event: the event, or all of its directions but one, is held back to the next
    /// poll.
    pub delay: f64,
    /// Per poll: the poll fails with [`io::ErrorKind::Interrupted`] before it waits.
    pub interrupt: f64,
    /// Per poll: the timeout is cut to a random fraction of itself (a wait without a timeout
    /// gets one of at most 10 ms).
    pub shorten: f64,
}

impl Default for Faults {
    /// Frequent enough that a test suite meets every fault many times.
    fn default() -> Faults {
        Faults { spurious: 0.1, delay: 0.2, interrupt: 0.05, shorten: 0.1 }
    }
}

/// A backend that injects faults into another. See the [module documentation](self).
pub struct ChaosBackend<B> {
    inner: B,
    seed: u64,
    faults: Faults,
    state: Mutex<State>,
}

struct State {
    random: SplitMix64,
    /// The token of each registered source, for spurious events and to drop held events;
    /// ordered, so that a seed picks the same source every run.
    registered: BTreeMap<RawSource, Token>,
    /// The tokens in `registered`.
    live: HashSet<Token>,
    /// Events held back by the last poll, delivered by the next.
    held: Vec<Event>,
}

impl<B: Backend> ChaosBackend<B> {
    /// Wraps `inner`, with the [default](Faults::default) fault rates, drawing every
    /// decision from `seed`.
    pub fn new(inner: B, seed: u64) -> ChaosBackend<B> {
        ChaosBackend::with_faults(inner, seed, Faults::default())
    }

    /// Wraps `inner` with the given fault rates.
    pub fn with_faults(inner: B, seed: u64, faults: Faults) -> ChaosBackend<B> {
        ChaosBackend {
            inner,
            seed,
            faults,
            state: Mutex::new(State {
                random: SplitMix64(seed),
                registered: BTreeMap::new(),
                live: HashSet::new(),
                held: Vec::new(),
            }),
        }
    }

    /// The seed this backend draws from: the same seed gives the same faults at the same
    /// calls, so a run whose calls come in the same order meets the same faults.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The fault rates.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides the timeout of the inner poll, or that this poll is interrupted.
    fn plan(&self, timeout: Option<Duration>) -> io::Result<Option<Duration>> {
        let mut state = self.state();
        if state.random.chance(self.faults.interrupt) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted by ChaosBackend"));
        }
        if !state.held.is_empty() {
            // Blocking while holding an event would delay it unboundedly: a lost wakeup.
            return Ok(Some(Duration::ZERO));
        }
        if !state.random.chance(self.faults.shorten) {
            return Ok(timeout);
        }
        let longest = timeout.unwrap_or(Duration::from_millis(10));
        Ok(Some(longest.mul_f64(state.random.fraction())))
    }
}

impl<B: Backend> Backend for ChaosBackend<B> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn triggering(&self) -> Triggering {
        self.inner.triggering()
    }

    fn short_reads_drain(&self) -> bool {
        // Split and delayed events only postpone a `READ_CLOSED` or a `PRIORITY`; each still
        // arrives, as an event of its own that wakes the reader.
        self.inner.short_reads_drain()
    }

    unsafe fn register(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        // SAFETY: our caller upholds `register`'s contract, which we pass on unchanged.
        unsafe { self.inner.register(source, token, interest)? };
        let mut state = self.state();
        state.registered.insert(source, token);
        state.live.insert(token);
        Ok(())
    }

    fn reregister(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()> {
        self.inner.reregister(source, token, interest)?;
        let mut state = self.state();
        if let Some(old) = state.registered.insert(source, token).filter(|old| *old != token) {
            state.live.remove(&old);
            state.held.retain(|event| event.token != old);
        }
        state.live.insert(token);
        Ok(())
    }

    fn deregister(&self, source: RawSource) -> io::Result<()> {
        let result = self.inner.deregister(source);
        // Forgotten even if the inner backend failed: from here on the caller treats the
        // source as gone, so no held or spurious event may name it.
        let mut state = self.state();
        if let Some(token) = state.registered.remove(&source) {
            state.live.remove(&token);
            state.held.retain(|event| event.token != token);
        }
        result
    }

    fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = self.plan(timeout)?;
        let mut state = self.state();
        let held = std::mem::take(&mut state.held);
        let mut delivered = 0;
        for &event in &held {
            if !events.push(event) {
                break;
            }
            delivered += 1;
        }
        state.held.extend_from_slice(&held[delivered..]);
        drop(state);

        // The inner poll runs unlocked: other threads may register meanwhile.
        let first_new = events.len();
        self.inner.poll(events, timeout)?;
        let fresh: Vec<Event> = events.iter().skip(first_new).copied().collect();
        let kept: Vec<Event> = events.iter().take(first_new).copied().collect();

        let mut state = self.state();
        events.clear();
        for event in kept {
            events.push(event);
        }
        for event in fresh {
            if !state.live.contains(&event.token) {
                // Deregistered during the wait (the contract lets the inner backend report
                // it); the reactor drops such events, and so may we.
                events.push(event);
                continue;
            }
            if !state.random.chance(self.faults.delay) {
                events.push(event);
                continue;
            }
            // Held back whole, or split: one direction now, the rest next time.
            let now = if state.random.chance(0.5) {
                Ready::EMPTY
            } else if event.ready.contains(Ready::READABLE) {
                Ready::READABLE
            } else {
                event.ready.intersection(Ready::WRITABLE)
            };
            if !now.is_empty() {
                events.push(Event { token: event.token, ready: now });
            }
            let later = event.ready.without(now);
            if !later.is_empty() {
                state.held.push(Event { token: event.token, ready: later });
            }
        }
        if !events.is_full() && state.random.chance(self.faults.spurious) {
            let registered = state.registered.len();
            if registered > 0 {
                let pick = state.random.below(registered);
                let token = *state.registered.values().nth(pick).expect("pick < len");
                let ready =
                    if state.random.chance(0.5) { Ready::READABLE } else { Ready::WRITABLE };
                events.push(Event { token, ready });
            }
        }
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        self.inner.notify()
    }
}

impl<B: Backend> fmt::Debug for ChaosBackend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosBackend")
            .field("inner", &self.inner)
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

/// A small, well-mixed generator (Steele, Lea and Flood's SplitMix64): reproducible from a
/// seed, which is all fault injection needs. Shared with the completion drivers' wrapper.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub(crate) fn fraction(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, probability: f64) -> bool {
        self.fraction() < probability
    }

    pub(crate) fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Reports every registered source as readable and writable on every poll, and counts
    /// the polls it was asked not to block.
    #[derive(Debug, Default)]
    struct Scripted {
        registered: Mutex<BTreeMap<RawSource, Token>>,
        zero_timeouts: AtomicUsize,
    }

    impl Backend for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        fn triggering(&self) -> Triggering {
            Triggering::Level
        }
        unsafe fn register(&self, source: RawSource, token: Token, _: Interest) -> io::Result<()> {
            self.registered.lock().unwrap().insert(source, token);
            Ok(())
        }
        fn reregister(&self, _: RawSource, _: Token, _: Interest) -> io::Result<()> {
            Ok(())
        }
        fn deregister(&self, source: RawSource) -> io::Result<()> {
            self.registered.lock().unwrap().remove(&source);
            Ok(())
        }
        fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
            if timeout == Some(Duration::ZERO) {
                self.zero_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            for &token in self.registered.lock().unwrap().values() {
                events.push(Event { token, ready: Ready::READABLE | Ready::WRITABLE });
            }
            Ok(())
        }
        fn notify(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_fault_strikes_and_none_breaks_deregistration() {
        let chaos = ChaosBackend::new(Scripted::default(), 1234);
        // SAFETY: the scripted backend touches no descriptor.
        unsafe { chaos.register(10, Token(1), Interest::BOTH).unwrap() };
        let (mut interrupted, mut split, mut spurious_polls) = (0, 0, 0);
        let mut gone = Vec::new();
        let mut events = Events::with_capacity(8);
        // Source 20 comes and goes under a new token each time; no token that went may
        // come back, neither held back from before nor made up.
        for generation in 0..100 {
            let token = Token(100 + generation);
            // SAFETY: as above.
            unsafe { chaos.register(20, token, Interest::BOTH).unwrap() };
            for round in 0..20 {
                if round == 10 {
                    chaos.deregister(20).unwrap();
                    gone.push(token);
                }
                events.clear();
                match chaos.poll(&mut events, Some(Duration::from_secs(1))) {
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => interrupted += 1,
                    result => result.unwrap(),
                }
                let seen: Vec<Event> = events.iter().copied().collect();
                assert!(seen.iter().all(|event| !gone.contains(&event.token)), "{seen:?}");
                split += seen
                    .iter()
                    .filter(|event| matches!(event.ready, Ready::READABLE | Ready::WRITABLE))
                    .count();
                spurious_polls += usize::from(seen.len() > 2);
            }
        }
        assert!(interrupted > 20, "{interrupted} interrupted polls");
        assert!(split > 20, "{split} split events");
        assert!(spurious_polls > 20, "{spurious_polls} polls with a spurious event");
        assert!(
            chaos.inner().zero_timeouts.load(Ordering::Relaxed) > 100,
            "held events must make the next poll return at once"
        );
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let draws = |seed| {
            let mut random = SplitMix64(seed);
            (0..100).map(|_| random.chance(0.3)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let hits = draws(9).iter().filter(|hit| **hit).count();
        assert!((10..60).contains(&hits), "{hits} hits of 100 at p = 0.3");
    }
}
