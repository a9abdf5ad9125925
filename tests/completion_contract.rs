//! The `CompletionDriver` contract, checked on each driver directly, without a runtime above
//! it: each guarantee written on the trait has a scenario here, generated once for every
//! driver (plexio's `uring` where it is built, and the test-only third-party driver of
//! `util::thread_completion`), and again through the fault-injecting `ChaosCompletion`
//! wrapper with the `chaos` feature.
//!
//! The scenarios accept everything the contract allows a driver to do (short sends and
//! receives, "submit again" results, a full queue, `Interrupted` waits, completions in any
//! order), so that they hold through the chaos wrapper too, and check everything it
//! promises. Every socket is on 127.0.0.1 and non-blocking, as plexio's are.

mod util;

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use plexio::backend::completion::{
    Completion, CompletionDriver, Completions, MAX_TOKEN, Operation, ReadinessOverCompletion,
    SharedSource, is_cancelled,
};
use plexio::backend::{Backend, Events, Interest, Ready, Registered, Token};

/// Generates, for every driver, a module named after it with one `#[test]` per scenario,
/// and (with the `chaos` feature) a `chaos` module inside it that runs the same scenarios
/// through `ChaosCompletion` (`uring::chaos::cancel_of_a_pending_receive_completes_it`).
macro_rules! per_driver {
    ($($scenario:ident),* $(,)?) => {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        per_driver!(@module "uring", uring, $($scenario),*);
        #[cfg(all(windows, feature = "iocp"))]
        per_driver!(@module "iocp", iocp, $($scenario),*);
        per_driver!(@module "third_party_thread", third_party_thread, $($scenario),*);
    };
    (@module $name:literal, $module:ident, $($scenario:ident),*) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario($name);
                }
            )*

            /// The same scenarios through the fault-injecting wrapper.
            #[cfg(feature = "chaos")]
            mod chaos {
                $(
                    #[test]
                    fn $scenario() {
                        super::super::$scenario(concat!($name, "+chaos"));
                    }
                )*
            }
        }
    };
}

per_driver!(
    receive_grows_the_buffer_into_its_spare_capacity,
    send_sends_from_its_offset,
    accept_hands_over_the_socket_and_its_peer,
    connect_connects,
    receive_from_reports_the_sender,
    send_to_sends_one_datagram,
    short_sends_resubmitted_from_their_offset_deliver_everything,
    every_operation_completes_exactly_once,
    refused_submission_hands_the_operation_back,
    cancel_of_a_pending_receive_completes_it_cancelled,
    cancel_racing_completion_loses_no_bytes,
    cancel_of_a_token_not_in_flight_does_nothing,
    cancelled_accept_loses_no_connection,
    zero_timeout_does_not_block,
    timed_wait_lasts_at_least_its_timeout,
    notify_from_another_thread_ends_an_endless_wait,
    many_notifies_before_a_wait_are_one_wake,
    submission_from_another_thread_is_seen_by_the_next_wait,
    dropping_the_driver_releases_what_it_held_only_then,
    completions_beyond_the_capacity_come_with_later_calls,
    receive_after_a_peer_reset_reports_connection_reset,
    connect_to_a_closed_port_is_refused,
    readiness_over_completion_reports_a_readable_source_with_its_token,
    readiness_over_completion_never_reports_a_deregistered_source,
);

/// A generous bound for a completion that is due.
const DUE: Duration = Duration::from_secs(5);

/// How long a scenario waits where it expects nothing.
const QUIET: Duration = Duration::from_millis(50);

/// The named driver: `uring` (plexio's, opened by name), the third-party one, or either
/// through `ChaosCompletion` for a `+chaos` name.
fn open_driver(driver: &str) -> Box<dyn CompletionDriver> {
    let base = util::base_backend(driver);
    let inner: Arc<dyn CompletionDriver> = if base == util::thread_completion::NAME {
        Arc::new(util::thread_completion::ThreadDriver::new().unwrap())
    } else {
        match plexio::backend::open_driver(base) {
            Ok(plexio::backend::Driver::Completion(driver)) => driver,
            Ok(_) => panic!("{base} is not a completion driver"),
            Err(error) => panic!("could not open {base}: {error}"),
        }
    };
    if base == driver { Box::new(inner) } else { chaos(inner) }
}

#[cfg(feature = "chaos")]
fn chaos(inner: Arc<dyn CompletionDriver>) -> Box<dyn CompletionDriver> {
    let seed = match std::env::var("PLEXIO_CHAOS_SEED") {
        Ok(seed) => seed.parse().expect("PLEXIO_CHAOS_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64),
    };
    // Shown with the output of a failing test: replay with PLEXIO_CHAOS_SEED.
    eprintln!("chaos seed for the {} driver: PLEXIO_CHAOS_SEED={seed}", inner.name());
    Box::new(plexio::backend::completion::chaos::ChaosCompletion::new(inner, seed))
}

#[cfg(not(feature = "chaos"))]
fn chaos(_inner: Arc<dyn CompletionDriver>) -> Box<dyn CompletionDriver> {
    unreachable!("+chaos scenarios exist only with the chaos feature")
}

/// A driver under test, with the completions that arrived for tokens nobody waited for yet.
struct Harness {
    driver: Box<dyn CompletionDriver>,
    /// Whether the driver runs through the chaos wrapper.
    chaos: bool,
    /// Tokens cancelled and not completed yet: a "submit again" answer for one of them is
    /// its completion, not a reason to submit it again.
    cancelled: HashSet<usize>,
    seen: Vec<Completion>,
    buffer: Completions,
    _watchdog: util::Watchdog,
}

impl Harness {
    fn open(driver: &str) -> Harness {
        let watchdog = util::Watchdog::start(util::TEST_LIMIT);
        Harness {
            driver: open_driver(driver),
            chaos: driver != util::base_backend(driver),
            cancelled: HashSet::new(),
            seen: Vec::new(),
            buffer: Completions::with_capacity(64),
            _watchdog: watchdog,
        }
    }

    /// Submits, submitting again after a wait while the driver says its queue is full (the
    /// contract's `WouldBlock` refusal); any other refusal fails the scenario.
    fn submit(&mut self, token: usize, operation: Operation) {
        let mut operation = operation;
        let deadline = Instant::now() + DUE;
        loop {
            match self.driver.submit(Token(token), operation) {
                Ok(()) => return,
                Err(refused) if refused.error.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "the queue stayed full for {DUE:?}");
                    operation = refused.operation;
                    self.collect(Some(Duration::ZERO));
                }
                Err(refused) => panic!("submit {token} refused: {refused:?}"),
            }
        }
    }

    fn cancel(&mut self, token: usize) {
        self.cancelled.insert(token);
        self.driver.cancel(Token(token));
    }

    /// One wait; what it brings goes to `seen`, but for the contract's "nothing happened,
    /// submit it again", which is submitted again (as a runtime does) unless it was
    /// cancelled. Returns how many completions the wait handed over, `None` if it was
    /// interrupted.
    fn collect(&mut self, timeout: Option<Duration>) -> Option<usize> {
        self.buffer.clear();
        match self.driver.complete(&mut self.buffer, timeout) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                assert!(self.buffer.is_empty(), "an interrupted wait handed over completions");
                return None;
            }
            Err(error) => panic!("complete failed: {error} ({error:?})"),
        }
        assert!(self.buffer.len() <= self.buffer.capacity(), "more than the capacity");
        let handed_over = self.buffer.len();
        let mut again = Vec::new();
        for completion in self.buffer.drain() {
            match &completion.result {
                Err(error)
                    if submit_again(error) && !self.cancelled.contains(&completion.token.0) =>
                {
                    again.push((completion.token.0, completion.operation));
                }
                _ => self.seen.push(completion),
            }
        }
        for (token, operation) in again {
            self.submit(token, operation);
        }
        Some(handed_over)
    }

    /// The completion of `token`, waiting for it at most `DUE`.
    fn wait(&mut self, token: usize) -> Completion {
        let deadline = Instant::now() + DUE;
        loop {
            if let Some(index) = self.seen.iter().position(|seen| seen.token.0 == token) {
                let completion = self.seen.remove(index);
                assert!(
                    self.seen.iter().all(|seen| seen.token.0 != token),
                    "two completions for token {token}"
                );
                self.cancelled.remove(&token);
                return completion;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no completion for token {token} within {DUE:?}");
            self.collect(Some(left));
        }
    }

    /// Runs `operation` until it completes with something other than the contract's
    /// "nothing happened, submit again" (`Interrupted`, `WouldBlock`).
    fn run(&mut self, token: usize, operation: Operation) -> Completion {
        let mut operation = operation;
        loop {
            self.submit(token, operation);
            let completion = self.wait(token);
            match &completion.result {
                Err(error) if submit_again(error) => operation = completion.operation,
                _ => return completion,
            }
        }
    }

    /// Asserts that no completion for `token` arrives within `QUIET`.
    fn assert_quiet(&mut self, token: usize, why: &str) {
        let deadline = Instant::now() + QUIET;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            self.collect(Some(left));
            assert!(self.seen.iter().all(|seen| seen.token.0 != token), "{why}: {:?}", self.seen);
            if left.is_zero() {
                break;
            }
        }
    }

    /// Receives until `buffer` holds `length` bytes (short receives are allowed).
    fn receive_exactly(
        &mut self,
        token: usize,
        source: &SharedSource,
        mut buffer: Vec<u8>,
        length: usize,
    ) -> Vec<u8> {
        buffer.reserve_exact(length.saturating_sub(buffer.len()));
        while buffer.len() < length {
            // Never more than asked for: the rest belongs to the next reader.
            let part = Vec::with_capacity(length - buffer.len());
            let completion = self.run(token, receive(source, part));
            let received = completion.result.unwrap();
            assert!(received > 0, "end of stream after {} of {length} bytes", buffer.len());
            let part = completion.operation.into_buffer();
            assert_eq!(part.len(), received);
            buffer.extend_from_slice(&part);
        }
        buffer
    }

    /// Sends all of `bytes`, resubmitting short sends from their offset; returns how many
    /// submissions it took.
    fn send_all(&mut self, token: usize, source: &SharedSource, bytes: Vec<u8>) -> usize {
        let length = bytes.len();
        let mut operation = Operation::Send { source: source.clone(), buffer: bytes, offset: 0 };
        let mut submissions = 0;
        loop {
            submissions += 1;
            let completion = self.run(token, operation);
            let sent = completion.result.unwrap();
            let Operation::Send { source, buffer, offset } = completion.operation else {
                panic!("a send came back as {:?}", completion.operation);
            };
            assert_eq!(buffer.len(), length, "the buffer came back changed");
            assert!(sent > 0 && offset + sent <= length, "sent {sent} from {offset} of {length}");
            if offset + sent == length {
                return submissions;
            }
            operation = Operation::Send { source, buffer, offset: offset + sent };
        }
    }
}

/// The contract's "nothing happened: submit it again".
fn submit_again(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock)
}

fn receive(source: &SharedSource, buffer: Vec<u8>) -> Operation {
    Operation::Receive { source: source.clone(), buffer }
}

/// A connected, non-blocking pair of TCP sockets on loopback, shared as operations need.
fn pair() -> (Arc<TcpStream>, Arc<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.set_nonblocking(true).unwrap();
    server.set_nonblocking(true).unwrap();
    (Arc::new(client), Arc::new(server))
}

fn shared(socket: Arc<TcpStream>) -> SharedSource {
    socket
}

/// A non-blocking listener on loopback, and its address.
fn listener() -> (Arc<TcpListener>, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    (Arc::new(listener), address)
}

/// A non-blocking UDP socket on loopback, and its address.
fn udp() -> (Arc<UdpSocket>, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let address = socket.local_addr().unwrap();
    (Arc::new(socket), address)
}

/// Writes all of `bytes` to a non-blocking stream, waiting out `WouldBlock`.
fn write_all(mut stream: &TcpStream, mut bytes: &[u8]) {
    let deadline = Instant::now() + DUE;
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "could not write within {DUE:?}");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(error) => panic!("write failed: {error}"),
        }
    }
}

/// Reads exactly `length` bytes from a non-blocking stream.
fn read_exactly(mut stream: &TcpStream, length: usize) -> Vec<u8> {
    let deadline = Instant::now() + DUE;
    let mut bytes = vec![0; length];
    let mut got = 0;
    while got < length {
        match stream.read(&mut bytes[got..]) {
            Ok(0) => panic!("end of stream after {got} of {length} bytes"),
            Ok(n) => got += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "{got} of {length} bytes within {DUE:?}");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(error) => panic!("read failed: {error}"),
        }
    }
    bytes
}

/// Waits until a non-blocking stream's peer closed it (`Ok(0)`), failing on data.
fn assert_closed_by_peer(mut stream: &TcpStream) {
    let deadline = Instant::now() + DUE;
    let mut byte = [0];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return,
            Ok(_) => panic!("data where the end of stream was expected"),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the peer's socket is still open: leaked?");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return,
            Err(error) => panic!("read failed: {error}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Results: each operation with its outputs.

fn receive_grows_the_buffer_into_its_spare_capacity(driver: &str) {
    let mut harness = Harness::open(driver);
    let (client, server) = pair();
    let server = shared(server);
    write_all(&client, b"hello");
    let mut buffer = Vec::with_capacity(64);
    buffer.extend_from_slice(b"kept:");
    let capacity = buffer.capacity();
    let completion = harness.run(1, receive(&server, buffer));
    let received = completion.result.unwrap();
    let buffer = completion.operation.into_buffer();
    // A receive may be short: what came is a prefix of what was sent.
    assert!((1..=5).contains(&received), "received {received}");
    assert_eq!(buffer.len(), 5 + received, "len grows by what was received");
    assert_eq!(buffer.capacity(), capacity, "the buffer is the one submitted");
    assert_eq!(&buffer[..5], b"kept:", "bytes before len are kept");
    assert_eq!(&buffer[5..], &b"hello"[..received]);
    let buffer = harness.receive_exactly(2, &server, buffer, 10);
    assert_eq!(buffer, b"kept:hello");
}

fn send_sends_from_its_offset(driver: &str) {
    let mut harness = Harness::open(driver);
    let (client, server) = pair();
    let client = shared(client);
    let submissions = harness.send_all(1, &client, b"skip:payload".to_vec());
    assert!(submissions >= 1);
    // `send_all` starts at offset 0; now one from an offset.
    let operation =
        Operation::Send { source: client.clone(), buffer: b"xxxtail".to_vec(), offset: 3 };
    let completion = harness.run(2, operation);
    let sent = completion.result.unwrap();
    let Operation::Send { buffer, offset, .. } = completion.operation else { panic!() };
    assert_eq!((buffer.as_slice(), offset), (&b"xxxtail"[..], 3), "handed back as submitted");
    assert!((1..=4).contains(&sent), "sent {sent}");
    let expected = [&b"skip:payload"[..], &b"tail"[..sent]].concat();
    assert_eq!(read_exactly(&server, expected.len()), expected);
}

fn accept_hands_over_the_socket_and_its_peer(driver: &str) {
    let mut harness = Harness::open(driver);
    let (listener, address) = listener();
    let operation = Operation::Accept { listener: listener.clone(), accepted: None, peer: None };
    harness.submit(1, operation);
    harness.collect(Some(Duration::ZERO));
    let client = TcpStream::connect(address).unwrap();
    let completion = harness.wait(1);
    let completion = match completion.result {
        Err(ref error) if submit_again(error) => harness.run(1, completion.operation),
        _ => completion,
    };
    assert_eq!(completion.result.unwrap(), 0);
    let Operation::Accept { accepted: Some(accepted), peer, .. } = completion.operation else {
        panic!("no socket: {:?}", completion.operation);
    };
    assert_eq!(peer, Some(client.local_addr().unwrap()));
    let accepted = TcpStream::from(accepted);
    assert_eq!(accepted.peer_addr().unwrap(), client.local_addr().unwrap());
    // Non-blocking, as the contract says: nothing to read yet is WouldBlock, not a hang.
    let mut byte = [0];
    assert_eq!((&accepted).read(&mut byte).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    (&client).write_all(b"x").unwrap();
    assert_eq!(read_exactly(&accepted, 1), b"x");
}

fn connect_connects(driver: &str) {
    let mut harness = Harness::open(driver);
    let (listener, address) = listener();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_nonblocking(true).unwrap();
    let client = Arc::new(TcpStream::from(socket));
    let completion = harness.run(1, Operation::Connect { source: client.clone(), address });
    assert_eq!(completion.result.unwrap(), 0);
    assert_eq!(client.peer_addr().unwrap(), address);
    let deadline = Instant::now() + DUE;
    let (server, peer) = loop {
        match listener.accept() {
            Ok(accepted) => break accepted,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the connection never reached the listener");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(error) => panic!("accept failed: {error}"),
        }
    };
    assert_eq!(peer, client.local_addr().unwrap());
    server.set_nonblocking(true).unwrap();
    write_all(&client, b"hi");
    assert_eq!(read_exactly(&server, 2), b"hi");
}

fn receive_from_reports_the_sender(driver: &str) {
    let mut harness = Harness::open(driver);
    let (receiver, receiver_address) = udp();
    let (sender, sender_address) = udp();
    sender.send_to(b"datagram", receiver_address).unwrap();
    let mut buffer = Vec::with_capacity(64);
    buffer.extend_from_slice(b"<");
    let operation = Operation::ReceiveFrom { source: receiver.clone(), buffer, from: None };
    let completion = harness.run(1, operation);
    assert_eq!(completion.result.unwrap(), 8);
    let Operation::ReceiveFrom { buffer, from, .. } = completion.operation else { panic!() };
    assert_eq!(buffer, b"<datagram");
    assert_eq!(from, Some(sender_address));
}

fn send_to_sends_one_datagram(driver: &str) {
    let mut harness = Harness::open(driver);
    let (receiver, receiver_address) = udp();
    let (sender, sender_address) = udp();
    let operation = Operation::SendTo {
        source: sender.clone(),
        buffer: b"one".to_vec(),
        target: receiver_address,
    };
    assert_eq!(harness.run(1, operation).result.unwrap(), 3);
    let operation =
        Operation::SendTo { source: sender, buffer: b"two".to_vec(), target: receiver_address };
    assert_eq!(harness.run(2, operation).result.unwrap(), 3);
    let deadline = Instant::now() + DUE;
    let mut got = Vec::new();
    let mut buffer = [0; 16];
    while got.len() < 2 {
        match receiver.recv_from(&mut buffer) {
            Ok((n, from)) => {
                assert_eq!(from, sender_address);
                got.push(buffer[..n].to_vec());
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "datagrams missing: {got:?}");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(error) => panic!("recv_from failed: {error}"),
        }
    }
    assert_eq!(got, [b"one".to_vec(), b"two".to_vec()], "one datagram each, in order");
}

/// A send larger than the socket's buffers is short; resubmitted from where it stopped, it
/// delivers every byte once and in order.
fn short_sends_resubmitted_from_their_offset_deliver_everything(driver: &str) {
    const LENGTH: usize = 4 << 20;
    let mut harness = Harness::open(driver);
    let (client, server) = pair();
    socket2::SockRef::from(&*client).set_send_buffer_size(16 << 10).unwrap();
    socket2::SockRef::from(&*server).set_recv_buffer_size(16 << 10).unwrap();
    let reader = std::thread::spawn(move || {
        let mut checksum = util::Checksum::default();
        let mut total = 0;
        let mut buffer = vec![0; 7000];
        let deadline = Instant::now() + DUE * 4;
        while total < LENGTH {
            match (&*server).read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    checksum.update(&buffer[..n]);
                    total += n;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "reader stalled at {total}");
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(error) => panic!("read failed: {error}"),
            }
        }
        (total, checksum.value())
    });
    let mut bytes = vec![0; LENGTH];
    util::Stripes::fill(7, 0, &mut bytes);
    let expected = util::Checksum::of(&bytes);
    let submissions = harness.send_all(1, &shared(client), bytes);
    let (total, checksum) = reader.join().unwrap();
    assert_eq!(total, LENGTH);
    assert_eq!(checksum, expected, "bytes lost, duplicated or reordered");
    eprintln!("{LENGTH} bytes in {submissions} sends");
}

// ---------------------------------------------------------------------------------------
// Exactly once.

fn every_operation_completes_exactly_once(driver: &str) {
    const PAIRS: usize = 16;
    let mut harness = Harness::open(driver);
    let pairs: Vec<_> = (0..PAIRS).map(|_| pair()).collect();
    // A receive waiting on each server, a send on each client.
    for (index, (_, server)) in pairs.iter().enumerate() {
        harness.submit(index, receive(&shared(server.clone()), Vec::with_capacity(8)));
    }
    harness.collect(Some(Duration::ZERO));
    for (index, (client, _)) in pairs.iter().enumerate() {
        let send =
            Operation::Send { source: client.clone(), buffer: vec![index as u8; 4], offset: 0 };
        harness.submit(PAIRS + index, send);
    }
    let mut done = HashSet::new();
    let mut retries = Vec::new();
    let deadline = Instant::now() + DUE;
    while done.len() < 2 * PAIRS {
        assert!(Instant::now() < deadline, "{} of {} completions", done.len(), 2 * PAIRS);
        for (token, operation) in retries.drain(..) {
            harness.submit(token, operation);
        }
        harness.collect(Some(DUE));
        for completion in harness.seen.drain(..) {
            let token = completion.token.0;
            assert!(token < 2 * PAIRS, "a token never submitted: {token}");
            assert!(!done.contains(&token), "token {token} completed twice");
            match completion.result {
                Err(ref error) if submit_again(error) => {
                    retries.push((token, completion.operation));
                    continue;
                }
                Err(error) => panic!("token {token} failed: {error}"),
                Ok(n) => {
                    let index = token % PAIRS;
                    match completion.operation {
                        Operation::Receive { buffer, .. } => {
                            assert!(token < PAIRS && n >= 1 && buffer.len() == n);
                            assert!(buffer.iter().all(|byte| *byte == index as u8), "{buffer:?}");
                        }
                        Operation::Send { .. } => assert!(token >= PAIRS && n >= 1),
                        other => panic!("token {token} came back as {other:?}"),
                    }
                }
            }
            done.insert(token);
        }
    }
    harness.assert_quiet(usize::MAX, "nothing more");
    assert!(harness.seen.is_empty(), "completions after the last one: {:?}", harness.seen);
}

fn refused_submission_hands_the_operation_back(driver: &str) {
    let mut harness = Harness::open(driver);
    let (_client, server) = pair();
    let server = shared(server);
    let refuse = |harness: &mut Harness, token: usize, mark: &[u8]| {
        let mut buffer = Vec::with_capacity(32);
        buffer.extend_from_slice(mark);
        let mut operation = receive(&server, buffer);
        let deadline = Instant::now() + DUE;
        loop {
            let refused = match harness.driver.submit(Token(token), operation) {
                Ok(()) => panic!("token {token:#x} was taken"),
                Err(refused) => refused,
            };
            // A full queue (chaos says so at random) is a refusal too; try until the real one.
            if refused.error.kind() == io::ErrorKind::WouldBlock {
                assert!(Instant::now() < deadline);
                operation = refused.operation;
                continue;
            }
            let Operation::Receive { buffer, .. } = refused.operation else { panic!() };
            assert_eq!(buffer, mark, "handed back untouched");
            assert_eq!(buffer.capacity(), 32);
            return;
        }
    };
    refuse(&mut harness, MAX_TOKEN + 1, b"too big");
    refuse(&mut harness, usize::MAX, b"far too big");
    harness.submit(7, receive(&server, Vec::with_capacity(8)));
    harness.collect(Some(Duration::ZERO));
    refuse(&mut harness, 7, b"in flight");
    // The refused ones never complete; the one in flight completes once, when cancelled.
    harness.cancel(7);
    let completion = harness.wait(7);
    let error = completion.result.unwrap_err();
    assert!(is_cancelled(&error) || (harness.chaos && submit_again(&error)), "{error:?}");
    harness.assert_quiet(7, "a refused submission completed");
    assert!(harness.seen.is_empty(), "completions nobody submitted: {:?}", harness.seen);
}

// ---------------------------------------------------------------------------------------
// Cancellation.

fn cancel_of_a_pending_receive_completes_it_cancelled(driver: &str) {
    let mut harness = Harness::open(driver);
    let (client, server) = pair();
    let server = shared(server);
    let mut buffer = Vec::with_capacity(16);
    buffer.push(b'!');
    harness.submit(1, receive(&server, buffer));
    harness.assert_quiet(1, "a receive with nothing to receive completed");
    harness.cancel(1);
    let completion = harness.wait(1);
    let error = completion.result.unwrap_err();
    // Through chaos, an operation may also end as "submit again" before the cancel.
    assert!(is_cancelled(&error) || (harness.chaos && submit_again(&error)), "{error:?}");
    assert_eq!(completion.operation.into_buffer(), b"!", "nothing transferred");
    // The socket is fine afterwards.
    write_all(&client, b"later");
    assert_eq!(harness.receive_exactly(2, &server, Vec::new(), 5), b"later");
    harness.assert_quiet(1, "a second completion for the cancelled token");
}

/// Data arrives just as the receive is cancelled: the completion carries the bytes, or
/// says cancelled and the bytes wait in the socket; nothing is lost, nothing repeated.
fn cancel_racing_completion_loses_no_bytes(driver: &str) {
    const ROUNDS: usize = 40;
    let mut harness = Harness::open(driver);
    let (client, server) = pair();
    let server = shared(server);
    let mut stream = Vec::new();
    let (mut carried, mut cancelled) = (0, 0);
    for round in 0..ROUNDS {
        let bytes = [round as u8; 3];
        let token = 100 + round;
        if round % 2 == 0 {
            // Submitted (and handed to the kernel) first, then the data, then the cancel.
            harness.submit(token, receive(&server, Vec::with_capacity(64)));
            harness.collect(Some(Duration::ZERO));
            write_all(&client, &bytes);
        } else {
            write_all(&client, &bytes);
            harness.submit(token, receive(&server, Vec::with_capacity(64)));
        }
        if round % 4 == 1 {
            std::thread::sleep(Duration::from_millis(2));
        }
        harness.cancel(token);
        let completion = harness.wait(token);
        match completion.result {
            Ok(n) => {
                carried += 1;
                let buffer = completion.operation.into_buffer();
                assert_eq!(buffer.len(), n);
                stream.extend_from_slice(&buffer);
            }
            Err(ref error) if is_cancelled(error) || submit_again(error) => {
                cancelled += 1;
                assert!(completion.operation.into_buffer().is_empty(), "cancelled, with bytes");
            }
            Err(error) => panic!("round {round}: {error}"),
        }
        // Whatever the receive did not carry is still in the socket.
        let expected = (round + 1) * 3;
        if stream.len() < expected {
            let rest = harness.receive_exactly(token, &server, Vec::new(), expected - stream.len());
            stream.extend_from_slice(&rest);
        }
        let wanted: Vec<u8> = (0..=round).flat_map(|r| [r as u8; 3]).collect();
        assert_eq!(stream, wanted, "round {round}: bytes lost, duplicated or reordered");
    }
    eprintln!("{carried} receives carried their bytes, {cancelled} were cancelled");
}

fn cancel_of_a_token_not_in_flight_does_nothing(driver: &str) {
    let mut harness = Harness::open(driver);
    let (client, server) = pair();
    let server = shared(server);
    // Never submitted, with nothing in flight.
    harness.cancel(99);
    harness.cancel(MAX_TOKEN);
    harness.assert_quiet(99, "a cancel made up a completion");
    // Never submitted, with another operation in flight: that one goes on.
    harness.submit(1, receive(&server, Vec::with_capacity(8)));
    harness.collect(Some(Duration::ZERO));
    harness.cancel(2);
    harness.assert_quiet(1, "a cancel of another token ended the receive");
    write_all(&client, b"abc");
    let completion = harness.wait(1);
    let completion = match completion.result {
        Err(ref error) if submit_again(error) => harness.run(1, completion.operation),
        _ => completion,
    };
    let received = completion.result.unwrap();
    let mut buffer = completion.operation.into_buffer();
    assert_eq!(buffer.len(), received);
    if received < 3 {
        buffer = harness.receive_exactly(3, &server, buffer, 3);
    }
    assert_eq!(buffer, b"abc");
    // Completed already: cancelling it now does nothing either.
    harness.cancel(1);
    harness.assert_quiet(1, "a cancel after the completion made up another");
    assert!(harness.seen.is_empty(), "{:?}", harness.seen);
}

/// A connection waits in the listener's queue when its accept is cancelled: it comes with
/// the completion, or stays in the queue for the next accept. Never lost, never leaked.
fn cancelled_accept_loses_no_connection(driver: &str) {
    const ROUNDS: usize = 20;
    let mut harness = Harness::open(driver);
    let (listener, address) = listener();
    let (mut carried, mut cancelled) = (0, 0);
    for round in 0..ROUNDS {
        let client = TcpStream::connect(address).unwrap();
        client.set_nonblocking(true).unwrap();
        if round % 2 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let operation =
            Operation::Accept { listener: listener.clone(), accepted: None, peer: None };
        harness.submit(round, operation);
        if round % 3 == 0 {
            harness.collect(Some(Duration::ZERO));
        }
        harness.cancel(round);
        let completion = harness.wait(round);
        let server = match completion.result {
            Ok(_) => {
                carried += 1;
                let Operation::Accept { accepted, peer, .. } = completion.operation else {
                    panic!()
                };
                assert_eq!(peer, Some(client.local_addr().unwrap()));
                TcpStream::from(accepted.expect("a completed accept carries its socket"))
            }
            Err(ref error) if is_cancelled(error) || submit_again(error) => {
                cancelled += 1;
                let Operation::Accept { accepted: None, .. } = completion.operation else {
                    panic!("a cancelled accept with a socket: {:?}", completion.operation);
                };
                let deadline = Instant::now() + DUE;
                loop {
                    match listener.accept() {
                        Ok((server, peer)) => {
                            assert_eq!(peer, client.local_addr().unwrap(), "round {round}");
                            break server;
                        }
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            assert!(Instant::now() < deadline, "round {round}: connection lost");
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err(error) => panic!("accept failed: {error}"),
                    }
                }
            }
            Err(error) => panic!("round {round}: {error}"),
        };
        // The one server-side socket of this connection: once it is dropped, the client
        // sees the end of the stream (a descriptor leaked somewhere would keep it open).
        drop(server);
        assert_closed_by_peer(&client);
    }
    assert_eq!(listener.accept().map(|_| ()).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    eprintln!("{carried} accepts carried their connection, {cancelled} were cancelled");
}

// ---------------------------------------------------------------------------------------
// Waiting and notify.

fn zero_timeout_does_not_block(driver: &str) {
    let mut harness = Harness::open(driver);
    let (_client, server) = pair();
    harness.submit(1, receive(&shared(server), Vec::with_capacity(8)));
    for _ in 0..20 {
        let started = Instant::now();
        harness.collect(Some(Duration::ZERO));
        // Far above a descheduled thread's delay on a loaded machine; a blocking wait
        // would last until the receive completes, which it never does here.
        assert!(started.elapsed() < Duration::from_secs(1), "blocked {:?}", started.elapsed());
    }
    assert!(harness.seen.is_empty());
    harness.cancel(1);
    harness.wait(1);
}

fn timed_wait_lasts_at_least_its_timeout(driver: &str) {
    let mut harness = Harness::open(driver);
    let (_client, server) = pair();
    harness.submit(1, receive(&shared(server), Vec::with_capacity(8)));
    for timeout in [1, 10, 30].map(Duration::from_millis) {
        let started = Instant::now();
        // An `Interrupted` wait ends early on purpose; a successful one with nothing in it
        // has waited its time. The fault-injecting wrapper also ends a wait early when the
        // driver underneath completed something it holds back, which looks the same from
        // here, so only the drivers themselves are timed.
        if harness.collect(Some(timeout)) == Some(0) && !driver.ends_with("+chaos") {
            assert!(harness.seen.is_empty(), "{:?}", harness.seen);
            assert!(started.elapsed() >= timeout, "{:?} < {timeout:?}", started.elapsed());
        }
    }
    harness.cancel(1);
    harness.wait(1);
}

fn notify_from_another_thread_ends_an_endless_wait(driver: &str) {
    let harness = Harness::open(driver);
    let driver: Arc<dyn CompletionDriver> = Arc::from(harness.driver);
    let notifier = driver.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        notifier.notify().unwrap();
    });
    let started = Instant::now();
    let mut completions = Completions::with_capacity(4);
    loop {
        match driver.complete(&mut completions, None) {
            Ok(()) => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => panic!("{error}"),
        }
    }
    assert!(completions.is_empty());
    assert!(started.elapsed() < DUE);
    thread.join().unwrap();
}

fn many_notifies_before_a_wait_are_one_wake(driver: &str) {
    let mut harness = Harness::open(driver);
    for _ in 0..100 {
        harness.driver.notify().unwrap();
    }
    // The first wait wakes at once...
    let started = Instant::now();
    while harness.collect(Some(DUE)).is_none() {}
    assert!(started.elapsed() < DUE, "the notifies did not wake the wait");
    // ...and the next waits its time: the other notifies were the same wake.
    let deadline = Instant::now() + QUIET;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let started = Instant::now();
        if harness.collect(Some(left)) == Some(0) {
            assert!(started.elapsed() >= left, "a second wake after {:?}", started.elapsed());
        }
        if left.is_zero() {
            break;
        }
    }
    // A wake that is pending already is still a success.
    harness.driver.notify().unwrap();
    harness.driver.notify().unwrap();
    assert!(harness.seen.is_empty());
}

/// Another thread submits while this one waits, then notifies: the next wait sees it.
fn submission_from_another_thread_is_seen_by_the_next_wait(driver: &str) {
    let harness = Harness::open(driver);
    let watchdog = harness._watchdog;
    let driver: Arc<dyn CompletionDriver> = Arc::from(harness.driver);
    let (client, server) = pair();
    write_all(&client, b"ready");
    let submitter = driver.clone();
    let server = shared(server);
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        let mut operation = receive(&server, Vec::with_capacity(8));
        loop {
            match submitter.submit(Token(5), operation) {
                Ok(()) => break,
                Err(refused) if refused.error.kind() == io::ErrorKind::WouldBlock => {
                    operation = refused.operation;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(refused) => panic!("{refused:?}"),
            }
        }
        submitter.notify().unwrap();
    });
    let mut completions = Completions::with_capacity(4);
    let deadline = Instant::now() + DUE;
    let completion = 'found: loop {
        assert!(Instant::now() < deadline, "the submission was never seen");
        completions.clear();
        match driver.complete(&mut completions, Some(DUE)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => panic!("{error}"),
        }
        if let Some(completion) = completions.drain().next() {
            break 'found completion;
        }
    };
    thread.join().unwrap();
    assert_eq!(completion.token, Token(5));
    // A "submit again" answer is fine; one with data carries a prefix of it.
    if let Ok(n) = completion.result {
        assert_eq!(completion.operation.into_buffer(), &b"ready"[..n]);
    }
    drop(watchdog);
}

// ---------------------------------------------------------------------------------------
// Ownership and capacity.

/// The driver holds each operation's socket while the operation is in flight, and lets go
/// of it (with the buffer) only when it is dropped itself: the socket's count of owners
/// goes back to one.
fn dropping_the_driver_releases_what_it_held_only_then(driver: &str) {
    let mut harness = Harness::open(driver);
    let (client, server) = pair();
    let listener_and_address = listener();
    let (listener, _) = listener_and_address;
    harness.submit(1, receive(&shared(server.clone()), Vec::with_capacity(1 << 16)));
    let accept = Operation::Accept { listener: listener.clone(), accepted: None, peer: None };
    harness.submit(2, accept);
    for _ in 0..3 {
        harness.collect(Some(Duration::from_millis(5)));
    }
    assert!(harness.seen.is_empty(), "{:?}", harness.seen);
    assert_eq!(Arc::strong_count(&server), 2, "the receive holds its socket");
    assert_eq!(Arc::strong_count(&listener), 2, "the accept holds its listener");
    let Harness { driver, _watchdog: watchdog, .. } = harness;
    drop(driver);
    assert_eq!(Arc::strong_count(&server), 1, "the dropped driver still holds the socket");
    assert_eq!(Arc::strong_count(&listener), 1, "the dropped driver still holds the listener");
    // And the socket still works: nothing was closed under it.
    write_all(&client, b"after");
    assert_eq!(read_exactly(&server, 5), b"after");
    drop(watchdog);
}

fn completions_beyond_the_capacity_come_with_later_calls(driver: &str) {
    const OPERATIONS: usize = 10;
    let mut harness = Harness::open(driver);
    let (receiver, receiver_address) = udp();
    let (sender, _) = udp();
    for token in 0..OPERATIONS {
        let operation = Operation::SendTo {
            source: sender.clone(),
            buffer: vec![token as u8],
            target: receiver_address,
        };
        harness.submit(token, operation);
    }
    // Let every one finish before the first wait that may hand them over.
    std::thread::sleep(Duration::from_millis(20));
    let mut completions = Completions::with_capacity(3);
    assert_eq!(completions.capacity(), 3);
    let mut done = HashSet::new();
    let (mut calls, mut through_the_buffer) = (0, 0);
    let deadline = Instant::now() + DUE;
    while done.len() < OPERATIONS {
        assert!(Instant::now() < deadline, "only {} of {OPERATIONS}: {done:?}", done.len());
        // What the harness collected while it submitted (through chaos's full queue).
        let mut arrived: Vec<Completion> = harness.seen.drain(..).collect();
        completions.clear();
        match harness.driver.complete(&mut completions, Some(Duration::from_millis(100))) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => panic!("{error}"),
        }
        calls += 1;
        assert!(completions.len() <= 3, "{} completions in a buffer of 3", completions.len());
        through_the_buffer += completions.len();
        arrived.extend(completions.drain());
        for completion in arrived {
            let token = completion.token.0;
            assert!(done.insert(token), "token {token} twice");
            match completion.result {
                Ok(n) => assert_eq!(n, 1),
                Err(ref error) if submit_again(error) => {
                    done.remove(&token);
                    harness.submit(token, completion.operation);
                }
                Err(error) => panic!("{error}"),
            }
        }
    }
    assert!(calls >= through_the_buffer.div_ceil(3), "{calls} calls");
    let mut received = HashSet::new();
    let mut buffer = [0; 4];
    while let Ok((1, _)) = receiver.recv_from(&mut buffer) {
        received.insert(buffer[0] as usize);
    }
    assert_eq!(received.len(), OPERATIONS, "every datagram was sent once: {received:?}");
}

// ---------------------------------------------------------------------------------------
// Errors.

fn receive_after_a_peer_reset_reports_connection_reset(driver: &str) {
    let mut harness = Harness::open(driver);
    let (client, server) = pair();
    let server = shared(server);
    harness.submit(1, receive(&server, Vec::with_capacity(8)));
    harness.collect(Some(Duration::ZERO));
    // Closing with a zero linger sends a reset instead of the end of stream.
    socket2::SockRef::from(&*client).set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    let mut completion = harness.wait(1);
    while let Err(ref error) = completion.result {
        if !submit_again(error) {
            break;
        }
        completion = harness.run(1, completion.operation);
    }
    if util::under_wine() {
        // Wine reads a received reset as the end of the stream, where Windows reports
        // WSAECONNRESET (the README's table of what wine cannot reproduce).
        let result = &completion.result;
        let reset = matches!(result, Err(error) if error.kind() == io::ErrorKind::ConnectionReset);
        assert!(reset || matches!(result, Ok(0)), "{result:?}");
        return;
    }
    let error = completion.result.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
}

fn connect_to_a_closed_port_is_refused(driver: &str) {
    let mut harness = Harness::open(driver);
    let address = {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        closed.local_addr().unwrap()
    };
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_nonblocking(true).unwrap();
    let operation = Operation::Connect { source: Arc::new(TcpStream::from(socket)), address };
    let error = harness.run(1, operation).result.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error:?}");
}

// ---------------------------------------------------------------------------------------
// The readiness face.

fn readiness(driver: &str) -> (Arc<dyn Backend>, util::Watchdog) {
    let harness = Harness::open(driver);
    let driver: Arc<dyn CompletionDriver> = Arc::from(harness.driver);
    (Arc::new(ReadinessOverCompletion::new(driver)), harness._watchdog)
}

/// One poll's events, as (token, readiness) pairs.
fn poll(backend: &Arc<dyn Backend>, timeout: Duration) -> Vec<(usize, Ready)> {
    let mut events = Events::with_capacity(64);
    match backend.poll(&mut events, Some(timeout)) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
        Err(error) => panic!("poll failed: {error} ({error:?})"),
    }
    events.iter().map(|event| (event.token.0, event.ready)).collect()
}

fn readiness_over_completion_reports_a_readable_source_with_its_token(driver: &str) {
    let (backend, _watchdog) = readiness(driver);
    let (client, server) = pair();
    let server = Arc::try_unwrap(server).unwrap();
    let server = Registered::new(server, backend.clone(), Token(3), Interest::READABLE).unwrap();
    write_all(&client, b"ping");
    let deadline = Instant::now() + DUE;
    let ready = loop {
        assert!(Instant::now() < deadline, "no event for token 3");
        if let Some(&(_, ready)) = poll(&backend, DUE).iter().find(|(token, _)| *token == 3) {
            break ready;
        }
    };
    assert!(ready.contains(Ready::READABLE), "{ready:?}");
    assert_eq!(read_exactly(server.get_ref(), 4), b"ping");
}

fn readiness_over_completion_never_reports_a_deregistered_source(driver: &str) {
    let (backend, _watchdog) = readiness(driver);
    let (client, server) = pair();
    let server = Arc::try_unwrap(server).unwrap();
    let server = Registered::new(server, backend.clone(), Token(5), Interest::READABLE).unwrap();
    write_all(&client, b"data");
    std::thread::sleep(Duration::from_millis(10));
    let server = server.into_inner().unwrap();
    let deadline = Instant::now() + QUIET;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let events = poll(&backend, left);
        assert!(events.iter().all(|(token, _)| *token != 5), "deregistered: {events:?}");
        if left.is_zero() {
            break;
        }
    }
    drop(server);
}
