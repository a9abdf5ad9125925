//! Reliability: the ways a reactor loses data or wakeups under pressure, each checked on
//! every backend and again through the fault-injecting backend. Every byte is a function of
//! its stream and position and is checked where it arrives.
//!
//! Sizes are bounded for CI; `PLEXIO_SOAK=1` runs the long versions.

mod util;

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream, UdpSocket};
use plexio::time::{sleep, sleep_until, timeout};
use util::{
    Checksum, Random, Stripes, check_pattern, echo_through, fill_pattern, pattern_byte, run,
    spawn_echo_server,
};

per_backend!(workers:
    many_connections_echo_with_random_write_sizes,
    slow_sender_one_byte_at_a_time_never_hangs_the_reader,
    partial_reader_is_woken_for_the_rest,
    large_write_to_a_slow_reader_arrives_exactly,
    accepts_raced_by_short_timeouts_lose_no_connection,
    reads_raced_by_short_timeouts_lose_no_byte,
    dropping_sockets_during_dispatch_is_safe,
    thousands_of_timers_fire_in_order_never_early,
    a_timer_of_duration_max_never_fires,
    wakes_from_many_threads_lose_no_final_wake,
    busy_connections_stay_responsive_among_thousands_of_idle_ones,
    half_closed_streams_are_answered_with_their_length_and_crc,
    datagrams_arrive_whole_once_each_and_checked,
    reading_a_socket_that_is_always_writable_does_not_livelock,
);

/// Whether the long versions run.
fn soak() -> bool {
    std::env::var_os("PLEXIO_SOAK").is_some()
}

/// How long a wait may take before the test calls it a lost wakeup: far past any honest
/// delay, even under wine on a loaded machine.
const STALL: Duration = Duration::from_secs(10);

/// A connected pair on 127.0.0.1.
async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (client, (server, _)) =
        futures::try_join!(TcpStream::connect(listener.local_addr()?), listener.accept())?;
    Ok((client, server))
}

/// Many connections at once, each echoing its stream in writes of random size from 1 byte
/// to 256 KiB, every byte checked. `select` runs as many as its descriptor limit holds (two
/// descriptors per connection live in this process); what it refuses past the limit is
/// `conformance::descriptor_past_fd_setsize_is_refused_by_select_only`.
fn many_connections_echo_with_random_write_sizes(backend: &str) {
    let (mut connections, length) = if soak() {
        (1_000, 1 << 20)
    } else if util::under_wine() {
        (50, 64 << 10)
    } else {
        (200, 256 << 10)
    };
    if util::base_backend(backend) == "select" {
        connections = connections.min(400);
    }
    let _turn = util::many_descriptors();
    #[cfg(unix)]
    util::raise_descriptor_limit(4 * connections + 256);
    run(backend, || async move {
        let addr = spawn_echo_server().await?;
        let clients: Vec<_> = (0..connections)
            .map(|id| {
                let mut random = Random::new(id);
                let sizes = move || 1 + random.below(256 << 10);
                plexio::spawn(echo_through(addr, 17, id, length, 256 << 10, sizes))
            })
            .collect();
        for client in clients {
            client.await??;
        }
        Ok(())
    });
}

fn slow_sender_one_byte_at_a_time_never_hangs_the_reader(backend: &str) {
    run(backend, || async {
        let (mut client, mut server) = pair().await?;
        const BYTES: u64 = 300;
        // How far the sender got, and whether it is asleep: a stalled read says which side
        // lost its wakeup.
        let sent = Arc::new(AtomicU64::new(0));
        let sender = plexio::spawn({
            let sent = sent.clone();
            async move {
                let mut random = Random::new(1);
                for index in 0..BYTES {
                    client.write_all(&[Stripes::byte(7, index)]).await?;
                    sent.store(2 * (index + 1) + 1, Ordering::SeqCst);
                    sleep(Duration::from_micros(random.below(2_000) as u64)).await;
                    sent.store(2 * (index + 1), Ordering::SeqCst);
                }
                Ok::<_, io::Error>(client)
            }
        });
        let mut received = 0;
        let mut buffer = [0; 16];
        while received < BYTES {
            // A lost wakeup shows as this read stalling.
            let read = timeout(Duration::from_secs(10), server.read(&mut buffer)).await;
            let n = read.map_err(|elapsed| {
                let sent = sent.load(Ordering::SeqCst);
                let (bytes, asleep) = (sent / 2, sent % 2 == 1);
                io::Error::other(format!(
                    "{elapsed}: read stalled after {received} bytes; \
                     the sender wrote {bytes}{}",
                    if asleep { " and sleeps" } else { "" }
                ))
            })??;
            assert!(n > 0, "end of stream after {received} bytes");
            for &byte in &buffer[..n] {
                assert_eq!(byte, Stripes::byte(7, received), "byte {received}");
                received += 1;
            }
        }
        sender.await??;
        Ok(())
    });
}

/// On edge-triggered mechanisms the data left after a partial read raises no new event: the
/// readiness kept by the reactor must let the reader go on.
fn partial_reader_is_woken_for_the_rest(backend: &str) {
    run(backend, || async {
        let (mut client, mut server) = pair().await?;
        const BYTES: u64 = 256 << 10;
        let mut data = vec![0; BYTES as usize];
        Stripes::fill(3, 0, &mut data);
        client.write_all(&data).await?;
        let mut received = 0;
        let mut buffer = [0; 100];
        while received < BYTES {
            let n = timeout(Duration::from_secs(10), server.read(&mut buffer)).await??;
            assert!(n > 0);
            assert!(Stripes::check(3, received, &buffer[..n]), "bytes from {received}");
            received += n as u64;
            if received % 7_000 < 100 {
                // Let other tasks and the reactor run between reads, as a busy program does.
                plexio::task::yield_now().await;
            }
        }
        Ok(())
    });
}

fn large_write_to_a_slow_reader_arrives_exactly(backend: &str) {
    let mebibytes = if soak() {
        64
    } else if util::under_wine() {
        8
    } else {
        32
    };
    run(backend, || async move {
        let (mut client, mut server) = pair().await?;
        let length = mebibytes << 20;
        let writer = plexio::spawn(async move {
            let mut data = vec![0; length as usize];
            Stripes::fill(11, 0, &mut data);
            // One call: the socket takes it in many short writes.
            client.write_all(&data).await?;
            client.close().await?;
            Ok::<_, io::Error>(())
        });
        let mut random = Random::new(2);
        let mut received = 0u64;
        let mut buffer = vec![0; 64 << 10];
        loop {
            let want = 1 + random.below(buffer.len());
            let n = timeout(Duration::from_secs(30), server.read(&mut buffer[..want])).await??;
            if n == 0 {
                break;
            }
            assert!(Stripes::check(11, received, &buffer[..n]), "bytes from {received}");
            received += n as u64;
            if random.below(64) == 0 {
                sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(received, length, "bytes received");
        writer.await??;
        Ok(())
    });
}

/// A cancelled `accept` must leave its connection queued for the next one.
fn accepts_raced_by_short_timeouts_lose_no_connection(backend: &str) {
    let attempts = if soak() {
        20_000
    } else if util::under_wine() {
        500
    } else {
        3_000
    };
    run(backend, || async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        const CONNECTIONS: usize = 200;
        let connector = plexio::spawn(async move {
            let mut random = Random::new(3);
            let mut streams = Vec::new();
            for id in 0..CONNECTIONS {
                let mut stream = TcpStream::connect(addr).await?;
                stream.write_all(&(id as u32).to_le_bytes()).await?;
                streams.push(stream);
                sleep(Duration::from_micros(random.below(500) as u64)).await;
            }
            Ok::<_, io::Error>(streams)
        });
        let mut random = Random::new(4);
        let mut seen = [false; CONNECTIONS];
        let mut accepted = 0;
        let mut tries = 0;
        while accepted < CONNECTIONS {
            tries += 1;
            // After the racing part, wait properly for what is left.
            let limit = if tries < attempts {
                Duration::from_micros(random.below(1_000) as u64)
            } else {
                Duration::from_secs(10)
            };
            match timeout(limit, listener.accept()).await {
                Ok(accepted_stream) => {
                    let (mut stream, _) = accepted_stream?;
                    let mut id = [0; 4];
                    stream.read_exact(&mut id).await?;
                    let id = u32::from_le_bytes(id) as usize;
                    assert!(!seen[id], "connection {id} accepted twice");
                    seen[id] = true;
                    accepted += 1;
                }
                Err(_) => assert!(tries < attempts, "a connection was lost: {accepted} accepted"),
            }
        }
        connector.await??;
        Ok(())
    });
}

/// A cancelled `read` must not have consumed anything.
fn reads_raced_by_short_timeouts_lose_no_byte(backend: &str) {
    let total: u64 = if soak() {
        4 << 20
    } else if util::under_wine() {
        64 << 10
    } else {
        512 << 10
    };
    run(backend, || async move {
        let (mut client, mut server) = pair().await?;
        let consumed = Rc::new(Cell::new(0u64));
        let writer = plexio::spawn_local({
            let consumed = consumed.clone();
            async move {
                let mut random = Random::new(5);
                let mut sent = 0u64;
                let mut chunk = vec![0; 4096];
                for round in 1.. {
                    if sent == total {
                        break;
                    }
                    let n = (1 + random.below(chunk.len())).min((total - sent) as usize);
                    Stripes::fill(13, sent, &mut chunk[..n]);
                    client.write_all(&chunk[..n]).await?;
                    sent += n as u64;
                    if random.below(8) == 0 {
                        sleep(Duration::from_micros(random.below(1_000) as u64)).await;
                    }
                    if round % 16 == 0 {
                        // Once the reader has taken everything, a pause longer than any of its
                        // timeouts: whatever the machine's speed, some reads time out.
                        while consumed.get() < sent {
                            sleep(Duration::from_micros(200)).await;
                        }
                        sleep(Duration::from_millis(3)).await;
                    }
                }
                client.close().await?;
                Ok::<_, io::Error>(())
            }
        });
        let mut random = Random::new(6);
        let mut received = 0u64;
        let mut buffer = vec![0; 8192];
        let mut cancelled = 0;
        loop {
            let limit = Duration::from_micros(random.below(1_000) as u64);
            match timeout(limit, server.read(&mut buffer)).await {
                Err(_) => cancelled += 1,
                Ok(read) => {
                    let n = read?;
                    if n == 0 {
                        break;
                    }
                    assert!(Stripes::check(13, received, &buffer[..n]), "bytes from {received}");
                    received += n as u64;
                    consumed.set(received);
                }
            }
        }
        assert_eq!(received, total);
        writer.await??;
        // The pauses make sure some reads were cancelled while waiting.
        assert!(cancelled > 0, "no read was cancelled; the test raced nothing");
        Ok(())
    });
}

/// A task that drops other sockets, and its own, while their events are being dispatched:
/// the reactor must deliver nothing to them and free every registration.
fn dropping_sockets_during_dispatch_is_safe(backend: &str) {
    let _low_descriptors = util::low_descriptors(backend);
    let runtime = util::runtime(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let before = runtime.stats();
    runtime
        .block_on(async {
            const PAIRS: usize = 40;
            let mut clients = Vec::new();
            let servers = Rc::new(RefCell::new(Vec::new()));
            for _ in 0..PAIRS {
                let (client, server) = pair().await?;
                clients.push(client);
                servers.borrow_mut().push(Some(server));
            }
            // Every server gets a reader task; the first one woken drops all the others' sockets
            // (and its own) before they run.
            let woken = Rc::new(AtomicUsize::new(0));
            let mut readers = Vec::new();
            for index in 0..PAIRS {
                let servers = servers.clone();
                let woken = woken.clone();
                readers.push(plexio::spawn_local(async move {
                    let readable = std::future::poll_fn(|cx| {
                        let mut servers = servers.borrow_mut();
                        let Some(server) = servers[index].as_mut() else {
                            return Poll::Ready(false);
                        };
                        let mut byte = [0];
                        match std::pin::Pin::new(server).poll_read(cx, &mut byte) {
                            Poll::Ready(_) => Poll::Ready(true),
                            Poll::Pending => Poll::Pending,
                        }
                    })
                    .await;
                    if readable && woken.fetch_add(1, Ordering::SeqCst) == 0 {
                        for server in servers.borrow_mut().iter_mut() {
                            drop(server.take());
                        }
                    }
                }));
            }
            plexio::task::yield_now().await;
            for client in &mut clients {
                client.write_all(b"x").await?;
            }
            // The readers whose socket went before they ran finish without reading.
            for reader in readers {
                timeout(Duration::from_secs(10), reader).await?.map_err(io::Error::from)?;
            }
            assert!(servers.borrow().iter().all(Option::is_none));
            drop(clients);
            // The runtime goes on serving.
            let (mut client, mut server) = pair().await?;
            client.write_all(b"after").await?;
            let mut buffer = [0; 5];
            server.read_exact(&mut buffer).await?;
            assert_eq!(&buffer, b"after");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    let after = runtime.stats();
    assert_eq!(after.registrations, before.registrations, "registrations leaked");
    assert_eq!(after.tasks, before.tasks, "tasks leaked");
}

fn thousands_of_timers_fire_in_order_never_early(backend: &str) {
    let count = if soak() {
        100_000
    } else if util::under_wine() {
        2_000
    } else {
        10_000
    };
    run(backend, || async move {
        // The order of firing is the deadlines' only if every timer waits before the first
        // falls due. A machine too busy to set them all within the lead gets a longer one:
        // such a run shows nothing about the order, and is not a failure.
        for lead in [300, 1_500, 6_000].map(Duration::from_millis) {
            if timers_fire_in_order(count, lead).await? {
                return Ok(());
            }
            eprintln!("{count} timers were not all waiting within {lead:?}: a longer lead");
        }
        panic!("{count} timers could not all be set within 6 s");
    });
}

/// Sets `count` timers due between `lead` and `lead` + 200 ms from now, and checks that none
/// fires early and that they fire in deadline order; gives `false`, with the order
/// unchecked, if they were not all waiting before the first deadline.
async fn timers_fire_in_order(count: usize, lead: Duration) -> io::Result<bool> {
    let start = Instant::now() + lead;
    let fired = Rc::new(RefCell::new(Vec::with_capacity(count)));
    let waiting = Rc::new(Cell::new(0));
    let mut random = Random::new(7);
    let mut tasks = Vec::new();
    for _ in 0..count {
        let deadline = start + Duration::from_micros(random.below(200_000) as u64);
        let (fired, waiting) = (fired.clone(), waiting.clone());
        tasks.push(plexio::spawn_local(async move {
            let sleeping = sleep_until(deadline);
            // Counted in the same poll that first polls the timer, just below.
            waiting.set(waiting.get() + 1);
            sleeping.await;
            let now = Instant::now();
            assert!(now >= deadline, "fired {:?} early", deadline - now);
            fired.borrow_mut().push(deadline);
        }));
    }
    while waiting.get() < count {
        plexio::task::yield_now().await;
    }
    let all_waiting_in_time = Instant::now() < start;
    for task in tasks {
        task.await.map_err(io::Error::from)?;
    }
    let fired = fired.borrow();
    assert_eq!(fired.len(), count);
    if !all_waiting_in_time {
        return Ok(false);
    }
    assert!(fired.windows(2).all(|pair| pair[0] <= pair[1]), "timers fired out of order");
    Ok(true)
}

fn a_timer_of_duration_max_never_fires(backend: &str) {
    let _low_descriptors = util::low_descriptors(backend);
    let runtime = util::runtime(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    runtime.block_on(async {
        let never = timeout(Duration::from_millis(100), sleep(Duration::MAX)).await;
        assert!(never.is_err(), "a sleep of Duration::MAX completed");
        let far =
            timeout(Duration::from_millis(50), sleep(Duration::from_secs(u64::MAX / 2))).await;
        assert!(far.is_err());
    });
    assert_eq!(runtime.stats().timers, 0, "cancelled timers stayed registered");
}

/// Millions of wakes from several threads at once, and then the last one, which must not be
/// lost however the earlier ones were coalesced.
fn wakes_from_many_threads_lose_no_final_wake(backend: &str) {
    let per_thread = if soak() {
        1_000_000
    } else if util::under_wine() {
        20_000
    } else {
        250_000
    };
    run(backend, || async move {
        const THREADS: usize = 4;
        let done = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let task = {
            let done = done.clone();
            let started = started.clone();
            std::future::poll_fn(move |cx| {
                if !started.swap(true, Ordering::SeqCst) {
                    for _ in 0..THREADS {
                        let waker = cx.waker().clone();
                        let done = done.clone();
                        threads.push(std::thread::spawn(move || {
                            for _ in 0..per_thread {
                                waker.wake_by_ref();
                            }
                            done.fetch_add(1, Ordering::SeqCst);
                            waker.wake();
                        }));
                    }
                }
                if done.load(Ordering::SeqCst) == THREADS {
                    for thread in threads.drain(..) {
                        thread.join().unwrap();
                    }
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
        };
        // Spawned, so that its waker is a task's, scheduled from other threads.
        timeout(Duration::from_secs(60), plexio::spawn(task)).await?.map_err(io::Error::from)?;
        Ok(())
    });
}

/// Thousands of idle connections beside a hundred busy ones. What is asserted is behaviour,
/// not speed: the busy ones progress together (when the first finishes its rounds, none of
/// the others has fallen far behind: nothing is starved), no round trip stalls, and every
/// idle connection is still registered and answers at the end. The p99 round trip is printed
/// for information; `plexio-bench` measures the cost of the idle ones.
/// `select` cannot hold this many descriptors (`FD_SETSIZE`), which
/// `descriptor_past_fd_setsize_is_refused_by_select_only` pins instead.
fn busy_connections_stay_responsive_among_thousands_of_idle_ones(backend: &str) {
    if util::base_backend(backend) == "select" {
        eprintln!("select holds descriptors below FD_SETSIZE only; nothing to check here");
        return;
    }
    let (idle, busy, rounds) = if soak() {
        (9_000, 100, 1_000)
    } else if util::under_wine() {
        (300, 20, 50)
    } else {
        (2_000, 100, 100)
    };
    let _turn = util::many_descriptors();
    #[cfg(unix)]
    util::raise_descriptor_limit(2 * idle as u64 + 2 * busy as u64 + 256);
    run(backend, || async move {
        let addr = spawn_echo_server().await?;
        let mut parked = Vec::with_capacity(idle);
        for _ in 0..idle {
            parked.push(TcpStream::connect(addr).await?);
        }
        let progress: Rc<Vec<Cell<usize>>> = Rc::new((0..busy).map(|_| Cell::new(0)).collect());
        let laggard_at_first_finish: Rc<Cell<Option<usize>>> = Rc::default();
        let workers: Vec<_> = (0..busy)
            .map(|id| {
                let progress = Rc::clone(&progress);
                let laggard_at_first_finish = Rc::clone(&laggard_at_first_finish);
                plexio::spawn_local(async move {
                    let mut stream = TcpStream::connect(addr).await?;
                    let mut latencies = Vec::with_capacity(rounds);
                    let mut message = [0u8; 64];
                    let mut echo = [0u8; 64];
                    for round in 0..rounds {
                        Stripes::fill(id as u64, (round * 64) as u64, &mut message);
                        let sent = Instant::now();
                        stream.write_all(&message).await?;
                        // A lost wakeup shows as this read stalling.
                        timeout(STALL, stream.read_exact(&mut echo)).await??;
                        latencies.push(sent.elapsed());
                        assert_eq!(echo, message);
                        progress[id].set(round + 1);
                    }
                    if laggard_at_first_finish.get().is_none() {
                        let slowest = progress.iter().map(Cell::get).min().unwrap_or(rounds);
                        laggard_at_first_finish.set(Some(slowest));
                    }
                    Ok::<_, io::Error>(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for worker in workers {
            latencies.extend(worker.await??);
        }
        let slowest = laggard_at_first_finish.get().expect("a worker finished");
        // One thread serves its tasks in the order they are woken, so none falls far behind.
        // Worker threads share the CPUs as the operating system schedules them: there the
        // guarantee is that no round trip stalls (above), not that they keep pace.
        let one_thread = util::worker_threads(backend).is_none();
        assert!(
            !one_thread || slowest >= rounds / 4,
            "starvation: when the first of {busy} busy connections finished {rounds} rounds, \
             one had done only {slowest}"
        );
        latencies.sort();
        let p99 = latencies[latencies.len() * 99 / 100];
        eprintln!(
            "p99 round trip among {idle} idle connections: {p99:?}; the slowest busy one had \
             done {slowest} of {rounds} rounds when the first finished"
        );
        for (index, stream) in parked.iter_mut().enumerate() {
            let message = [index as u8; 8];
            stream.write_all(&message).await?;
            let mut echo = [0u8; 8];
            timeout(STALL, stream.read_exact(&mut echo)).await??;
            assert_eq!(echo, message, "idle connection {index}");
        }
        Ok(())
    });
}

/// The seed of the pattern bytes of the length-and-CRC and datagram scenarios.
const SEED: u64 = 0x5eed;

/// Each connection sends its id, then pattern bytes in writes of random size, and shuts its
/// write half down. The server checks every byte where it arrives and, at EOF, answers with
/// the length and the CRC-32 it computed; the sender compares them with its own.
fn half_closed_streams_are_answered_with_their_length_and_crc(backend: &str) {
    let (connections, length) = if soak() {
        (200, 4 << 20)
    } else if util::under_wine() {
        (10, 64 << 10)
    } else {
        (32, 256 << 10)
    };
    let _turn = util::many_descriptors();
    run(backend, || async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        plexio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await?;
                plexio::spawn(answer_length_and_crc(stream));
            }
            #[allow(unreachable_code)]
            Ok::<_, io::Error>(())
        });
        let senders: Vec<_> = (0..connections)
            .map(|id| plexio::spawn(send_and_compare_crc(addr, id, length)))
            .collect();
        for sender in senders {
            sender.await??;
        }
        Ok(())
    });
}

/// The server side: reads an id, then checks the stream's bytes until EOF, then answers.
async fn answer_length_and_crc(mut stream: TcpStream) -> io::Result<()> {
    let mut id = [0; 8];
    stream.read_exact(&mut id).await?;
    let id = u64::from_le_bytes(id);
    let mut crc = Checksum::default();
    let mut length = 0u64;
    let mut buffer = vec![0; 32 << 10];
    loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        check_pattern(SEED, id, length, &buffer[..n])?;
        crc.update(&buffer[..n]);
        length += n as u64;
    }
    let mut answer = [0; 12];
    answer[..8].copy_from_slice(&length.to_le_bytes());
    answer[8..].copy_from_slice(&crc.value().to_le_bytes());
    stream.write_all(&answer).await?;
    stream.close().await
}

/// The client side of `half_closed_streams_are_answered_with_their_length_and_crc`.
async fn send_and_compare_crc(addr: std::net::SocketAddr, id: u64, length: u64) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(&id.to_le_bytes()).await?;
    let mut random = Random::new(id);
    let mut crc = Checksum::default();
    let mut buffer = vec![0; 256 << 10];
    let mut sent = 0u64;
    while sent < length {
        let n = (1 + random.below(256 << 10)).min((length - sent) as usize);
        fill_pattern(SEED, id, sent, &mut buffer[..n]);
        stream.write_all(&buffer[..n]).await?;
        crc.update(&buffer[..n]);
        sent += n as u64;
    }
    stream.close().await?;
    let mut answer = [0; 12];
    timeout(STALL, stream.read_exact(&mut answer)).await??;
    let their_length = u64::from_le_bytes(answer[..8].try_into().unwrap());
    let their_crc = u32::from_le_bytes(answer[8..].try_into().unwrap());
    assert_eq!((their_length, their_crc), (length, crc.value()), "stream {id}");
    assert_eq!(stream.read(&mut buffer).await?, 0, "stream {id}: more after the answer");
    Ok(())
}

/// The header of a checked datagram: connection, sequence number, length, CRC-32 of the
/// payload, each a little-endian `u32`.
const DATAGRAM_HEADER: usize = 16;

/// Builds datagram `sequence` of connection `connection`, `length` bytes long in all.
fn build_datagram(connection: u32, sequence: u32, length: usize, datagram: &mut [u8]) {
    let stream = (u64::from(connection) << 32) | u64::from(sequence);
    let (header, payload) = datagram[..length].split_at_mut(DATAGRAM_HEADER);
    fill_pattern(SEED, stream, 0, payload);
    header[0..4].copy_from_slice(&connection.to_le_bytes());
    header[4..8].copy_from_slice(&sequence.to_le_bytes());
    header[8..12].copy_from_slice(&(length as u32).to_le_bytes());
    header[12..16].copy_from_slice(&Checksum::of(payload).to_le_bytes());
}

/// Checks a datagram against its header and its pattern; returns its connection and
/// sequence number.
fn check_datagram(datagram: &[u8]) -> io::Result<(u32, u32)> {
    let field = |at: usize| u32::from_le_bytes(datagram[at..at + 4].try_into().unwrap());
    if datagram.len() < DATAGRAM_HEADER {
        return Err(io::Error::other(format!("a datagram of {} bytes", datagram.len())));
    }
    let (connection, sequence, length, crc) = (field(0), field(4), field(8), field(12));
    let payload = &datagram[DATAGRAM_HEADER..];
    let stream = (u64::from(connection) << 32) | u64::from(sequence);
    let whole = length as usize == datagram.len()
        && crc == Checksum::of(payload)
        && payload
            .iter()
            .enumerate()
            .all(|(i, &byte)| byte == pattern_byte(SEED, stream, i as u64));
    if !whole {
        return Err(io::Error::other(format!(
            "datagram {sequence} of connection {connection}: {} bytes, header says {length}, or \
             its bytes differ",
            datagram.len()
        )));
    }
    Ok((connection, sequence))
}

/// Many UDP sockets, each keeping a few datagrams of random length in flight through an echo
/// socket. Both ends check every datagram whole (header, length, CRC, bytes), and each
/// client sees each of its datagrams come back exactly once. The window keeps what is in
/// flight well inside the sockets' buffers, so that loopback drops nothing.
fn datagrams_arrive_whole_once_each_and_checked(backend: &str) {
    const WINDOW: u32 = 2;
    const LARGEST: usize = 1_400;
    let (connections, datagrams) = if soak() {
        (16, 10_000)
    } else if util::under_wine() {
        (8, 50)
    } else {
        (16, 300)
    };
    run(backend, || async move {
        let server = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = server.local_addr()?;
        let total = connections * datagrams;
        let echo = plexio::spawn(async move {
            let mut buffer = vec![0; 2 * LARGEST];
            for _ in 0..total {
                let (n, from) = server.recv_from(&mut buffer).await?;
                check_datagram(&buffer[..n])?;
                server.send_to(&buffer[..n], from).await?;
            }
            Ok::<_, io::Error>(())
        });
        let clients: Vec<_> = (0..connections)
            .map(|connection| {
                plexio::spawn(async move {
                    let socket = UdpSocket::bind("127.0.0.1:0").await?;
                    socket.connect(addr).await?;
                    let mut random = Random::new(u64::from(connection));
                    let mut seen = vec![false; datagrams as usize];
                    let (mut sent, mut received) = (0u32, 0u32);
                    let mut datagram = vec![0; LARGEST];
                    let mut buffer = vec![0; 2 * LARGEST];
                    while received < datagrams {
                        while sent < datagrams && sent - received < WINDOW {
                            let length =
                                DATAGRAM_HEADER + random.below(LARGEST - DATAGRAM_HEADER + 1);
                            build_datagram(connection, sent, length, &mut datagram);
                            socket.send(&datagram[..length]).await?;
                            sent += 1;
                        }
                        let n = timeout(STALL, socket.recv(&mut buffer)).await??;
                        let (from, sequence) = check_datagram(&buffer[..n])?;
                        assert_eq!(from, connection, "another connection's datagram");
                        let seen = &mut seen[sequence as usize];
                        assert!(!*seen, "datagram {sequence} of {connection} came back twice");
                        *seen = true;
                        received += 1;
                    }
                    Ok::<_, io::Error>(())
                })
            })
            .collect();
        for client in clients {
            client.await??;
        }
        echo.await??;
        Ok(())
    });
}

/// One task reads a socket that always has data and is always writable, answering each
/// read with a write, in a loop; its readiness never runs dry. Another connection's round
/// trips must still complete (a livelock or a starved run queue shows as the watchdog
/// firing), and the flood ends cleanly once they have.
fn reading_a_socket_that_is_always_writable_does_not_livelock(backend: &str) {
    let rounds = if util::under_wine() { 50 } else { 500 };
    run(backend, || async move {
        let (mut busy, flooder) = pair().await?;
        let (mut flood_reader, mut flood_writer) = flooder.into_split();
        let stop = Rc::new(Cell::new(false));
        let flood = plexio::spawn_local({
            let stop = stop.clone();
            async move {
                let chunk = [0x5a; 4096];
                while !stop.get() {
                    flood_writer.write_all(&chunk).await?;
                }
                flood_writer.close().await
            }
        });
        let drain = plexio::spawn(async move {
            let mut buffer = vec![0; 64 << 10];
            while flood_reader.read(&mut buffer).await? > 0 {}
            Ok::<_, io::Error>(())
        });
        let reader = plexio::spawn(async move {
            let mut buffer = [0; 512];
            let mut total = 0u64;
            loop {
                let n = busy.read(&mut buffer).await?;
                if n == 0 {
                    busy.close().await?;
                    return Ok::<_, io::Error>(total);
                }
                busy.write_all(&buffer[..1]).await?;
                total += n as u64;
            }
        });
        let addr = spawn_echo_server().await?;
        let mut other = TcpStream::connect(addr).await?;
        for round in 0..rounds {
            let message = (round as u64).to_le_bytes();
            other.write_all(&message).await?;
            let mut echo = [0; 8];
            other.read_exact(&mut echo).await?;
            assert_eq!(echo, message);
        }
        stop.set(true);
        flood.await??;
        let flooded = reader.await??;
        drain.await??;
        assert!(flooded > 0);
        Ok(())
    });
}
