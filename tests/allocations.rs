//! The steady state of an echo costs no heap allocation: after a warm-up, thousands of round
//! trips through the reactor, the executor and the socket types allocate nothing, on every
//! backend; and a connection that waits for data holds no buffer of its own. A counting
//! global allocator checks both; it counts only the allocations of the thread that asks, so
//! the other tests of this binary, running beside it, do not disturb it.

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream};

struct CountingAllocator;

thread_local! {
    /// Whether this thread's allocations are being counted, and how many there were.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes this thread allocated less the bytes it freed, while counting.
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

/// Counts an allocation of `grown` bytes (a free when negative, which is not an allocation).
fn count(grown: i64, allocation: bool) {
    // `try_with`: allocations made while the thread's locals are torn down are not counted.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            if allocation {
                let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
            }
            let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + grown));
        }
    });
}

fn count_one(layout: Layout) {
    count(layout.size() as i64, true);
}

// SAFETY: every method forwards to the system allocator with the caller's arguments
// unchanged; counting touches only const-initialised thread locals, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one(layout);
        // SAFETY: forwarded as is; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one(layout);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64, true);
        // SAFETY: as for `alloc`; `pointer` came from this allocator, which is `System`.
        unsafe { System.realloc(pointer, layout, new_size) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        count(-(layout.size() as i64), false);
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Starts counting this thread's allocations from zero.
fn start_counting() {
    ALLOCATIONS.with(|count| count.set(0));
    LIVE_BYTES.with(|live| live.set(0));
    COUNTING.with(|counting| counting.set(true));
}

/// Stops counting and says how many allocations this thread made since `start_counting`.
fn stop_counting() -> u64 {
    COUNTING.with(|counting| counting.set(false));
    ALLOCATIONS.with(Cell::get)
}

per_backend!(
    plain: echo_round_trips_allocate_nothing_in_steady_state,
    owned_buffer_round_trips_allocate_nothing_in_steady_state,
    connections_waiting_for_data_hold_no_buffers,
);

const WARM_UP: usize = 1_000;
/// Round trips counted; fewer under wine, where each one costs a millisecond of emulated
/// winsock, and where a steady state that allocated would still show in a thousand.
fn measured() -> usize {
    if util::under_wine() { 1_000 } else { 10_000 }
}
const MESSAGE: usize = 64;

fn echo_round_trips_allocate_nothing_in_steady_state(backend: &str) {
    let runtime = util::runtime(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let mut client = runtime
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            plexio::spawn(async move {
                let (mut stream, _) = listener.accept().await?;
                let mut buffer = [0; MESSAGE];
                loop {
                    stream.read_exact(&mut buffer).await?;
                    stream.write_all(&buffer).await?;
                }
                #[allow(unreachable_code)]
                Ok::<(), std::io::Error>(())
            });
            TcpStream::connect(addr).await
        })
        .unwrap();

    let allocations = runtime
        .block_on(async {
            let mut message = [0u8; MESSAGE];
            let mut echo = [0u8; MESSAGE];
            for round in 0..WARM_UP + measured() {
                if round == WARM_UP {
                    start_counting();
                }
                message.fill(round as u8);
                client.write_all(&message).await?;
                client.read_exact(&mut echo).await?;
                if echo != message {
                    stop_counting();
                    panic!("round trip {round} came back changed");
                }
            }
            Ok::<u64, std::io::Error>(stop_counting())
        })
        .unwrap();
    assert_eq!(
        allocations,
        0,
        "{} echo round trips on the {backend} backend allocated {allocations} times",
        measured()
    );
}

/// The same through the owned-buffer calls, each side reusing one `Vec`: on a completion
/// driver the kernel reads into and writes from those very buffers.
fn owned_buffer_round_trips_allocate_nothing_in_steady_state(backend: &str) {
    let runtime = util::runtime(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let client = runtime
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            plexio::spawn(async move {
                let (stream, _) = listener.accept().await?;
                let mut buffer = Vec::with_capacity(MESSAGE);
                loop {
                    buffer.clear();
                    while buffer.len() < MESSAGE {
                        let (read, returned) = stream.read_owned(buffer).await;
                        buffer = returned;
                        if read? == 0 {
                            return Ok::<(), std::io::Error>(());
                        }
                    }
                    let (written, returned) = stream.write_all_owned(buffer).await;
                    buffer = returned;
                    written?;
                }
            });
            TcpStream::connect(addr).await
        })
        .unwrap();

    let allocations = runtime
        .block_on(async {
            let mut message = Vec::with_capacity(MESSAGE);
            let mut echo = Vec::with_capacity(MESSAGE);
            for round in 0..WARM_UP + measured() {
                if round == WARM_UP {
                    start_counting();
                }
                message.clear();
                message.resize(MESSAGE, round as u8);
                let (written, returned) = client.write_all_owned(message).await;
                message = returned;
                written?;
                echo.clear();
                while echo.len() < MESSAGE {
                    let (read, returned) = client.read_owned(echo).await;
                    echo = returned;
                    assert!(read? > 0, "end of stream");
                }
                if echo != message {
                    stop_counting();
                    panic!("round trip {round} came back changed");
                }
            }
            Ok::<u64, std::io::Error>(stop_counting())
        })
        .unwrap();
    assert_eq!(
        allocations,
        0,
        "{} owned-buffer round trips on the {backend} backend allocated {allocations} times",
        measured()
    );
}

/// Connections of the idle-server pattern (wait until readable, read what is there without
/// waiting, answer it from a buffer taken for the answer and let go after it), each after
/// one large answer, left waiting.
const IDLE_CONNECTIONS: usize = 32;
/// The size of an answer: large enough that a buffer kept for it (the copy a completion
/// driver's write-behind send made of it, kept for the next write) would show beside the
/// rest of what a connection holds.
const IDLE_MESSAGE: usize = 8 << 10;
/// What a waiting connection may hold: its task, registration and socket records, with
/// room for tables that grow by doubling; well under one `IDLE_MESSAGE` buffer.
const IDLE_BYTES_PER_CONNECTION: i64 = 3 << 10;

/// A connection that waits for data holds no buffer of its own: on a completion driver,
/// neither the socket's receive buffer nor the copy its last write sent (a write-behind
/// send finishing while the task waits gives its buffer back); on a readiness backend, no
/// buffer at all. The memory of the server's thread is counted across the connections.
fn connections_waiting_for_data_hold_no_buffers(backend: &str) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, mpsc};

    let runtime = util::runtime(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let echoed = Arc::new(AtomicUsize::new(0));
    let (address_to_client, address) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let client_echoed = echoed.clone();
    let client = std::thread::spawn(move || {
        let address = address.recv().unwrap();
        let mut streams = Vec::new();
        for index in 0..IDLE_CONNECTIONS {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream.write_all(&[index as u8]).unwrap();
            let mut reply = vec![0; IDLE_MESSAGE];
            stream.read_exact(&mut reply).unwrap();
            assert!(reply.iter().all(|&byte| byte == index as u8));
            client_echoed.fetch_add(1, Ordering::SeqCst);
            streams.push(stream);
        }
        // The connections stay open, idle, until the server has counted.
        let _ = released.recv();
    });
    let held = runtime
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            address_to_client.send(listener.local_addr()?).unwrap();
            start_counting();
            plexio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else { return };
                    plexio::spawn(reply_holding_nothing_while_waiting(stream));
                }
            });
            while echoed.load(Ordering::SeqCst) < IDLE_CONNECTIONS {
                plexio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            // The servers' tasks go back to waiting and their last sends finish.
            plexio::time::sleep(std::time::Duration::from_millis(100)).await;
            let held = LIVE_BYTES.with(Cell::get);
            stop_counting();
            Ok::<i64, std::io::Error>(held)
        })
        .unwrap();
    release.send(()).unwrap();
    client.join().unwrap();
    let per_connection = held / IDLE_CONNECTIONS as i64;
    assert!(
        per_connection <= IDLE_BYTES_PER_CONNECTION,
        "on the {backend} backend each waiting connection holds {per_connection} bytes"
    );
}

/// Answers each byte it receives with `IDLE_MESSAGE` copies of it, holding no buffer while
/// it waits for the next.
async fn reply_holding_nothing_while_waiting(mut stream: TcpStream) {
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let mut request = [0; 1];
        // A read that does not wait: readiness may be stale, and nothing must be held while
        // waiting.
        let Some(read) = futures::FutureExt::now_or_never(stream.read(&mut request)) else {
            continue;
        };
        let Ok(1) = read else { return };
        let reply = vec![request[0]; IDLE_MESSAGE];
        if stream.write_all(&reply).await.is_err() {
            return;
        }
    }
}
