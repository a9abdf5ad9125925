//! The steady state of an echo costs no heap allocation: after a warm-up, thousands of round
//! trips through the reactor, the executor and the socket types allocate nothing, on every
//! backend. A counting global allocator checks it; it counts only the allocations of the
//! thread that asks, so the other tests of this binary, running beside it, do not disturb it.

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
}

fn count_one() {
    // `try_with`: allocations made while the thread's locals are torn down are not counted.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        }
    });
}

// SAFETY: every method forwards to the system allocator with the caller's arguments
// unchanged; counting touches only const-initialised thread locals, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded as is; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: as for `alloc`; `pointer` came from this allocator, which is `System`.
        unsafe { System.realloc(pointer, layout, new_size) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Starts counting this thread's allocations from zero.
fn start_counting() {
    ALLOCATIONS.with(|count| count.set(0));
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
