//! The timers of one runtime: a hierarchical timing wheel of millisecond ticks, over a slab
//! that holds each timer's waker and links.
//!
//! # Why a wheel
//!
//! Most timers of a server are cancelled long before they are due: hyper arms a header-read
//! timeout (30 s) for every request and drops it a fraction of a millisecond later, once the
//! head has arrived. So the operations that must be cheap are adding a timer and cancelling
//! it; firing one is rare. An ordered map pays a tree insertion and a tree removal for each,
//! and a binary heap a sift through the heap for each removal, sooner or later. Here both
//! are O(1):
//!
//! - a timer is an entry of a slab (`entries`, reused through a free list) holding its
//!   waker, its deadline in ticks, and its links in the doubly linked list of one bucket;
//! - the buckets form [`LEVELS`] levels of 64: a bucket of level `L` covers 64^L ticks, and
//!   level `L` holds the timers whose tick first differs from the wheel's current tick
//!   (`elapsed`) in the `L`-th group of 6 bits. So level 0 holds the next 64 ms tick by
//!   tick, level 1 the rest of the next 4 s in 64 ms buckets, level 2 the next 4.4 minutes
//!   in 4 s buckets, and so on; 11 levels cover every `u64` tick, so nothing is clamped;
//! - **adding** links the entry at the tail of its bucket and sets the bucket's bit in its
//!   level's occupancy mask; **cancelling** unlinks it and clears the bit if the bucket
//!   empties. No search, no rebalancing;
//! - **firing** finds the earliest occupied bucket from the masks (one `trailing_zeros` per
//!   level), moves the wheel's tick to its start, and fires the entries due by then, moving
//!   the others down to the finer buckets of lower levels (a timer moves down at most once
//!   per level, and a timer cancelled before its bucket comes up never moves at all).
//!
//! A deadline is rounded up to the next tick: a timer never fires early, and at most a tick
//! (1 ms) late; a `Sleep` completes only once a clock reading is past its exact deadline.
//! Starting a timer reads the clock only for a deadline within a second of the wheel's
//! latest reading (see [`Timers::start`]). Timers fire in the order
//! of their exact deadlines (each entry keeps it; the due entries of a tick are sorted as
//! they fire, which is rare next to adding and cancelling), and those of the same deadline
//! in the order they were added. The runtime's wait ends at the start of the earliest
//! occupied bucket: exactly a level-0 timer's tick, or, for a timer further out, the moment
//! its bucket is split into finer ones.
//!
//! Each runtime (each worker of a multi-worker runtime) has its own `Timers`, behind a lock:
//! a `Sleep` first polled on one runtime keeps its timer there, and is cancelled there from
//! whichever thread drops it.

use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::stats::Counters;
use crate::util::lock;

/// Bits of a tick each level resolves: 64 buckets a level.
const LEVEL_BITS: u32 = 6;
const BUCKETS: usize = 1 << LEVEL_BITS;
/// Enough levels that every `u64` tick has one (6 × 11 ≥ 64).
const LEVELS: usize = 11;
/// The length of a tick: a millisecond (`instant_of` counts in milliseconds).
const TICK_NANOS: u32 = 1_000_000;
const TICKS_PER_SECOND: u64 = 1_000;
/// How far ahead of the wheel's latest clock reading a new timer's deadline may be and
/// still have [`Timers::start`] read the clock: a second. Short sleeps, and deadlines that
/// may have passed, get an exact answer on their first poll; timeouts further out, the
/// common timers of a server, cost no clock reading.
const NEAR_NANOS: u64 = 1_000_000_000;
const NANOS_PER_SECOND: u32 = 1_000_000_000;
/// No entry: the end of a list.
const NIL: usize = usize::MAX;

/// A pending timer, as its `Sleep` names it: the slab entry of its waker and the id that
/// says the entry is still its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    entry: usize,
    id: u64,
}

#[derive(Debug)]
pub(crate) struct Timers {
    inner: Mutex<Wheel>,
    counters: Arc<Counters>,
}

#[derive(Debug)]
struct Wheel {
    /// Tick 0.
    origin: Instant,
    /// The tick up to which every timer has fired. Every pending timer is later, and sits in
    /// the bucket its tick selects relative to this one.
    elapsed: u64,
    /// First and last entry of each bucket, `level * BUCKETS + bucket`.
    heads: Vec<usize>,
    tails: Vec<usize>,
    /// Per level, a bit per non-empty bucket.
    occupied: [u64; LEVELS],
    entries: Vec<Entry>,
    /// Empty entries, to be reused before the slab grows.
    free: Vec<usize>,
    /// Timers pending: entries holding a waker.
    live: usize,
    /// The id of the last timer added. Never reused, so that a key whose entry was taken
    /// again by another timer touches nothing.
    last_id: u64,
    /// The latest clock reading the wheel has been given (by `fire` or `start`), in
    /// nanoseconds from the origin: a deadline at or before it has passed.
    seen_nanos: u64,
    /// The due entries of the bucket being fired, to be put in deadline order: kept
    /// between calls for its allocation.
    due: Vec<(u64, u64, usize)>,
}

/// A slab entry: the waker of timer `id` (`None` once it has fired or was cancelled) and,
/// while it is pending, its place in a bucket's list.
#[derive(Debug)]
struct Entry {
    id: u64,
    waker: Option<Waker>,
    /// The deadline exactly, in nanoseconds from the origin: timers due on the same tick
    /// fire in this order.
    nanos: u64,
    tick: u64,
    bucket: usize,
    prev: usize,
    next: usize,
}

/// Where the earliest pending timers are.
struct Expiration {
    bucket: usize,
    /// The first tick the bucket covers.
    tick: u64,
}

impl Wheel {
    fn new() -> Wheel {
        Wheel {
            origin: Instant::now(),
            elapsed: 0,
            heads: vec![NIL; LEVELS * BUCKETS],
            tails: vec![NIL; LEVELS * BUCKETS],
            occupied: [0; LEVELS],
            entries: Vec::new(),
            free: Vec::new(),
            live: 0,
            last_id: 0,
            seen_nanos: 0,
            due: Vec::new(),
        }
    }

    /// `deadline` in nanoseconds from the origin, saturating after 584 years (a timer set
    /// further out fires then, and its `Sleep`, seeing the clock short of its deadline,
    /// sets it again). In whole seconds and nanoseconds, not as a `u128`: this runs for
    /// every timer added.
    fn nanos_at(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.origin);
        let nanos = since.as_secs().saturating_mul(u64::from(NANOS_PER_SECOND));
        nanos.saturating_add(u64::from(since.subsec_nanos()))
    }

    /// The last tick at or before `now`.
    fn tick_at_or_before(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin);
        let part = since.subsec_nanos() / TICK_NANOS;
        since.as_secs().saturating_mul(TICKS_PER_SECOND).saturating_add(u64::from(part))
    }

    fn instant_of(&self, tick: u64) -> Option<Instant> {
        self.origin.checked_add(Duration::from_millis(tick))
    }

    /// The bucket of a timer due at `tick` (later than `elapsed`).
    fn bucket_for(&self, tick: u64) -> usize {
        let significant = 63 - ((tick ^ self.elapsed) | (BUCKETS as u64 - 1)).leading_zeros();
        let level = (significant / LEVEL_BITS) as usize;
        let bucket = (tick >> (level as u32 * LEVEL_BITS)) as usize & (BUCKETS - 1);
        level * BUCKETS + bucket
    }

    /// Links entry `index`, due at its tick, at the tail of its bucket.
    #[inline]
    fn link(&mut self, index: usize) {
        let bucket = self.bucket_for(self.entries[index].tick);
        let tail = self.tails[bucket];
        let entry = &mut self.entries[index];
        entry.bucket = bucket;
        entry.prev = tail;
        entry.next = NIL;
        match tail {
            NIL => self.heads[bucket] = index,
            tail => self.entries[tail].next = index,
        }
        self.tails[bucket] = index;
        self.occupied[bucket / BUCKETS] |= 1 << (bucket % BUCKETS);
    }

    #[inline]
    fn unlink(&mut self, index: usize) {
        let Entry { bucket, prev, next, .. } = self.entries[index];
        match prev {
            NIL => self.heads[bucket] = next,
            prev => self.entries[prev].next = next,
        }
        match next {
            NIL => self.tails[bucket] = prev,
            next => self.entries[next].prev = prev,
        }
        if self.heads[bucket] == NIL {
            self.occupied[bucket / BUCKETS] &= !(1 << (bucket % BUCKETS));
        }
    }

    /// Empties a pending timer's entry, already unlinked, and returns its waker.
    fn release(&mut self, index: usize) -> Option<Waker> {
        let waker = self.entries[index].waker.take();
        self.free.push(index);
        self.live -= 1;
        waker
    }

    /// Adds a timer due `nanos` after the origin, waking `waker`.
    fn add(&mut self, nanos: u64, waker: &Waker, counters: &Counters) -> TimerKey {
        // A deadline on a tick already passed (a racing clock reading) fires on the next.
        let tick = nanos.div_ceil(u64::from(TICK_NANOS)).max(self.elapsed + 1);
        self.last_id += 1;
        let entry = Entry {
            id: self.last_id,
            waker: Some(waker.clone()),
            nanos,
            tick,
            bucket: 0,
            prev: NIL,
            next: NIL,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.entries[index] = entry;
                index
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        };
        self.link(index);
        self.live += 1;
        counters.set_timers(self.live);
        TimerKey { entry: index, id: self.last_id }
    }

    /// The earliest non-empty bucket. Lower levels hold earlier ticks than higher ones, and
    /// within a level no non-empty bucket lies before the one of `elapsed`.
    fn next_expiration(&self) -> Option<Expiration> {
        (0..LEVELS).find_map(|level| {
            let shift = level as u32 * LEVEL_BITS;
            let current = (self.elapsed >> shift) as usize & (BUCKETS - 1);
            let ahead = self.occupied[level] & (u64::MAX << current);
            debug_assert_eq!(ahead, self.occupied[level], "a bucket behind the wheel's tick");
            if ahead == 0 {
                return None;
            }
            let bucket = ahead.trailing_zeros() as u64;
            // The ticks above this level are the current ones.
            let above = shift + LEVEL_BITS;
            let base = if above >= u64::BITS { 0 } else { self.elapsed >> above << above };
            Some(Expiration {
                bucket: level * BUCKETS + bucket as usize,
                tick: base + (bucket << shift),
            })
        })
    }
}

impl Timers {
    pub(crate) fn new(counters: Arc<Counters>) -> Timers {
        Timers { inner: Mutex::new(Wheel::new()), counters }
    }

    /// Starts a timer for `deadline`, unless it has passed: then `None`, and the caller is
    /// due at once.
    ///
    /// The clock is read only for a deadline within [`NEAR_NANOS`] of the latest reading the
    /// wheel has (the runtime's, at its last look at the timers: most timers a server sets
    /// are timeouts far ahead, and this runs for each of them). A deadline further ahead
    /// is added without one; had it passed all the same (the thread ran for longer than
    /// that since the runtime last looked), it fires when the runtime next looks, at the end
    /// of the current turn, and never early.
    ///
    /// The timer goes into the wheel of the runtime running on the calling thread, which
    /// reads the wheel before it next waits: no wait needs shortening.
    pub(crate) fn start(
        &self,
        deadline: Instant,
        waker: &Waker,
        clock: impl FnOnce() -> Instant,
    ) -> Option<TimerKey> {
        let mut wheel = lock(&self.inner);
        let nanos = wheel.nanos_at(deadline);
        if nanos <= wheel.seen_nanos {
            return None;
        }
        if nanos - wheel.seen_nanos <= NEAR_NANOS {
            let now = wheel.nanos_at(clock());
            wheel.seen_nanos = wheel.seen_nanos.max(now);
            if nanos <= now {
                return None;
            }
        }
        Some(wheel.add(nanos, waker, &self.counters))
    }

    /// Adds a timer for `deadline`, due or not (it fires on the next look if it is).
    #[cfg(test)]
    pub(crate) fn insert(&self, deadline: Instant, waker: &Waker) -> TimerKey {
        let mut wheel = lock(&self.inner);
        let nanos = wheel.nanos_at(deadline);
        wheel.add(nanos, waker, &self.counters)
    }

    /// Moves a pending timer to a later `deadline` in place, keeping its waker and its key:
    /// a timeout pushed back by activity is one unlink and one link, where a cancellation
    /// and a new timer would also drop and clone the waker and take the lock twice. Says
    /// whether the timer was still pending (if not, nothing changed).
    ///
    /// Only for a deadline no earlier than the timer's current one: a timer moved later
    /// never becomes the earliest, so no wait the runtime is blocked in needs shortening.
    pub(crate) fn postpone(&self, key: TimerKey, deadline: Instant) -> bool {
        let mut wheel = lock(&self.inner);
        let entry = &wheel.entries[key.entry];
        if entry.id != key.id || entry.waker.is_none() {
            return false;
        }
        let nanos = wheel.nanos_at(deadline);
        debug_assert!(nanos >= entry.nanos, "postpone moved a timer earlier");
        let tick = nanos.div_ceil(u64::from(TICK_NANOS)).max(wheel.elapsed + 1);
        wheel.unlink(key.entry);
        let entry = &mut wheel.entries[key.entry];
        entry.nanos = nanos;
        entry.tick = tick;
        wheel.link(key.entry);
        true
    }

    /// Replaces the waker of a pending timer; false if the timer is no longer pending.
    pub(crate) fn update(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut wheel = lock(&self.inner);
        let entry = &mut wheel.entries[key.entry];
        match &mut entry.waker {
            Some(current) if entry.id == key.id => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
                true
            }
            _ => false,
        }
    }

    /// Cancels a timer, if it is still pending.
    pub(crate) fn remove(&self, key: TimerKey) {
        let mut wheel = lock(&self.inner);
        let entry = &wheel.entries[key.entry];
        if entry.id != key.id || entry.waker.is_none() {
            return;
        }
        wheel.unlink(key.entry);
        let waker = wheel.release(key.entry);
        self.counters.set_timers(wheel.live);
        drop(wheel);
        // Outside the lock: a waker's destructor may run arbitrary code.
        drop(waker);
    }

    /// When the runtime must look at its timers again: the earliest pending timer's tick,
    /// or the moment its bucket is to be split into finer ones.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let wheel = lock(&self.inner);
        wheel.next_expiration().and_then(|next| wheel.instant_of(next.tick))
    }

    /// Moves the wakers of every timer due by now into `expired`, earliest first. `now` is
    /// only asked when a timer is pending: the runtime fires timers on every turn, and most
    /// turns of a busy server have none due.
    pub(crate) fn fire(&self, now: impl FnOnce() -> Instant, expired: &mut Vec<Waker>) {
        let mut wheel = lock(&self.inner);
        if wheel.live == 0 {
            return;
        }
        let now = now();
        let now_nanos = wheel.nanos_at(now);
        wheel.seen_nanos = wheel.seen_nanos.max(now_nanos);
        let target = wheel.tick_at_or_before(now);
        while let Some(next) = wheel.next_expiration() {
            if next.tick > target {
                break;
            }
            wheel.elapsed = next.tick;
            // Take the whole bucket, then fire what is due and move the rest down.
            let mut index = std::mem::replace(&mut wheel.heads[next.bucket], NIL);
            wheel.tails[next.bucket] = NIL;
            wheel.occupied[next.bucket / BUCKETS] &= !(1 << (next.bucket % BUCKETS));
            let mut due = std::mem::take(&mut wheel.due);
            while index != NIL {
                let entry = &wheel.entries[index];
                let following = entry.next;
                if entry.tick <= wheel.elapsed {
                    due.push((entry.nanos, entry.id, index));
                } else {
                    wheel.link(index);
                }
                index = following;
            }
            // A bucket holds a tick's timers in the order they were set; they fire in the
            // order of their deadlines.
            due.sort_unstable();
            for (_, _, index) in due.drain(..) {
                expired.extend(wheel.release(index));
            }
            wheel.due = due;
        }
        // Nothing is left at or before `target`: every bucket stays ahead of it.
        wheel.elapsed = wheel.elapsed.max(target);
        self.counters.set_timers(wheel.live);
    }

    /// Removes every timer, handing back their wakers, earliest first (used when the
    /// runtime shuts down).
    pub(crate) fn take_all(&self) -> Vec<Waker> {
        let mut wheel = lock(&self.inner);
        let mut pending: Vec<(u64, u64, usize)> = (0..wheel.entries.len())
            .filter(|&index| wheel.entries[index].waker.is_some())
            .map(|index| (wheel.entries[index].nanos, wheel.entries[index].id, index))
            .collect();
        pending.sort_unstable();
        let wakers = pending.into_iter().filter_map(|(_, _, index)| wheel.release(index)).collect();
        wheel.heads.fill(NIL);
        wheel.tails.fill(NIL);
        wheel.occupied = [0; LEVELS];
        self.counters.set_timers(wheel.live);
        wakers
    }
}

#[cfg(test)]
mod tests;
