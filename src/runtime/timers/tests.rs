//! The timer heap's bookkeeping, without a runtime: which timers fire, in which order, and
//! that cancelled ones neither fire nor pile up.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use super::{NEAR_NANOS, Timers};
use crate::stats::Counters;

/// A waker that records, in `order`, the tag it was made with each time it is woken.
struct Tagged {
    tag: usize,
    order: Arc<std::sync::Mutex<Vec<usize>>>,
    wakes: AtomicUsize,
}

impl Wake for Tagged {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.order.lock().unwrap().push(self.tag);
    }
}

fn tagged(tag: usize, order: &Arc<std::sync::Mutex<Vec<usize>>>) -> Waker {
    Waker::from(Arc::new(Tagged { tag, order: order.clone(), wakes: AtomicUsize::new(0) }))
}

fn fire_all(timers: &Timers, now: Instant) -> usize {
    let mut expired = Vec::new();
    timers.fire(|| now, &mut expired);
    let fired = expired.len();
    expired.into_iter().for_each(Waker::wake);
    fired
}

#[test]
fn due_timers_fire_earliest_first_and_ties_in_insertion_order() {
    let timers = Timers::new(Arc::new(Counters::default()));
    let order = Arc::default();
    let start = timers.inner.lock().unwrap().origin;
    let at = |ms| start + Duration::from_millis(ms);
    for (tag, ms) in [(0, 30), (1, 10), (2, 20), (3, 10), (4, 50)] {
        timers.insert(at(ms), &tagged(tag, &order));
    }
    assert_eq!(timers.next_deadline(), Some(at(10)));
    assert_eq!(fire_all(&timers, at(30)), 4);
    assert_eq!(*order.lock().unwrap(), [1, 3, 2, 0]);
    assert_eq!(timers.next_deadline(), Some(at(50)));
    assert_eq!(timers.counters.snapshot().timers, 1);
}

#[test]
fn a_cancelled_timer_neither_fires_nor_sets_the_next_deadline() {
    let timers = Timers::new(Arc::new(Counters::default()));
    let order = Arc::default();
    let start = timers.inner.lock().unwrap().origin;
    let early = timers.insert(start + Duration::from_millis(1), &tagged(0, &order));
    timers.insert(start + Duration::from_millis(5), &tagged(1, &order));
    timers.remove(early);
    assert_eq!(timers.next_deadline(), Some(start + Duration::from_millis(5)));
    assert_eq!(fire_all(&timers, start + Duration::from_millis(10)), 1);
    assert_eq!(*order.lock().unwrap(), [1]);
    assert_eq!(timers.next_deadline(), None);
}

#[test]
fn a_stale_key_touches_nothing_once_its_slot_is_reused() {
    let timers = Timers::new(Arc::new(Counters::default()));
    let order = Arc::default();
    let start = timers.inner.lock().unwrap().origin;
    let old = timers.insert(start + Duration::from_millis(1), &tagged(0, &order));
    timers.remove(old);
    let new = timers.insert(start + Duration::from_millis(2), &tagged(1, &order));
    // The new timer took the freed slot; the old key must not cancel or update it.
    timers.remove(old);
    assert!(!timers.update(old, &tagged(2, &order)));
    assert!(timers.update(new, &tagged(3, &order)));
    assert_eq!(fire_all(&timers, start + Duration::from_millis(2)), 1);
    assert_eq!(*order.lock().unwrap(), [3]);
}

/// `start` answers from the wheel's latest clock reading when that settles it, reads the
/// clock for a deadline near that reading, and adds a timer further out without reading it.
#[test]
fn start_reads_the_clock_only_for_deadlines_near_the_latest_reading() {
    let timers = Timers::new(Arc::new(Counters::default()));
    let order = Arc::default();
    let start = timers.inner.lock().unwrap().origin;
    let unread = || -> Instant { panic!("the clock was read") };
    // `fire` reads the clock only while a timer is pending.
    timers.insert(start + Duration::from_secs(100), &tagged(9, &order));
    fire_all(&timers, start + Duration::from_secs(10));
    // At or before the reading `fire` had: due, with no clock reading.
    assert!(timers.start(start + Duration::from_secs(10), &tagged(0, &order), unread).is_none());
    assert!(timers.start(start, &tagged(0, &order), unread).is_none());
    // Far ahead of it: a timer, with no clock reading.
    let far = start + Duration::from_secs(10) + Duration::from_nanos(NEAR_NANOS + 1);
    assert!(timers.start(far, &tagged(1, &order), unread).is_some());
    // Near it: the clock says whether it has passed, and the wheel keeps that reading.
    let near = start + Duration::from_millis(10_500);
    let read = Cell::new(0);
    let clock = |at: u64| {
        let read = &read;
        move || {
            read.set(read.get() + 1);
            start + Duration::from_millis(at)
        }
    };
    assert!(timers.start(near, &tagged(2, &order), clock(10_200)).is_some());
    assert!(timers.start(near, &tagged(3, &order), clock(10_600)).is_none());
    assert_eq!(read.get(), 2);
    assert!(
        timers.start(start + Duration::from_millis(10_600), &tagged(0, &order), unread).is_none()
    );
    // The timers added fire at their deadlines, none before.
    assert_eq!(fire_all(&timers, start + Duration::from_millis(10_499)), 0);
    assert_eq!(fire_all(&timers, near), 1);
    assert_eq!(fire_all(&timers, far + Duration::from_millis(1)), 1);
    assert_eq!(*order.lock().unwrap(), [2, 1]);
}

/// A postponed timer keeps its key, its waker and its count, and fires at its new deadline
/// only; a timer no longer pending cannot be postponed.
#[test]
fn a_postponed_timer_fires_at_its_new_deadline_only() {
    let timers = Timers::new(Arc::new(Counters::default()));
    let order = Arc::default();
    let start = timers.inner.lock().unwrap().origin;
    let at = |ms| start + Duration::from_millis(ms);
    let key = timers.insert(at(5), &tagged(0, &order));
    timers.insert(at(300), &tagged(1, &order));
    // Across a level: from level 0 to a 64 ms bucket of level 1, and further in level 0.
    assert!(timers.postpone(key, at(200)));
    assert!(timers.postpone(key, at(250)));
    assert_eq!(timers.counters.snapshot().timers, 2);
    assert_eq!(fire_all(&timers, at(249)), 0);
    assert!(timers.update(key, &tagged(2, &order)), "the key no longer names the timer");
    assert_eq!(fire_all(&timers, at(250)), 1);
    assert_eq!(*order.lock().unwrap(), [2]);
    assert!(!timers.postpone(key, at(400)), "a fired timer was postponed");
    let cancelled = timers.insert(at(260), &tagged(3, &order));
    timers.remove(cancelled);
    assert!(!timers.postpone(cancelled, at(400)), "a cancelled timer was postponed");
    assert_eq!(fire_all(&timers, at(1_000)), 1);
    assert_eq!(*order.lock().unwrap(), [2, 1]);
    assert_eq!(timers.counters.snapshot().timers, 0);
}

/// The pattern of a busy HTTP server: every timer cancelled long before it is due. The slab
/// does not grow, and the live timers still fire, each on its tick.
#[test]
fn cancelled_timers_leave_nothing_behind() {
    let timers = Timers::new(Arc::new(Counters::default()));
    let order = Arc::default();
    let start = timers.inner.lock().unwrap().origin;
    let live = 10;
    let mut keys: Vec<_> = (0..live)
        .map(|tag| timers.insert(start + Duration::from_secs(30), &tagged(tag, &order)))
        .collect();
    // Fewer under Miri, which runs each round thousands of times slower.
    let rounds = if cfg!(miri) { 300 } else { 10_000u64 };
    for round in 0..rounds {
        let index = (round % live as u64) as usize;
        timers.remove(keys[index]);
        let deadline = start + Duration::from_secs(30) + Duration::from_micros(round);
        keys[index] = timers.insert(deadline, &tagged(index, &order));
        assert!(timers.inner.lock().unwrap().entries.len() <= live + 1);
    }
    assert_eq!(timers.counters.snapshot().timers, live);
    // The live timers are the last rounds' deadlines, all on the tick of the last one.
    let due_ms = (30_000_000 + rounds - 1).div_ceil(1_000);
    assert_eq!(fire_all(&timers, start + Duration::from_millis(due_ms - 1)), 0);
    assert_eq!(fire_all(&timers, start + Duration::from_millis(due_ms)), live);
    assert_eq!(order.lock().unwrap().len(), live);
    assert_eq!(timers.next_deadline(), None);
}

/// Timers far apart, each level of the wheel: each fires on its own tick, never before it,
/// whatever the steps the clock takes in between.
#[test]
fn every_level_fires_on_its_tick_and_never_early() {
    let order = Arc::default();
    for step_ms in [1, 7, 100, 5_000] {
        let timers = Timers::new(Arc::new(Counters::default()));
        let start = timers.inner.lock().unwrap().origin;
        let dues: Vec<u64> = vec![1, 63, 64, 65, 4_095, 4_097, 300_000, 20_000_000];
        for (tag, &ms) in dues.iter().enumerate() {
            timers.insert(start + Duration::from_millis(ms), &tagged(tag, &order));
        }
        let mut now = 0;
        let mut fired = 0;
        while fired < dues.len() {
            // The runtime never sleeps past the next deadline.
            let next = timers.next_deadline().expect("timers are pending");
            let next_ms = next.duration_since(start).as_millis() as u64;
            assert!(next_ms > now, "next deadline {next_ms} not ahead of {now}");
            // Jump to a far deadline, step over near ones.
            now = if next_ms - now > 10 * step_ms { next_ms } else { (now + step_ms).min(next_ms) };
            let mut expired = Vec::new();
            timers.fire(|| start + Duration::from_millis(now), &mut expired);
            for waker in expired {
                waker.wake();
                let tag = *order.lock().unwrap().last().unwrap();
                assert!(dues[tag] <= now, "timer due at {} fired at {now}", dues[tag]);
                assert!(
                    dues[tag] + step_ms >= now,
                    "timer due at {} fired late at {now}",
                    dues[tag]
                );
                fired += 1;
            }
        }
        assert_eq!(timers.next_deadline(), None);
    }
}

#[test]
fn take_all_hands_back_each_pending_waker_once() {
    let timers = Timers::new(Arc::new(Counters::default()));
    let order = Arc::default();
    let start = timers.inner.lock().unwrap().origin;
    let keys: Vec<_> = (0..5)
        .map(|tag| timers.insert(start + Duration::from_secs(5 - tag as u64), &tagged(tag, &order)))
        .collect();
    timers.remove(keys[1]);
    let wakers = timers.take_all();
    assert_eq!(wakers.len(), 4);
    wakers.into_iter().for_each(Waker::wake);
    assert_eq!(*order.lock().unwrap(), [4, 3, 2, 0]);
    assert_eq!(timers.counters.snapshot().timers, 0);
    assert_eq!(timers.next_deadline(), None);
}

/// Deadlines within one millisecond tick, set latest first: they still fire earliest first.
#[test]
fn timers_of_one_tick_fire_in_deadline_order() {
    let timers = Timers::new(Arc::new(Counters::default()));
    let order = Arc::default();
    let start = timers.inner.lock().unwrap().origin;
    for (tag, micros) in [(0, 5_900), (1, 5_300), (2, 5_700), (3, 5_100)] {
        timers.insert(start + Duration::from_micros(micros), &tagged(tag, &order));
    }
    assert_eq!(fire_all(&timers, start + Duration::from_millis(6)), 4);
    assert_eq!(*order.lock().unwrap(), [3, 1, 2, 0]);
}
