//! A completion driver written the way a third party would: outside plexio, against the
//! public `plexio::backend::completion` interface alone, and in safe code.
//!
//! A background thread runs each submitted operation's readiness form
//! ([`Operation::run_now`]) until it stops saying `WouldBlock`, and posts the completion to a
//! queue that [`complete`](CompletionDriver::complete) drains, waiting on a condition
//! variable. Safe code cannot hand a socket it only knows by number to a readiness
//! mechanism (the `polling` crate's `add` is `unsafe`, and `SharedSource` lends its
//! descriptor only inside plexio), so the thread waits for readiness the simple way: it
//! retries the operations that would block, sleeping a little longer (up to
//! [`LONGEST_NAP`]) after each round that made no progress, and at once when a submission
//! or a cancellation arrives.
//!
//! For the same reason a [`Operation::Poll`] is answered as the hint the contract lets it
//! be: it completes on the thread's next round with every direction it asked for, and the
//! operation that follows finds out whether the socket was really ready.
//!
//! Like plexio's runtimes, it expects non-blocking sockets: on a blocking one `run_now`
//! would block the thread.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use plexio::backend::Token;
use plexio::backend::completion::{
    Completion, CompletionDriver, Completions, MAX_TOKEN, Operation, Refused, cancelled,
};

/// The name under which this driver runs the completion contract suite.
pub const NAME: &str = "third_party_thread";

/// The shortest and longest sleep between two rounds of retries.
const SHORTEST_NAP: Duration = Duration::from_micros(100);
const LONGEST_NAP: Duration = Duration::from_millis(4);

/// A completion driver on a background thread; see the module docs.
pub struct ThreadDriver {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the thread: a submission, a cancellation, the driver's drop.
    work: Condvar,
    /// Wakes `complete`: a completion posted, a notify.
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// The operations not finished yet, by token: each operation is either here or in
    /// `finished` (or in the caller's hands), never in two places, which is what makes every
    /// operation complete exactly once.
    pending: BTreeMap<usize, Operation>,
    /// Finished operations not handed over yet, oldest first.
    finished: VecDeque<Completion>,
    /// A `notify` not consumed by a `complete` yet.
    woken: bool,
    /// Work arrived since the thread's last round.
    news: bool,
    shutdown: bool,
}

impl State {
    fn in_flight(&self, token: usize) -> bool {
        self.pending.contains_key(&token)
            || self.finished.iter().any(|completion| completion.token.0 == token)
    }
}

impl ThreadDriver {
    pub fn new() -> io::Result<ThreadDriver> {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("thread-completion".into())
            .spawn(move || worker.run())?;
        Ok(ThreadDriver { shared, thread: Some(thread) })
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The background thread: retries every pending operation until it finishes.
    fn run(&self) {
        let mut nap = SHORTEST_NAP;
        let mut state = self.state();
        loop {
            if state.shutdown {
                return;
            }
            state.news = false;
            let mut progress = false;
            let tokens: Vec<usize> = state.pending.keys().copied().collect();
            for token in tokens {
                let Some(operation) = state.pending.get_mut(&token) else { continue };
                // Non-blocking, so it runs under the lock: a cancellation waits for it
                // and then finds the operation either still pending or finished.
                let result = operation.run_now();
                if matches!(&result, Err(error) if error.kind() == io::ErrorKind::WouldBlock) {
                    continue;
                }
                let operation = state.pending.remove(&token).expect("found above");
                state.finished.push_back(Completion { token: Token(token), result, operation });
                progress = true;
            }
            if progress {
                self.done.notify_all();
                nap = SHORTEST_NAP;
            } else {
                nap = (nap * 2).min(LONGEST_NAP);
            }
            if state.news || state.shutdown {
                nap = SHORTEST_NAP;
                continue;
            }
            let wait = if state.pending.is_empty() { Duration::from_secs(3600) } else { nap };
            state = self.work.wait_timeout(state, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

impl CompletionDriver for ThreadDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn submit(&self, token: Token, operation: Operation) -> Result<(), Refused> {
        let mut state = self.shared.state();
        if token.0 > MAX_TOKEN || state.in_flight(token.0) {
            let error = io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("token {:#x} is out of range or in flight already", token.0),
            );
            return Err(Refused { error, operation });
        }
        state.pending.insert(token.0, operation);
        state.news = true;
        self.shared.work.notify_one();
        Ok(())
    }

    fn cancel(&self, token: Token) {
        let mut state = self.shared.state();
        // Finished already: it completes with its result. Unknown: nothing to do.
        let Some(operation) = state.pending.remove(&token.0) else { return };
        state.finished.push_back(Completion { token, result: Err(cancelled()), operation });
        state.news = true;
        self.shared.done.notify_all();
    }

    fn complete(&self, completions: &mut Completions, timeout: Option<Duration>) -> io::Result<()> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let mut state = self.shared.state();
        loop {
            while !completions.is_full() {
                let Some(completion) = state.finished.pop_front() else { break };
                completions.push(completion);
            }
            let woken = std::mem::take(&mut state.woken);
            if woken || !completions.is_empty() {
                return Ok(());
            }
            state = match (timeout, deadline) {
                (None, _) | (Some(_), None) => {
                    self.shared.done.wait(state).unwrap_or_else(PoisonError::into_inner)
                }
                (Some(_), Some(deadline)) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(());
                    }
                    self.shared
                        .done
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    fn notify(&self) -> io::Result<()> {
        self.shared.state().woken = true;
        self.shared.done.notify_all();
        Ok(())
    }
}

impl Drop for ThreadDriver {
    /// Stops the thread; the operations it held are dropped with the state, which nothing
    /// else touches any more (every system call they were in has returned).
    fn drop(&mut self) {
        self.shared.state().shutdown = true;
        self.shared.work.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let mut state = self.shared.state();
        state.pending.clear();
        state.finished.clear();
    }
}

impl fmt::Debug for ThreadDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state();
        f.debug_struct("ThreadDriver")
            .field("pending", &state.pending.len())
            .field("finished", &state.finished.len())
            .finish()
    }
}
