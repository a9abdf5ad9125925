//! A model check of the readiness state machine: `IoState` driven against a simulated
//! kernel for each triggering mode, through random interleavings of data arrivals, reactor
//! polls (with spurious events), and a task that reads part of what is there or finds
//! nothing. After every run the system is let settle; a task left waiting while data is
//! there is a lost wakeup, and a system that never settles is a spin.
//!
//! The interleavings include an event dispatched between a task's look at the readiness
//! and its clearing after `WouldBlock`, which the tick check exists for. In edge mode the
//! task also takes a short read as having emptied the socket, as the reactor does on a
//! backend whose short reads drain, and the kernel models TCP urgent data: a read stops at
//! the urgent mark with bytes behind it, and events report `PRIORITY` while the mark is
//! ahead.

use std::cell::Cell;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use plexio_backends::{Interest, RawSource, Ready, Token, Triggering};

use super::{IoState, Rearm};

/// A socket's receive side in the kernel, and what the mechanism would report of it.
struct Kernel {
    triggering: Triggering,
    available: Cell<usize>,
    /// How many of the available bytes lie before the urgent mark, if urgent data is
    /// pending: a read stops there (`Some(0)`: at the mark, which the next read passes).
    urgent_mark: Cell<Option<usize>>,
    /// The armed directions, as the last `rearm` left them (oneshot and level modes).
    armed: Cell<Interest>,
    /// An edge-triggered event is queued: data arrived since the last report.
    edge_pending: Cell<bool>,
}

impl Rearm for Kernel {
    fn rearm(&self, _: RawSource, _: Token, interest: Interest) -> io::Result<()> {
        self.armed.set(interest);
        Ok(())
    }
}

impl Kernel {
    fn new(triggering: Triggering, armed: Interest) -> Kernel {
        Kernel {
            triggering,
            available: Cell::new(0),
            urgent_mark: Cell::new(None),
            armed: Cell::new(armed),
            edge_pending: Cell::new(false),
        }
    }

    fn arrive(&self, bytes: usize) {
        self.available.set(self.available.get() + bytes);
        self.edge_pending.set(true);
    }

    /// `bytes` arrive with an urgent byte after the first `before_mark` of them (the urgent
    /// byte itself is out of band: never read). A newer mark replaces an older one, as TCP's
    /// urgent pointer does.
    fn arrive_urgent(&self, bytes: usize, before_mark: usize) {
        self.urgent_mark.set(Some(self.available.get() + before_mark.min(bytes)));
        self.arrive(bytes);
    }

    /// A `recv` into `capacity` bytes: stops at the urgent mark, and passes it when it is
    /// there. Gives how many bytes it read.
    fn read(&self, capacity: usize) -> usize {
        let mut limit = self.available.get().min(capacity);
        match self.urgent_mark.get() {
            Some(0) => self.urgent_mark.set(None),
            Some(before) => limit = limit.min(before),
            None => {}
        }
        self.available.set(self.available.get() - limit);
        if let Some(before) = self.urgent_mark.get() {
            self.urgent_mark.set(Some(before - limit));
        }
        limit
    }

    /// What one poll of the mechanism reports for the socket, if anything: readability,
    /// and urgent data while its mark is ahead (`EPOLLPRI`).
    fn poll(&self) -> Option<Ready> {
        let readable = self.available.get() > 0 && self.armed.get().is_readable();
        let ready = if self.urgent_mark.get().is_some() {
            Ready::READABLE | Ready::PRIORITY
        } else {
            Ready::READABLE
        };
        match self.triggering {
            Triggering::Edge => self.edge_pending.replace(false).then_some(ready),
            Triggering::Oneshot if readable => {
                self.armed.set(Interest::NONE);
                Some(ready)
            }
            Triggering::Level if readable => Some(ready),
            _ => None,
        }
    }
}

/// A waker that raises a flag.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// SplitMix64: a small deterministic generator, so that a failing seed replays.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
}

/// One socket, its readiness state and one reading task.
struct System {
    kernel: Kernel,
    state: IoState,
    flag: Arc<Flag>,
    waker: Waker,
    /// The task has not yet returned `Pending` since it last made progress.
    runnable: bool,
    random: Random,
}

impl System {
    fn new(triggering: Triggering, seed: u64) -> System {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        System {
            kernel: Kernel::new(triggering, Interest::READABLE),
            state: IoState::new(Token(1), RawSource::default(), Interest::READABLE),
            waker: Waker::from(flag.clone()),
            flag,
            runnable: true,
            random: Random(seed),
        }
    }

    /// One poll of the reactor: dispatches what the kernel reports, sometimes a spurious
    /// event too. Says whether anything was dispatched.
    fn reactor_poll(&mut self, spurious: bool) -> bool {
        let event = self.kernel.poll().or(spurious.then_some(Ready::READABLE));
        if let Some(ready) = event {
            self.state.dispatch(ready, &self.kernel, self.kernel.triggering);
        }
        event.is_some()
    }

    /// Runs the task once if it is runnable, as `Registration::poll_read_io` would: wait
    /// for readiness, read into a buffer of random size, or clear the readiness on
    /// `WouldBlock`; in edge mode, a read shorter than its buffer clears it too (the
    /// `short_reads_drain` optimisation). With `race`, an arrival and a reactor poll slip in
    /// between the read and the clear.
    fn task_step(&mut self, race: bool) {
        self.runnable |= self.flag.0.swap(false, Ordering::SeqCst);
        if !self.runnable {
            return;
        }
        let waker = self.waker.clone();
        let mut cx = Context::from_waker(&waker);
        loop {
            match self.state.poll_ready(
                &mut cx,
                Interest::READABLE,
                &self.kernel,
                self.kernel.triggering,
            ) {
                Poll::Pending => {
                    self.runnable = false;
                    return;
                }
                Poll::Ready(result) => {
                    let seen = result.expect("the model never fails a re-arm");
                    let available = self.kernel.available.get();
                    let capacity = 1 + self.random.below(2 * available as u64 + 2) as usize;
                    let read = self.kernel.read(capacity);
                    if race {
                        self.kernel.arrive(1);
                        self.reactor_poll(false);
                    }
                    if read == 0 {
                        // `WouldBlock` (having passed an urgent mark, perhaps).
                        self.state.clear_readiness(seen);
                        continue;
                    }
                    if self.kernel.triggering == Triggering::Edge && read < capacity {
                        self.state.clear_after_short_read(seen);
                    }
                    return;
                }
            }
        }
    }

    /// Runs a random history, then lets the system settle and checks where it stands.
    fn check(&mut self, steps: usize) -> Result<(), String> {
        for _ in 0..steps {
            match self.random.below(10) {
                0 => self.kernel.arrive(1 + self.random.below(100) as usize),
                1 => {
                    let bytes = 1 + self.random.below(100) as usize;
                    let before_mark = self.random.below(bytes as u64 + 1) as usize;
                    self.kernel.arrive_urgent(bytes, before_mark);
                }
                2..=4 => {
                    let spurious = self.random.below(4) == 0;
                    self.reactor_poll(spurious);
                }
                5 => self.task_step(true),
                _ => self.task_step(false),
            }
        }
        for _ in 0..10_000 {
            let dispatched = self.reactor_poll(false);
            self.task_step(false);
            let runnable = self.runnable || self.flag.0.load(Ordering::SeqCst);
            if !dispatched && !runnable {
                let left = self.kernel.available.get();
                return if left == 0 {
                    Ok(())
                } else {
                    Err(format!("lost wakeup: the task waits while {left} bytes are there"))
                };
            }
        }
        Err("the system never settles: events or wakes keep coming".into())
    }
}

fn check_mode(triggering: Triggering) {
    let (runs, steps) = if cfg!(miri) { (20, 50) } else { (3_000, 200) };
    for seed in 0..runs {
        if let Err(failure) = System::new(triggering, seed).check(steps) {
            panic!("{triggering:?}, seed {seed}: {failure}");
        }
    }
}

#[test]
fn edge_triggering_loses_no_wakeup_and_settles() {
    check_mode(Triggering::Edge);
}

#[test]
fn oneshot_triggering_loses_no_wakeup_and_settles() {
    check_mode(Triggering::Oneshot);
}

#[test]
fn level_triggering_loses_no_wakeup_and_settles() {
    check_mode(Triggering::Level);
}

/// Several tasks waiting on one direction of a shared socket are all woken by its event,
/// and only they.
#[test]
fn every_waiter_of_a_direction_is_woken_and_only_those() {
    let kernel = Kernel::new(Triggering::Edge, Interest::BOTH);
    let state = IoState::new(Token(1), RawSource::default(), Interest::BOTH);
    let flags: Vec<Arc<Flag>> = (0..4).map(|_| Arc::new(Flag(AtomicBool::new(false)))).collect();
    for (n, flag) in flags.iter().enumerate() {
        let waker = Waker::from(flag.clone());
        let direction = if n < 3 { Interest::READABLE } else { Interest::WRITABLE };
        let pending = state.poll_ready(
            &mut Context::from_waker(&waker),
            direction,
            &kernel,
            Triggering::Edge,
        );
        assert!(pending.is_pending());
    }
    state.dispatch(Ready::READABLE, &kernel, Triggering::Edge);
    let woken: Vec<bool> = flags.iter().map(|flag| flag.0.load(Ordering::SeqCst)).collect();
    assert_eq!(woken, [true, true, true, false]);
}
