//! The `Backend` contract, checked on each backend directly, without the reactor above it:
//! each guarantee written on the trait has a scenario here, generated once per backend.
//!
//! Where the contract leaves a choice to the backend (how it triggers), the scenario asks the
//! backend which mode it declares and checks that it keeps to it.

mod util;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use plexio::backend::{Backend, Events, Interest, Ready, Registered, Token, Triggering};

per_backend!(
    plain:
    readable_source_is_reported_with_its_token,
    connected_socket_is_reported_writable,
    deregistered_source_is_never_reported,
    dropped_registration_through_a_borrowed_backend_is_never_reported,
    closed_and_reused_descriptor_reaches_only_its_new_token,
    reregister_moves_the_token_and_interest,
    reports_follow_the_declared_triggering,
    unarmed_source_is_not_reported_over_and_over,
    full_event_buffer_loses_no_readiness,
    notify_ends_a_poll_blocked_on_another_thread,
    many_notifies_before_a_poll_are_one_wake,
    timeouts_are_never_cut_short,
    zero_timeout_does_not_block,
    peer_hang_up_is_reported,
    misuse_is_a_clear_error,
    register_from_another_thread_reaches_a_blocked_poll,
    deregister_from_another_thread_silences_a_blocked_poll,
    rearm_racing_the_start_of_a_poll_on_another_thread_is_never_lost,
    a_backend_whose_short_reads_drain_keeps_its_promise,
);

/// How long a poll waits where the scenario expects nothing: long enough for a stray event
/// to show up, short enough to keep the suite quick.
const QUIET: Duration = Duration::from_millis(50);

/// A generous bound for a poll that expects an event which is already due.
const DUE: Duration = Duration::from_secs(5);

/// The named backend, and a watchdog that turns a hang in the scenario into a failure.
fn open(backend: &str) -> (Arc<dyn Backend>, util::Watchdog) {
    let watchdog = util::Watchdog::start(util::TEST_LIMIT);
    (util::open_backend(backend), watchdog)
}

/// A connected, non-blocking pair of TCP sockets on loopback.
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.set_nonblocking(true).unwrap();
    server.set_nonblocking(true).unwrap();
    (client, server)
}

fn register(
    backend: &Arc<dyn Backend>,
    socket: TcpStream,
    token: usize,
    interest: Interest,
) -> Registered<TcpStream> {
    Registered::new(socket, backend.clone(), Token(token), interest).unwrap()
}

/// One poll's events, as (token, readiness) pairs.
fn poll(backend: &Arc<dyn Backend>, timeout: Option<Duration>) -> Vec<(usize, Ready)> {
    let mut events = Events::with_capacity(64);
    match backend.poll(&mut events, timeout) {
        Ok(()) => {}
        // The contract allows it (and the chaos wrapper injects it): a wake with no events.
        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
        Err(error) => panic!("poll failed: {error} ({error:?})"),
    }
    events.iter().map(|event| (event.token.0, event.ready)).collect()
}

/// Polls until an event for `token` arrives or `DUE` passes; returns its readiness.
fn wait_for(backend: &Arc<dyn Backend>, token: usize) -> Ready {
    let deadline = Instant::now() + DUE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no event for token {token} within {DUE:?}");
        if let Some(&(_, ready)) = poll(backend, Some(left)).iter().find(|(seen, _)| *seen == token)
        {
            return ready;
        }
    }
}

/// Asserts that no poll within `QUIET` reports `token`.
fn assert_quiet(backend: &Arc<dyn Backend>, token: usize, why: &str) {
    let deadline = Instant::now() + QUIET;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let events = poll(backend, Some(left));
        assert!(events.iter().all(|(seen, _)| *seen != token), "{why}: got {events:?}");
        if left.is_zero() {
            break;
        }
    }
}

fn readable_source_is_reported_with_its_token(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut client, server) = pair();
    let server = register(&backend, server, 3, Interest::READABLE);
    client.write_all(b"ping").unwrap();
    let ready = wait_for(&backend, 3);
    assert!(ready.contains(Ready::READABLE), "{ready:?}");
    let mut buffer = [0; 4];
    server.get_ref().read_exact(&mut buffer).unwrap();
    assert_eq!(&buffer, b"ping");
}

fn connected_socket_is_reported_writable(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (client, _server) = pair();
    let _client = register(&backend, client, 4, Interest::WRITABLE);
    let ready = wait_for(&backend, 4);
    assert!(ready.contains(Ready::WRITABLE), "{ready:?}");
}

fn deregistered_source_is_never_reported(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut client, server) = pair();
    let server = register(&backend, server, 5, Interest::READABLE);
    // Ready before the deregistration: a backend must not report what it saw earlier.
    client.write_all(b"data").unwrap();
    std::thread::sleep(Duration::from_millis(10));
    let server = server.into_inner().unwrap();
    assert_quiet(&backend, 5, "an event for a deregistered source");
    drop(server);
}

/// `Registered` reaches its backend through any `AsBackend` handle, here a plain reference,
/// and its drop deregisters (then closes) the socket all the same.
fn dropped_registration_through_a_borrowed_backend_is_never_reported(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut client, server) = pair();
    let borrowed: &dyn Backend = &*backend;
    let server = Registered::new(server, borrowed, Token(6), Interest::READABLE).unwrap();
    client.write_all(b"data").unwrap();
    assert!(wait_for(&backend, 6).contains(Ready::READABLE));
    // Readiness again after the report, so that the backend has something it could report.
    client.write_all(b"more").unwrap();
    std::thread::sleep(Duration::from_millis(10));
    drop(server);
    assert_quiet(&backend, 6, "an event for a dropped registration");
}

/// fd reuse (mio#219): a number closed and handed to a new socket must not carry the old
/// registration's token.
fn closed_and_reused_descriptor_reaches_only_its_new_token(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut old_client, old_server) = pair();
    let old = register(&backend, old_server, 10, Interest::READABLE);
    old_client.write_all(b"old").unwrap();
    drop(old);
    let (mut new_client, new_server) = pair();
    let new = register(&backend, new_server, 11, Interest::READABLE);
    new_client.write_all(b"new").unwrap();
    let deadline = Instant::now() + QUIET * 2;
    let mut seen_new = false;
    while Instant::now() < deadline || !seen_new {
        for (token, _) in poll(&backend, Some(QUIET)) {
            assert_ne!(token, 10, "the old token reached the new socket");
            seen_new |= token == 11;
        }
        assert!(Instant::now() < deadline + DUE, "the new socket was never reported");
    }
    drop(new);
}

fn reregister_moves_the_token_and_interest(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut client, server) = pair();
    let server = register(&backend, server, 20, Interest::WRITABLE);
    assert!(wait_for(&backend, 20).contains(Ready::WRITABLE));
    server.reregister(Token(21), Interest::READABLE).unwrap();
    client.write_all(b"x").unwrap();
    let ready = wait_for(&backend, 21);
    assert!(ready.contains(Ready::READABLE), "{ready:?}");
    assert_quiet(&backend, 20, "the old token after reregister");
}

fn reports_follow_the_declared_triggering(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut client, server) = pair();
    let server = register(&backend, server, 30, Interest::READABLE);
    client.write_all(b"a").unwrap();
    assert!(wait_for(&backend, 30).contains(Ready::READABLE));
    // Nobody reads: what happens next depends on the mode the backend declares.
    match backend.triggering() {
        Triggering::Level => {
            assert!(wait_for(&backend, 30).contains(Ready::READABLE), "level: still ready");
        }
        Triggering::Edge => {
            assert_quiet(&backend, 30, "edge: no new edge, no event");
            client.write_all(b"b").unwrap();
            assert!(wait_for(&backend, 30).contains(Ready::READABLE), "edge: new data");
        }
        Triggering::Oneshot => {
            assert_quiet(&backend, 30, "oneshot: silent until re-armed");
            server.reregister(Token(30), Interest::READABLE).unwrap();
            assert!(wait_for(&backend, 30).contains(Ready::READABLE), "oneshot: re-armed");
        }
    }
}

/// A ready source with an empty interest may get a spurious event where the mechanism cannot
/// express "nothing" (mio), but never the same one in every poll: that is a busy loop.
fn unarmed_source_is_not_reported_over_and_over(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut client, server) = pair();
    let _server = register(&backend, server, 40, Interest::NONE);
    client.write_all(b"unread").unwrap();
    let mut reports = 0;
    for _ in 0..5 {
        reports += poll(&backend, Some(Duration::from_millis(10)))
            .iter()
            .filter(|(token, _)| *token == 40)
            .count();
    }
    assert!(reports <= 1, "an unarmed source was reported {reports} times in 5 polls");
}

/// More ready sources than the buffer holds: the rest come in later polls. The scenario
/// disarms what it was told about, as the reactor does, so that a level-triggered backend is
/// free to report the others.
fn full_event_buffer_loses_no_readiness(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let mut peers = Vec::new();
    let mut registered = Vec::new();
    for token in 100..110 {
        let (mut client, server) = pair();
        client.write_all(b"!").unwrap();
        registered.push(register(&backend, server, token, Interest::READABLE));
        peers.push(client);
    }
    let mut unseen: Vec<usize> = (100..110).collect();
    let deadline = Instant::now() + DUE;
    while !unseen.is_empty() {
        assert!(Instant::now() < deadline, "never reported: {unseen:?}");
        let mut events = Events::with_capacity(3);
        backend.poll(&mut events, Some(DUE)).unwrap();
        assert!(events.len() <= 3);
        for event in events.iter() {
            unseen.retain(|token| *token != event.token.0);
            if backend.triggering() != Triggering::Edge {
                registered[event.token.0 - 100].reregister(event.token, Interest::NONE).unwrap();
            }
        }
    }
}

fn notify_ends_a_poll_blocked_on_another_thread(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let poller = {
        let backend = backend.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            poll(&backend, None);
            started.elapsed()
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    backend.notify().unwrap();
    // Only the end matters: a lost notify leaves the thread blocked and the watchdog fires.
    poller.join().unwrap();
}

/// Notifier saturation (mio#909): a wake that is already pending is a success, and however
/// many there were, they end one poll, not every later one.
fn many_notifies_before_a_poll_are_one_wake(backend: &str) {
    let (backend, _watchdog) = open(backend);
    for _ in 0..100_000 {
        backend.notify().unwrap();
    }
    poll(&backend, Some(DUE));
    let started = Instant::now();
    let events = poll(&backend, Some(QUIET));
    assert!(events.is_empty(), "{events:?}");
    assert!(started.elapsed() >= QUIET, "a second poll was woken by the old notifies");
}

/// With nothing registered and no notify, a poll returns only once its timeout has passed:
/// a timeout rounded down would make the reactor poll for a timer in a loop of short waits.
fn timeouts_are_never_cut_short(backend: &str) {
    let (backend, _watchdog) = open(backend);
    for wait in [Duration::from_micros(1_500), Duration::from_millis(7), Duration::from_millis(20)]
    {
        let started = Instant::now();
        assert!(poll(&backend, Some(wait)).is_empty());
        let took = started.elapsed();
        assert!(took >= wait, "a poll for {wait:?} returned after {took:?}");
    }
}

fn zero_timeout_does_not_block(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (_client, server) = pair();
    let _server = register(&backend, server, 50, Interest::READABLE);
    let started = Instant::now();
    assert!(poll(&backend, Some(Duration::ZERO)).is_empty());
    assert!(started.elapsed() < DUE);
}

fn peer_hang_up_is_reported(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (client, server) = pair();
    let server = register(&backend, server, 60, Interest::READABLE);
    drop(client);
    let ready = wait_for(&backend, 60);
    assert!(ready.intersects(Ready::READABLE | Ready::READ_CLOSED), "{ready:?}");
    let mut buffer = [0; 8];
    assert_eq!(server.get_ref().read(&mut buffer).unwrap(), 0, "end of stream after hang-up");
}

fn misuse_is_a_clear_error(backend: &str) {
    use plexio::backend::AsSource;
    let (backend, _watchdog) = open(backend);
    let (client, server) = pair();
    let reserved = Registered::new(client, backend.clone(), Token::RESERVED, Interest::READABLE);
    assert_eq!(reserved.unwrap_err().kind(), io::ErrorKind::InvalidInput);

    let server = register(&backend, server, 70, Interest::READABLE);
    let raw = server.get_ref().as_raw_source();
    // SAFETY: `server` keeps the socket open past this call, and a refused registration
    // leaves nothing registered to outlive it.
    let twice = unsafe { backend.register(raw, Token(71), Interest::READABLE) };
    assert_eq!(twice.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(
        server.reregister(Token::RESERVED, Interest::READABLE).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );

    let (other, _peer) = pair();
    let other_raw = other.as_raw_source();
    assert_eq!(
        backend.reregister(other_raw, Token(72), Interest::READABLE).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(backend.deregister(other_raw).unwrap_err().kind(), io::ErrorKind::NotFound);
    // The registered source came through all of it unharmed: its peer (`client`) closed
    // with the refused registration, so it reports the end of the stream.
    drop(other);
    server.reregister(Token(70), Interest::READABLE).unwrap();
    assert!(wait_for(&backend, 70).intersects(Ready::READABLE | Ready::READ_CLOSED));
    drop(server);
}

/// A change made while the poll is blocked takes effect without waiting for its timeout
/// (the select and poll backends must interrupt their wait to see it).
fn register_from_another_thread_reaches_a_blocked_poll(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut client, server) = pair();
    let poller = {
        let backend = backend.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + DUE;
            loop {
                assert!(Instant::now() < deadline, "the new registration was never reported");
                if poll(&backend, Some(DUE)).iter().any(|(token, _)| *token == 80) {
                    return;
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    client.write_all(b"late").unwrap();
    let server = register(&backend, server, 80, Interest::READABLE);
    poller.join().unwrap();
    drop(server);
}

/// A source deregistered while another thread is blocked in `poll` is never reported after
/// `deregister` has returned, even by the wait that was already under way when it began.
fn deregister_from_another_thread_silences_a_blocked_poll(backend: &str) {
    let (backend, _watchdog) = open(backend);
    let (mut client, server) = pair();
    let server = register(&backend, server, 81, Interest::READABLE);
    let deregistered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (backend, deregistered, stop) = (backend.clone(), deregistered.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let events = poll(&backend, Some(QUIET));
                // Read after the poll returned: an event it carries for token 81 was handed
                // over after `deregister` returned.
                if deregistered.load(std::sync::atomic::Ordering::SeqCst) {
                    assert!(
                        !events.iter().any(|(token, _)| *token == 81),
                        "an event for a source deregistered during the wait"
                    );
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    let server = server.into_inner().unwrap();
    deregistered.store(true, std::sync::atomic::Ordering::SeqCst);
    client.write_all(b"after").unwrap();
    std::thread::sleep(QUIET * 3);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    backend.notify().unwrap();
    poller.join().unwrap();
    drop(server);
}

/// A change made from another thread just as the polling thread enters its wait is seen by
/// that wait: the backend may not check "is a poll under way?" and then queue the change for
/// the next poll, since the poll can start in between and block with the change left in the
/// queue (polling 3.11 does exactly that on Windows; see `backends/src/polling.rs`).
///
/// The polling thread turns a socket's interest to reading (it has nothing to read: quiet in
/// every mode), tells the other thread, and waits; the other thread at once turns the
/// interest to writing, which the socket always is, so the wait must return with it. The two
/// race at every round, and a lost change hangs its round until `DUE`.
fn rearm_racing_the_start_of_a_poll_on_another_thread_is_never_lost(backend: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (backend, _watchdog) = open(backend);
    // Bounded in rounds and in time: under valgrind, which runs one thread at a time, a
    // round takes milliseconds. A backend that defers such changes fails in its first round.
    let (rounds, budget) = (5_000, Duration::from_secs(3));
    let (_client, server) = pair();
    let server = Arc::new(register(&backend, server, 90, Interest::READABLE));
    // The round the polling thread is about to wait in; `usize::MAX` once it is done.
    let turn = Arc::new(AtomicUsize::new(0));
    let poller = {
        let (backend, server, turn) = (backend.clone(), server.clone(), turn.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            for round in (1..=rounds).take_while(|_| started.elapsed() < budget) {
                turn.store(round, Ordering::SeqCst);
                let deadline = Instant::now() + DUE;
                while !poll(&backend, Some(DUE))
                    .iter()
                    .any(|&(token, ready)| token == 90 && ready.contains(Ready::WRITABLE))
                {
                    assert!(
                        Instant::now() < deadline,
                        "round {round}: the change to writing made as the poll began was lost"
                    );
                }
                server.reregister(Token(90), Interest::READABLE).unwrap();
            }
            turn.store(usize::MAX, Ordering::SeqCst);
        })
    };
    // Threads that keep the scheduler switching, so that a thread is sometimes preempted
    // in the middle of its step: that is how the race shows on a machine of few cores.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let disturbers: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    let mut seen = 0;
    loop {
        let now = turn.load(Ordering::SeqCst);
        if now == usize::MAX || poller.is_finished() {
            break;
        }
        if now == seen {
            std::hint::spin_loop();
            continue;
        }
        seen = now;
        // A delay that sweeps a few microseconds over the rounds, so that some change lands
        // at each moment of the other thread's way into its wait.
        for _ in 0..now % 256 {
            std::hint::spin_loop();
        }
        server.reregister(Token(90), Interest::WRITABLE).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for disturber in disturbers {
        disturber.join().unwrap();
    }
    poller.join().unwrap();
}

/// A backend that says short reads drain (`Backend::short_reads_drain`) reports the end of
/// stream that arrived with data as `READ_CLOSED`, and data reaching an emptied socket as a
/// new event. Backends that do not say so have nothing to keep here.
fn a_backend_whose_short_reads_drain_keeps_its_promise(backend: &str) {
    let (backend, _watchdog) = open(backend);
    if !backend.short_reads_drain() {
        eprintln!("{} does not take short reads as draining: nothing to check", backend.name());
        return;
    }
    assert_eq!(backend.triggering(), Triggering::Edge, "only an edge backend may say so");
    // Data and the end of stream, both there before the first poll.
    let (mut client, server) = pair();
    let server = register(&backend, server, 90, Interest::READABLE);
    client.write_all(&[1; 100]).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut seen = wait_for(&backend, 90);
    for (token, ready) in poll(&backend, Some(QUIET)) {
        if token == 90 {
            seen |= ready;
        }
    }
    assert!(seen.contains(Ready::READABLE | Ready::READ_CLOSED), "got {seen:?}");
    drop(server);
    // An emptied socket reports the next data.
    let (mut client, server) = pair();
    server_read_after_events(&backend, &mut client, server);
    // Urgent data, at whose mark a read stops short with bytes behind it, is reported as
    // `PRIORITY`.
    let (client, server) = pair();
    let server = register(&backend, server, 92, Interest::READABLE);
    let client = socket2::SockRef::from(&client);
    client.send(b"before").unwrap();
    client.send_out_of_band(b"!").unwrap();
    client.send(b"after").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut seen = wait_for(&backend, 92);
    for (token, ready) in poll(&backend, Some(QUIET)) {
        if token == 92 {
            seen |= ready;
        }
    }
    assert!(seen.contains(Ready::READABLE | Ready::PRIORITY), "got {seen:?}");
    drop(server);
}

/// Sends data, reads all of it with a short read once reported, sends more: the second
/// arrival must be reported too.
fn server_read_after_events(backend: &Arc<dyn Backend>, client: &mut TcpStream, server: TcpStream) {
    let server = register(backend, server, 91, Interest::READABLE);
    let mut buffer = [0; 1024];
    for round in 0..3 {
        client.write_all(&[round; 10]).unwrap();
        assert!(wait_for(backend, 91).contains(Ready::READABLE), "round {round}");
        let n = server.get_ref().read(&mut buffer).unwrap();
        assert!(n > 0 && n < buffer.len(), "a short read, round {round}");
    }
}

/// Values a backend does not hold, handed to its safe methods: a socket never registered,
/// a number that is no socket at all, a closed descriptor, a source already deregistered.
/// Each is refused with `NotFound`, is never touched (a backend that turned the number into a
/// borrowed handle panicked on -1, and one that passed it to the kernel said `EBADF`), and the
/// backend keeps serving its other sources. A source registered twice is `AlreadyExists`,
/// and the first registration stands. Run on every backend, and through the chaos wrapper,
/// which must give the same answers as the backend inside it.
mod unknown_sources {
    use super::*;
    use plexio::backend::{AsSource, RawSource};

    per_backend!(
        unregistered_open_socket_is_not_found,
        invalid_number_is_not_found,
        closed_descriptor_is_not_found,
        deregistered_source_is_not_found,
        second_registration_is_already_exists,
    );

    /// A number that is never a socket: -1 on Unix, `INVALID_SOCKET` (`~0`) on Windows.
    #[cfg(unix)]
    const INVALID: RawSource = -1;
    #[cfg(windows)]
    const INVALID: RawSource = RawSource::MAX;

    /// The named backend (`+chaos` wraps it in the fault-injecting backend) and a watchdog.
    fn open(backend: &str) -> (Arc<dyn Backend>, util::Watchdog) {
        let watchdog = util::Watchdog::start(util::TEST_LIMIT);
        (util::open_backend(backend), watchdog)
    }

    /// A registered source and its peer, to show that the backend still serves its other
    /// sources after it was handed something it does not hold.
    struct Bystander {
        peer: TcpStream,
        registered: Registered<TcpStream>,
    }

    const BYSTANDER: usize = 1;

    impl Bystander {
        fn new(backend: &Arc<dyn Backend>) -> Bystander {
            let (peer, server) = pair();
            Bystander { peer, registered: register(backend, server, BYSTANDER, Interest::READABLE) }
        }

        fn assert_served(mut self, backend: &Arc<dyn Backend>) {
            self.peer.write_all(b"!").unwrap();
            // Re-armed, as the reactor would, for a oneshot backend that reported it already.
            self.registered.reregister(Token(BYSTANDER), Interest::READABLE).unwrap();
            wait_until_readable(backend, BYSTANDER);
            self.registered.into_inner().unwrap();
        }
    }

    /// Polls until `token` is reported readable. The chaos wrapper may report a direction
    /// in a later event than the first one for the token, or add spurious ones.
    fn wait_until_readable(backend: &Arc<dyn Backend>, token: usize) {
        let deadline = Instant::now() + DUE;
        while !wait_for(backend, token).contains(Ready::READABLE) {
            assert!(Instant::now() < deadline, "token {token} never reported readable");
        }
    }

    /// Both safe methods refuse `source` with `NotFound`, `reregister` with `token`; plexio's
    /// own backends say why with their own error.
    fn assert_not_found(backend: &Arc<dyn Backend>, source: RawSource, token: usize) {
        let reregistered = backend.reregister(source, Token(token), Interest::READABLE);
        let deregistered = backend.deregister(source);
        for (method, result) in [("reregister", reregistered), ("deregister", deregistered)] {
            let error = match result {
                Err(error) if error.kind() == io::ErrorKind::NotFound => error,
                other => panic!("{method} of {source:?}: {other:?}, expected NotFound"),
            };
            if backend.name() != util::THIRD_PARTY {
                let named = match plexio::Error::from_io(&error) {
                    Some(plexio::Error::NotRegistered { descriptor, .. }) => Some(*descriptor),
                    _ => None,
                };
                assert_eq!(named, Some(source), "{method} of {source:?}: {error:?}");
            }
        }
    }

    fn unregistered_open_socket_is_not_found(backend: &str) {
        let (backend, _watchdog) = open(backend);
        let bystander = Bystander::new(&backend);
        let (mut peer, stranger) = pair();
        assert_not_found(&backend, stranger.as_raw_source(), 2);
        // A refused `reregister` must not have registered it either (kqueue's `EV_ADD` would).
        peer.write_all(b"?").unwrap();
        assert_quiet(&backend, 2, "a socket that was never registered");
        bystander.assert_served(&backend);
    }

    fn invalid_number_is_not_found(backend: &str) {
        let (backend, _watchdog) = open(backend);
        let bystander = Bystander::new(&backend);
        assert_not_found(&backend, INVALID, 2);
        bystander.assert_served(&backend);
    }

    /// The number may be reused by a socket that another test opens meanwhile; that socket
    /// is not registered with this backend either, so the answer is the same.
    fn closed_descriptor_is_not_found(backend: &str) {
        let (backend, _watchdog) = open(backend);
        let bystander = Bystander::new(&backend);
        let (peer, closed) = pair();
        let number = closed.as_raw_source();
        drop((closed, peer));
        assert_not_found(&backend, number, 2);
        bystander.assert_served(&backend);
    }

    fn deregistered_source_is_not_found(backend: &str) {
        let (backend, _watchdog) = open(backend);
        let bystander = Bystander::new(&backend);
        let (mut peer, server) = pair();
        let server = register(&backend, server, 3, Interest::READABLE).into_inner().unwrap();
        assert_not_found(&backend, server.as_raw_source(), 4);
        peer.write_all(b"?").unwrap();
        assert_quiet(&backend, 3, "a deregistered source, under its old token");
        assert_quiet(&backend, 4, "a deregistered source, under the refused token");
        bystander.assert_served(&backend);
    }

    fn second_registration_is_already_exists(backend: &str) {
        let (backend, _watchdog) = open(backend);
        let bystander = Bystander::new(&backend);
        let (mut peer, server) = pair();
        let server = register(&backend, server, 5, Interest::READABLE);
        let raw = server.get_ref().as_raw_source();
        // SAFETY: `server` keeps the socket open past this call and deregisters it before it
        // closes; a refused registration leaves nothing registered to outlive it.
        let twice = unsafe { backend.register(raw, Token(6), Interest::WRITABLE) };
        assert_eq!(
            twice.as_ref().map_err(io::Error::kind),
            Err(io::ErrorKind::AlreadyExists),
            "second register: {twice:?}"
        );
        // The first registration stands, with its own token and interest.
        peer.write_all(b"!").unwrap();
        wait_until_readable(&backend, 5);
        assert_quiet(&backend, 6, "the token of a refused registration");
        // One registration, so one deregistration: the next one finds nothing.
        let server = server.into_inner().unwrap();
        assert_not_found(&backend, server.as_raw_source(), 5);
        bystander.assert_served(&backend);
    }
}
