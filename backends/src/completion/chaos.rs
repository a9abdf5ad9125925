//! `ChaosCompletion`: a wrapper that makes any completion driver misbehave in every way the
//! [`CompletionDriver`] contract allows, so that the code above it (plexio's runtime, or a
//! runtime of your own) is tested against the worst a real mechanism may do.
//!
//! From a seed, it
//!
//! * holds completions back for a wait or two, and hands them over in another order than
//!   they came;
//! * splits receives and sends: a [`Operation::Receive`] reaches the driver with a shorter
//!   buffer (whose bytes are copied into the caller's, after its `len()`), a
//!   [`Operation::Send`] with fewer bytes; either way the caller gets its own operation
//!   back, with a short count;
//! * races cancellation with completion: it cancels an operation right after submitting it,
//!   and submits it again, unseen, if it comes back cancelled;
//! * completes an operation without running it, with `Interrupted` or `WouldBlock` ("submit
//!   it again");
//! * fails waits with `Interrupted`;
//! * refuses submissions as a full queue does, with [`io::ErrorKind::WouldBlock`].
//!
//! It keeps the rest of the contract: every operation completes exactly once with its own
//! token and its own buffer (capacity, and the bytes before `len()`, untouched); a
//! cancellation by the caller is never undone by a resubmission of its own; nothing is ever
//! handed over with an error; a wait never blocks while it holds a completion back, and
//! never returns empty-handed before its time unless it says `Interrupted`. Datagrams are
//! never split (a shorter buffer would truncate them), connects and stream sends never
//! cancelled (a cancelled connect leaves its socket half-way, and on IOCP a cancelled send
//! aborts the connection: see the contract's cancellation rule), and poll operations are
//! never refused nor completed unrun: [`ReadinessOverCompletion`](super::ReadinessOverCompletion) takes a refused poll
//! for a failed registration, which reaches the task as an error. A run that fails can be
//! replayed with the same seed (see [`ChaosCompletion::seed`]).
//!
//! A plexio program reaches it as `plexio::backend::completion::chaos` (with plexio's
//! `chaos` feature), wraps one of plexio's drivers opened by name (or its own), and runs a
//! runtime on the wrapper:
//!
//! ```
//! # #[cfg(all(feature = "uring", target_os = "linux"))] {
//! # // This crate's own doc tests cannot name plexio, which depends on it: this path stands
//! # // in for plexio's re-export of the same items.
//! # use plexio_backends as plexio_backend;
//! use plexio_backend::completion::chaos::ChaosCompletion;
//! use plexio_backend::registry::{Driver, open_driver};
//!
//! if let Ok(Driver::Completion(driver)) = open_driver(Some("uring")) {
//!     let chaotic = ChaosCompletion::new(driver, 42);
//!     assert_eq!(chaotic.seed(), 42);
//!     // let runtime = plexio::Runtime::builder().custom_completion_driver(chaotic).build()?;
//! }
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{
    Completion, CompletionDriver, Completions, MAX_TOKEN, Operation, Refused, is_cancelled,
};
use crate::Token;
use crate::chaos::SplitMix64;

/// How often each fault strikes, as a probability from 0 to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Per completion: held back for one or two more waits.
    pub delay: f64,
    /// Per wait: the completions it hands over are shuffled.
    pub reorder: f64,
    /// Per receive or send: the driver gets a part of it, and the caller a short count.
    pub short: f64,
    /// Per submission: cancelled right after it, and submitted again if it came back
    /// cancelled (the caller sees only the result).
    pub cancel_race: f64,
    /// Per submission: completed at once with `Interrupted` or `WouldBlock`, not run.
    pub retry: f64,
    /// Per wait: fails with `Interrupted` before waiting.
    pub interrupt: f64,
    /// Per submission: refused with `WouldBlock`, as by a full queue.
    pub refuse: f64,
}

impl Default for Faults {
    /// Frequent enough that a test suite meets every fault many times.
    fn default() -> Faults {
        Faults {
            delay: 0.2,
            reorder: 0.3,
            short: 0.3,
            cancel_race: 0.1,
            retry: 0.05,
            interrupt: 0.05,
            refuse: 0.05,
        }
    }
}

/// A completion driver that injects faults into another. See the
/// [module documentation](self).
pub struct ChaosCompletion<D> {
    inner: D,
    seed: u64,
    faults: Faults,
    state: Mutex<State>,
    /// What only `complete` touches (one thread at a time): locked for `Sync`, and held
    /// across the inner wait, which no other method needs.
    waiting: Mutex<Waiting>,
}

struct State {
    random: SplitMix64,
    /// Every token submitted and not handed back yet, held here or in the inner driver.
    in_flight: HashSet<usize>,
    /// The caller's own operation of each split one, kept while the part is in flight.
    splits: HashMap<usize, Split>,
    /// The tokens cancelled by the wrapper itself, to be submitted again if cancelled.
    raced: HashSet<usize>,
    /// The tokens cancelled by the caller: their cancellation is final.
    cancelled: HashSet<usize>,
    /// Operations completed without the inner driver, for the next wait.
    ready: Vec<Completion>,
}

struct Waiting {
    /// Completions held back, each with the waits it still misses.
    held: Vec<(Completion, u8)>,
    /// The buffer of the inner wait, kept for the next.
    buffer: Completions,
}

enum Split {
    /// The caller's buffer; the driver got an empty one with less capacity.
    Receive(Vec<u8>),
    /// The caller's buffer and offset; the driver got a copy of some of the bytes.
    Send { buffer: Vec<u8>, offset: usize },
}

impl<D: CompletionDriver> ChaosCompletion<D> {
    /// Wraps `inner`, with the [default](Faults::default) fault rates, drawing every
    /// decision from `seed`.
    pub fn new(inner: D, seed: u64) -> ChaosCompletion<D> {
        ChaosCompletion::with_faults(inner, seed, Faults::default())
    }

    /// Wraps `inner` with the given fault rates.
    pub fn with_faults(inner: D, seed: u64, faults: Faults) -> ChaosCompletion<D> {
        ChaosCompletion {
            inner,
            seed,
            faults,
            state: Mutex::new(State {
                random: SplitMix64(seed),
                in_flight: HashSet::new(),
                splits: HashMap::new(),
                raced: HashSet::new(),
                cancelled: HashSet::new(),
                ready: Vec::new(),
            }),
            waiting: Mutex::new(Waiting {
                held: Vec::new(),
                buffer: Completions::with_capacity(1),
            }),
        }
    }

    /// The seed this wrapper draws from: the same seed gives the same faults at the same
    /// calls, so a run whose calls come in the same order meets the same faults.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The fault rates.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// The wrapped driver.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What a completion from the inner driver becomes: submitted again if the wrapper's
    /// own cancellation stopped it, else the caller's operation with the result.
    fn settle(&self, state: &mut State, completion: Completion) -> Option<Completion> {
        let Completion { token, mut result, mut operation } = completion;
        if state.raced.remove(&token.0) {
            let stopped = matches!(&result, Err(error) if is_cancelled(error));
            if stopped && !state.cancelled.contains(&token.0) {
                // Under the state lock, which `cancel` takes too: a cancellation by the
                // caller comes before (and is seen above) or after (and reaches this).
                match self.inner.submit(token, operation) {
                    Ok(()) => return None,
                    Err(refused) => {
                        operation = refused.operation;
                        result = Err(io::Error::new(
                            io::ErrorKind::Interrupted,
                            "ChaosCompletion: submit it again",
                        ));
                    }
                }
            }
        }
        let operation = state.restore(token.0, operation);
        Some(Completion { token, result, operation })
    }
}

impl State {
    /// Gives the inner driver a part of `operation`, maybe, keeping the whole.
    fn split(&mut self, token: usize, operation: Operation) -> Operation {
        match operation {
            Operation::Receive { source, buffer } if buffer.capacity() - buffer.len() >= 2 => {
                let spare = buffer.capacity() - buffer.len();
                let part = Vec::with_capacity(1 + self.random.below(spare - 1));
                if part.capacity() >= spare {
                    return Operation::Receive { source, buffer };
                }
                self.splits.insert(token, Split::Receive(buffer));
                Operation::Receive { source, buffer: part }
            }
            Operation::Send { source, buffer, offset }
                if buffer.len().saturating_sub(offset) >= 2 =>
            {
                let unsent = buffer.len() - offset;
                let part = buffer[offset..offset + 1 + self.random.below(unsent - 1)].to_vec();
                self.splits.insert(token, Split::Send { buffer, offset });
                Operation::Send { source, buffer: part, offset: 0 }
            }
            operation => operation,
        }
    }

    /// The caller's operation back from a part, with what the part received.
    fn restore(&mut self, token: usize, operation: Operation) -> Operation {
        match (self.splits.remove(&token), operation) {
            (Some(Split::Receive(mut buffer)), Operation::Receive { source, buffer: part }) => {
                // Fits in the spare capacity, which was larger than the part's: the buffer
                // is not reallocated.
                buffer.extend_from_slice(&part);
                Operation::Receive { source, buffer }
            }
            (Some(Split::Send { buffer, offset }), Operation::Send { source, .. }) => {
                Operation::Send { source, buffer, offset }
            }
            (_, operation) => operation,
        }
    }

    /// Hands a completion to the caller, whose token is free again.
    fn deliver(&mut self, completion: Completion, completions: &mut Completions) {
        self.in_flight.remove(&completion.token.0);
        self.cancelled.remove(&completion.token.0);
        completions.push(completion);
    }
}

impl<D: CompletionDriver> CompletionDriver for ChaosCompletion<D> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn submit(&self, token: Token, operation: Operation) -> Result<(), Refused> {
        let mut state = self.state();
        // Checked here: a completion held back is still in flight, unknown to the driver.
        if token.0 > MAX_TOKEN || state.in_flight.contains(&token.0) {
            let error = io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("token {:#x} is out of range or in flight already", token.0),
            );
            return Err(Refused { error, operation });
        }
        let poll = matches!(operation, Operation::Poll { .. });
        if !poll && state.random.chance(self.faults.refuse) {
            let error = io::Error::new(
                io::ErrorKind::WouldBlock,
                "ChaosCompletion: the submission queue is full",
            );
            return Err(Refused { error, operation });
        }
        if !poll && state.random.chance(self.faults.retry) {
            let kind = if state.random.chance(0.5) {
                io::ErrorKind::Interrupted
            } else {
                io::ErrorKind::WouldBlock
            };
            let result = Err(io::Error::new(kind, "ChaosCompletion: submit it again"));
            state.ready.push(Completion { token, result, operation });
            state.in_flight.insert(token.0);
            return Ok(());
        }
        // Never raced with a cancellation: a connect (its socket would be left half-way) and
        // a stream send (on IOCP a cancelled send aborts the connection).
        let uncancellable = matches!(operation, Operation::Connect { .. } | Operation::Send { .. });
        let operation = if state.random.chance(self.faults.short) {
            state.split(token.0, operation)
        } else {
            operation
        };
        if let Err(Refused { error, operation }) = self.inner.submit(token, operation) {
            let operation = state.restore(token.0, operation);
            return Err(Refused { error, operation });
        }
        state.in_flight.insert(token.0);
        if !uncancellable && state.random.chance(self.faults.cancel_race) {
            self.inner.cancel(token);
            state.raced.insert(token.0);
        }
        Ok(())
    }

    fn cancel(&self, token: Token) {
        let mut state = self.state();
        if state.in_flight.contains(&token.0) {
            state.cancelled.insert(token.0);
        }
        self.inner.cancel(token);
    }

    fn complete(&self, completions: &mut Completions, timeout: Option<Duration>) -> io::Result<()> {
        let mut candidates = {
            let mut state = self.state();
            if state.random.chance(self.faults.interrupt) {
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "ChaosCompletion: interrupted",
                ));
            }
            std::mem::take(&mut state.ready)
        };
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let Waiting { held, buffer } = &mut *waiting;
        // What was held back long enough goes first.
        let mut now = Vec::new();
        for (completion, waits) in std::mem::take(held) {
            match waits.saturating_sub(1) {
                0 => now.push(completion),
                waits => held.push((completion, waits)),
            }
        }
        let room = completions.capacity().saturating_sub(completions.len()).max(1);
        if buffer.capacity() != room {
            *buffer = Completions::with_capacity(room);
        }
        buffer.clear();
        // Never block while holding something: that would delay it unboundedly.
        let busy = !held.is_empty() || !now.is_empty() || !candidates.is_empty();
        let waited = self.inner.complete(buffer, if busy { Some(Duration::ZERO) } else { timeout });
        let mut state = self.state();
        for completion in buffer.drain() {
            if let Some(completion) = self.settle(&mut state, completion) {
                candidates.push(completion);
            }
        }
        for completion in candidates {
            if state.random.chance(self.faults.delay) {
                let waits = 1 + state.random.below(2) as u8;
                held.push((completion, waits));
            } else {
                now.push(completion);
            }
        }
        if let Err(error) = waited {
            // Nothing is handed over with an error: all of it waits for the next call.
            held.extend(now.into_iter().map(|completion| (completion, 1)));
            return Err(error);
        }
        if now.is_empty() {
            // Holding everything back would make this an early, empty-handed return.
            now.extend(held.drain(..).map(|(completion, _)| completion));
        }
        if now.len() > 1 && state.random.chance(self.faults.reorder) {
            for i in (1..now.len()).rev() {
                let j = state.random.below(i + 1);
                now.swap(i, j);
            }
        }
        for completion in now {
            if completions.is_full() {
                held.push((completion, 1));
            } else {
                state.deliver(completion, completions);
            }
        }
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        self.inner.notify()
    }
}

impl<D: CompletionDriver> fmt::Debug for ChaosCompletion<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosCompletion")
            .field("inner", &self.inner)
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::sync::Arc;

    use super::*;
    use crate::completion::{SharedSource, cancelled};

    /// Completes what it was given on the next waits, `per_call` at a time: a receive with
    /// up to 100 bytes of `0xab`, a send with all its bytes; or, `stuck`, nothing until it
    /// is cancelled. Refuses to block with nothing to wait for: the wrapper must never ask
    /// it to while it holds completions back.
    #[derive(Debug)]
    struct Scripted {
        state: Mutex<Script>,
        per_call: usize,
        stuck: bool,
    }

    #[derive(Debug, Default)]
    struct Script {
        pending: Vec<(Token, Operation)>,
        done: Vec<Completion>,
        cancels: usize,
    }

    impl Scripted {
        fn new(per_call: usize, stuck: bool) -> Scripted {
            Scripted { state: Mutex::default(), per_call, stuck }
        }
    }

    impl CompletionDriver for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }

        fn submit(&self, token: Token, operation: Operation) -> Result<(), Refused> {
            let mut script = self.state.lock().unwrap();
            if script.pending.iter().any(|(pending, _)| *pending == token) {
                let error = io::Error::new(io::ErrorKind::InvalidInput, "in flight");
                return Err(Refused { error, operation });
            }
            script.pending.push((token, operation));
            Ok(())
        }

        fn cancel(&self, token: Token) {
            let mut script = self.state.lock().unwrap();
            script.cancels += 1;
            if let Some(index) = script.pending.iter().position(|(pending, _)| *pending == token) {
                let (token, operation) = script.pending.remove(index);
                script.done.push(Completion { token, result: Err(cancelled()), operation });
            }
        }

        fn complete(
            &self,
            completions: &mut Completions,
            timeout: Option<Duration>,
        ) -> io::Result<()> {
            let mut script = self.state.lock().unwrap();
            if !self.stuck {
                let finishing = script.pending.len().min(self.per_call);
                for (token, mut operation) in script.pending.drain(..finishing).collect::<Vec<_>>()
                {
                    let result = match &mut operation {
                        Operation::Receive { buffer, .. } => {
                            let n = (buffer.capacity() - buffer.len()).min(100);
                            buffer.extend(std::iter::repeat_n(0xab, n));
                            Ok(n)
                        }
                        Operation::Send { buffer, offset, .. } => Ok(buffer.len() - *offset),
                        _ => Ok(0),
                    };
                    script.done.push(Completion { token, result, operation });
                }
            }
            assert!(
                timeout.is_some() || !script.done.is_empty() || !script.pending.is_empty(),
                "asked to wait for ever with nothing in flight"
            );
            while !completions.is_full() && !script.done.is_empty() {
                completions.push(script.done.remove(0));
            }
            Ok(())
        }

        fn notify(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn socket() -> SharedSource {
        Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap())
    }

    fn receive(source: &SharedSource) -> Operation {
        let mut buffer = Vec::with_capacity(64);
        buffer.extend_from_slice(&[1, 2, 3]);
        Operation::Receive { source: source.clone(), buffer }
    }

    fn send(source: &SharedSource) -> Operation {
        Operation::Send { source: source.clone(), buffer: (0..50).collect(), offset: 10 }
    }

    /// Submits, through the wrapper's full queue; returns how many refusals it met.
    fn submit(chaos: &ChaosCompletion<Scripted>, token: usize, operation: Operation) -> usize {
        let mut operation = operation;
        for refusals in 0.. {
            match chaos.submit(Token(token), operation) {
                Ok(()) => return refusals,
                Err(refused) => {
                    assert_eq!(refused.error.kind(), io::ErrorKind::WouldBlock);
                    operation = refused.operation;
                }
            }
        }
        unreachable!()
    }

    #[derive(Debug, Default)]
    struct Seen {
        refused: usize,
        interrupted: usize,
        retried: usize,
        short_receives: usize,
        short_sends: usize,
        out_of_order: usize,
        /// (token, result) of every completion, in the order handed over.
        log: Vec<(usize, Option<usize>)>,
    }

    /// Runs batches of receives and sends through the wrapper until each completes once,
    /// checking every completion against its submission.
    fn exercise(seed: u64) -> (Seen, usize) {
        let chaos = ChaosCompletion::new(Scripted::new(3, false), seed);
        let source = socket();
        let mut seen = Seen::default();
        let mut completions = Completions::with_capacity(4);
        for batch in 0..200 {
            let tokens: Vec<usize> = (batch * 8..batch * 8 + 8).collect();
            for &token in &tokens {
                let operation = if token % 2 == 0 { receive(&source) } else { send(&source) };
                seen.refused += submit(&chaos, token, operation);
            }
            let mut done = Vec::new();
            for _ in 0..1000 {
                if done.len() == tokens.len() {
                    break;
                }
                completions.clear();
                if let Err(error) = chaos.complete(&mut completions, Some(Duration::ZERO)) {
                    assert_eq!(error.kind(), io::ErrorKind::Interrupted);
                    assert!(completions.is_empty());
                    seen.interrupted += 1;
                    continue;
                }
                assert!(completions.len() <= 4);
                for Completion { token, result, operation } in completions.drain() {
                    assert!(tokens.contains(&token.0) && !done.contains(&token.0), "{token:?}");
                    seen.log.push((token.0, result.as_ref().ok().copied()));
                    let n = match result {
                        Ok(n) => n,
                        Err(error) => {
                            assert!(matches!(
                                error.kind(),
                                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                            ));
                            seen.retried += 1;
                            seen.refused += submit(&chaos, token.0, operation);
                            continue;
                        }
                    };
                    match operation {
                        Operation::Receive { buffer, .. } => {
                            assert_eq!(buffer.capacity(), 64, "the caller's own buffer");
                            assert_eq!(&buffer[..3], &[1, 2, 3], "bytes before len kept");
                            assert_eq!(buffer.len(), 3 + n);
                            assert!(buffer[3..].iter().all(|byte| *byte == 0xab));
                            assert!((1..=61).contains(&n));
                            seen.short_receives += usize::from(n < 61);
                        }
                        Operation::Send { buffer, offset, .. } => {
                            assert_eq!(buffer, (0..50).collect::<Vec<u8>>());
                            assert_eq!(offset, 10);
                            assert!((1..=40).contains(&n));
                            seen.short_sends += usize::from(n < 40);
                        }
                        other => panic!("{other:?}"),
                    }
                    seen.out_of_order +=
                        usize::from(done.last().is_some_and(|last| *last > token.0));
                    done.push(token.0);
                }
            }
            assert_eq!(done.len(), tokens.len(), "batch {batch}: {done:?}");
        }
        let cancels = chaos.inner().state.lock().unwrap().cancels;
        (seen, cancels)
    }

    #[test]
    fn every_fault_strikes_and_every_operation_completes_once_as_submitted() {
        let (seen, cancels) = exercise(1234);
        assert!(seen.refused > 20, "{seen:?}");
        assert!(seen.interrupted > 20, "{seen:?}");
        assert!(seen.retried > 20, "{seen:?}");
        assert!(seen.short_receives > 50, "{seen:?}");
        assert!(seen.short_sends > 50, "{seen:?}");
        assert!(seen.out_of_order > 50, "{seen:?}");
        assert!(cancels > 50, "{cancels} cancellation races");
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        assert_eq!(exercise(7).0.log, exercise(7).0.log);
        assert_ne!(exercise(7).0.log, exercise(8).0.log);
    }

    /// The wrapper's own cancellations are undone by submitting again; the caller's never
    /// are, whenever it comes.
    #[test]
    fn a_cancel_by_the_caller_is_final() {
        let source = socket();
        for seed in 0..300 {
            let faults = Faults { cancel_race: 0.5, ..Faults::default() };
            let chaos = ChaosCompletion::with_faults(Scripted::new(1, true), seed, faults);
            submit(&chaos, 1, receive(&source));
            let mut completions = Completions::with_capacity(4);
            let mut ended = None;
            for call in 0..50 {
                if call == seed as usize % 4 {
                    chaos.cancel(Token(1));
                }
                completions.clear();
                if chaos.complete(&mut completions, Some(Duration::ZERO)).is_err() {
                    continue;
                }
                if let Some(completion) = completions.drain().next() {
                    assert!(ended.is_none(), "seed {seed}: a second completion");
                    ended = Some(completion);
                    if call >= seed as usize % 4 {
                        break;
                    }
                }
            }
            let Some(completion) = ended else { panic!("seed {seed}: the cancel was lost") };
            let error = completion.result.unwrap_err();
            assert!(
                is_cancelled(&error)
                    || matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ),
                "seed {seed}: {error:?}"
            );
            let Operation::Receive { buffer, .. } = completion.operation else { panic!() };
            assert_eq!((buffer.as_slice(), buffer.capacity()), (&[1, 2, 3][..], 64));
        }
    }

    /// Completions held back make the next wait return at once: the scripted driver fails
    /// any wait without a timeout while it has nothing left to hand over.
    #[test]
    fn holding_back_never_blocks() {
        let source = socket();
        for seed in 0..100 {
            let faults = Faults { delay: 0.7, interrupt: 0.0, refuse: 0.0, ..Faults::default() };
            let chaos = ChaosCompletion::with_faults(Scripted::new(1, false), seed, faults);
            for token in 0..5 {
                submit(&chaos, token, send(&source));
            }
            let mut done = HashSet::new();
            let mut completions = Completions::with_capacity(8);
            for _ in 0..100 {
                if done.len() == 5 {
                    break;
                }
                completions.clear();
                chaos.complete(&mut completions, None).unwrap();
                assert!(!completions.is_empty(), "seed {seed}: an endless wait returned empty");
                for completion in completions.drain() {
                    match completion.result {
                        Ok(_) => assert!(done.insert(completion.token.0)),
                        Err(_) => {
                            submit(&chaos, completion.token.0, completion.operation);
                        }
                    }
                }
            }
            assert_eq!(done.len(), 5, "seed {seed}");
        }
    }
}
