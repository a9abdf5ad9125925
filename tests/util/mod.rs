//! Helpers shared by the integration tests: the per-backend test generator, a runner with a
//! watchdog, deterministic data, and the test-only third-party backend.

#![allow(dead_code)]

pub mod level_backend;
pub mod thread_completion;

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::Runtime;
use plexio::net::{TcpListener, TcpStream};

/// The name under which the test-only third-party backend runs the suite.
pub const THIRD_PARTY: &str = "third_party_level";

/// No test may run longer than this; past it the watchdog aborts the process, naming the
/// test, so that a hang is a failure rather than a stuck CI.
pub const TEST_LIMIT: Duration = Duration::from_secs(120);

/// Generates, for every backend compiled in plus the test-only third-party backend, a module
/// named after the backend holding one `#[test]` per scenario, each calling the scenario with
/// the backend's name: a failure reads `poll::echo_8_mib_with_checksum`. With the `chaos`
/// feature, each module also holds a `chaos` module that runs the scenarios again through
/// the fault-injecting backend (`poll::chaos::echo_8_mib_with_checksum`, with the name
/// `"poll+chaos"`); `per_backend!(plain: ...)` leaves it out, for scenarios about a backend's
/// own behaviour, which the faults would change on purpose. `per_backend!(workers: ...)`
/// adds a `workers4` module that runs the scenarios again on a runtime of four worker
/// threads (`mio::workers4::echo_8_mib_with_checksum`, with the name `"mio+workers4"`).
#[macro_export]
macro_rules! per_backend {
    (plain: $($scenario:ident),* $(,)?) => {
        $crate::per_backend!(@all [], $($scenario),*);
    };
    (workers: $($scenario:ident),* $(,)?) => {
        $crate::per_backend!(@all [workers], $($scenario),*);
    };
    ($($scenario:ident),* $(,)?) => {
        $crate::per_backend!(@all [chaos], $($scenario),*);
    };
    (@all [$($chaos:ident)?], $($scenario:ident),*) => {
        $crate::per_backend!(@backend "select", select, [$($chaos)?], $($scenario),*);
        $crate::per_backend!(@backend "poll", poll, [$($chaos)?], $($scenario),*);
        $crate::per_backend!(@backend "mio", mio, [$($chaos)?], $($scenario),*);
        $crate::per_backend!(@backend "polling", polling, [$($chaos)?], $($scenario),*);
        #[cfg(target_os = "linux")]
        $crate::per_backend!(@backend "uring", uring, [$($chaos)?], $($scenario),*);
        #[cfg(windows)]
        $crate::per_backend!(@backend "iocp", iocp, [$($chaos)?], $($scenario),*);
        $crate::per_backend!(@module "third_party_level", third_party_level, [$($chaos)?],
            $($scenario),*);
    };
    (@backend $name:literal, $module:ident, [$($chaos:ident)?], $($scenario:ident),*) => {
        #[cfg(feature = $name)]
        $crate::per_backend!(@module $name, $module, [$($chaos)?], $($scenario),*);
    };
    (@module $name:literal, $module:ident, [$($chaos:ident)?], $($scenario:ident),*) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario($name);
                }
            )*
            $crate::per_backend!(@chaos $name, [$($chaos)?], $($scenario),*);
        }
    };
    (@chaos $name:literal, [], $($scenario:ident),*) => {};
    (@chaos $name:literal, [workers], $($scenario:ident),*) => {
        $crate::per_backend!(@chaos $name, [chaos], $($scenario),*);
        /// The same scenarios on a runtime of four worker threads.
        mod workers4 {
            $(
                #[test]
                fn $scenario() {
                    super::super::$scenario(concat!($name, "+workers4"));
                }
            )*
        }
    };
    (@chaos $name:literal, [chaos], $($scenario:ident),*) => {
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
    };
}

/// Whether the tests run under wine (`../shared/cross/wine-test.sh` sets `WINEPREFIX`, and
/// wine hands the Unix environment to Windows programs). Only for the documented places
/// where wine is not Windows; never to skip a test.
pub fn under_wine() -> bool {
    cfg!(windows) && std::env::var_os("WINEPREFIX").is_some()
}

/// A loopback TCP port that nothing listens on, for as long as the value lives.
///
/// A socket of no runtime is bound to it and never listens: connections to it are refused,
/// and neither another test's listener nor a connecting socket can take the port meanwhile.
/// A port merely closed could be handed out again at once, and a connect whose own local
/// port happened to be the one it dials would connect to itself (TCP's simultaneous open);
/// a connect that binds its local end first, as `ConnectEx` must, takes it from the same
/// pool. Not a plexio listener dropped for the purpose either: under wine, a socket that
/// another worker's wait (`WSAPoll`, or an AFD poll) still holds stays open in wine's
/// server until that wait has been taken back, so for a moment after the drop the port
/// still answers; Windows closes the socket when its handle closes.
pub struct ClosedPort {
    _bound: socket2::Socket,
    addr: std::net::SocketAddr,
}

impl ClosedPort {
    /// Binds a socket to a port of the system's choosing on 127.0.0.1.
    pub fn new() -> ClosedPort {
        let bound = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a TCP socket");
        let any_port: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        bound.bind(&any_port.into()).expect("bind to a free loopback port");
        let addr = bound.local_addr().unwrap().as_socket().expect("an IP address");
        ClosedPort { _bound: bound, addr }
    }

    /// The address: connecting to it is refused.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

/// The suffix of a backend name that runs it through the fault-injecting `ChaosBackend`:
/// `"poll+chaos"`.
pub const CHAOS: &str = "+chaos";

/// The suffix of a backend name that runs the scenario on a runtime of four worker threads:
/// `"mio+workers4"`.
pub const WORKERS4: &str = "+workers4";

/// The backend a test name stands for, without its `+chaos` or `+workers4` suffix.
pub fn base_backend(backend: &str) -> &str {
    backend.split('+').next().unwrap_or(backend)
}

/// How many worker threads the runtime of a test name runs: 4 for a `+workers4` name, else
/// none (a runtime of one thread).
pub fn worker_threads(backend: &str) -> Option<usize> {
    backend.ends_with(WORKERS4).then_some(4)
}

/// Opens the backend a test name stands for: one of plexio's own, the test-only third-party
/// backend, and either of them wrapped in the `ChaosBackend` for a `+chaos` name, whose seed
/// is `PLEXIO_CHAOS_SEED` or else a fresh one, printed so that a failure can be replayed.
pub fn open_backend(backend: &str) -> std::sync::Arc<dyn plexio::backend::Backend> {
    let base = base_backend(backend);
    let inner: std::sync::Arc<dyn plexio::backend::Backend> = if base == THIRD_PARTY {
        std::sync::Arc::new(level_backend::LevelBackend::new().unwrap())
    } else if is_completion(base) {
        // A completion driver's readiness face: its poll operations.
        let Ok(plexio::backend::Driver::Completion(driver)) = plexio::backend::open_driver(base)
        else {
            panic!("{base} is a completion driver");
        };
        std::sync::Arc::new(plexio::backend::completion::ReadinessOverCompletion::new(driver))
    } else {
        plexio::backend::open(base).unwrap()
    };
    if !backend.contains(CHAOS) {
        return inner;
    }
    chaos(inner)
}

/// `PLEXIO_CHAOS_SEED`, or else a fresh seed.
#[cfg(feature = "chaos")]
fn chaos_seed() -> u64 {
    match std::env::var("PLEXIO_CHAOS_SEED") {
        Ok(seed) => seed.parse().expect("PLEXIO_CHAOS_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64),
    }
}

#[cfg(feature = "chaos")]
fn chaos(
    inner: std::sync::Arc<dyn plexio::backend::Backend>,
) -> std::sync::Arc<dyn plexio::backend::Backend> {
    let seed = chaos_seed();
    // Shown with the output of a failing test: replay with PLEXIO_CHAOS_SEED.
    eprintln!("chaos seed for the {} backend: PLEXIO_CHAOS_SEED={seed}", inner.name());
    std::sync::Arc::new(plexio::backend::chaos::ChaosBackend::new(inner, seed))
}

/// A completion driver opened by name and wrapped in the fault-injecting `ChaosCompletion`,
/// seeded as [`chaos`] seeds the readiness wrapper.
#[cfg(feature = "chaos")]
fn completion_chaos(name: &str) -> plexio::backend::Driver {
    let Ok(plexio::backend::Driver::Completion(driver)) = plexio::backend::open_driver(name) else {
        panic!("{name} is a completion driver");
    };
    let seed = chaos_seed();
    eprintln!("chaos seed for the {name} driver: PLEXIO_CHAOS_SEED={seed}");
    let chaotic = plexio::backend::completion::chaos::ChaosCompletion::new(driver, seed);
    plexio::backend::Driver::Completion(std::sync::Arc::new(chaotic))
}

#[cfg(not(feature = "chaos"))]
fn completion_chaos(_name: &str) -> plexio::backend::Driver {
    unreachable!("+chaos tests exist only with the chaos feature")
}

#[cfg(not(feature = "chaos"))]
fn chaos(
    _inner: std::sync::Arc<dyn plexio::backend::Backend>,
) -> std::sync::Arc<dyn plexio::backend::Backend> {
    unreachable!("+chaos tests exist only with the chaos feature")
}

/// Whether the backend a test name stands for is a completion driver.
pub fn is_completion(backend: &str) -> bool {
    matches!(base_backend(backend), "uring" | "iocp")
}

/// A runtime on the backend a test name stands for (see [`open_backend`]); a completion
/// driver runs as itself, or under chaos through the readiness face of its poll operations.
/// A `+workers4` name gets four worker threads, each on a backend opened the same way.
pub fn runtime(backend: &str) -> Runtime {
    let runtime = builder(backend).build().unwrap();
    assert_eq!(runtime.backend_name(), base_backend(backend));
    assert_eq!(runtime.worker_threads(), worker_threads(backend).unwrap_or(0));
    runtime
}

/// The builder of [`runtime`], for a test that sets more on it.
pub fn builder(backend: &str) -> plexio::Builder {
    let builder = Runtime::builder();
    let builder = match (is_completion(backend), backend.contains(CHAOS)) {
        (true, false) => builder.backend(base_backend(backend)),
        // The completion driver itself misbehaves: its operations and its poll operations;
        // one such driver per worker on a multi-worker runtime.
        (true, true) if worker_threads(backend).is_some() => {
            let base = base_backend(backend).to_owned();
            builder.driver_factory(move || Ok(completion_chaos(&base)))
        }
        (true, true) => builder.driver(completion_chaos(base_backend(backend))),
        _ => {
            let name = backend.to_owned();
            builder
                .driver_factory(move || Ok(plexio::backend::Driver::Readiness(open_backend(&name))))
        }
    };
    match worker_threads(backend) {
        Some(count) => builder.worker_threads(count),
        None => builder,
    }
}

/// Runs `test` on a runtime of `backend`, under the watchdog, and fails on its error.
pub fn run<F, Fut>(backend: &str, test: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    // Taken before the watchdog starts: waiting for a turn is not the test's own time.
    let _low_descriptors = low_descriptors(backend);
    let runtime = runtime(backend);
    let stats = runtime.stats_handle();
    let _watchdog = Watchdog::start(TEST_LIMIT);
    if let Err(error) = runtime.block_on(test()) {
        panic!("test failed on the {backend} backend: {error} ({error:?})");
    }
    // Whatever the test left running (servers, timers, parked sockets) is cancelled and
    // released with the runtime: nothing may outlive it.
    drop(runtime);
    let left = stats.get();
    assert!(left.is_empty(), "the dropped runtime still holds {left:?}");
}

/// Who may open descriptors now. The tests of one binary run on parallel threads of one
/// process, which has one descriptor table: a scenario that opens descriptors by the
/// thousand could exhaust the limit next to another one, and would push the sockets of a
/// `select` scenario running meanwhile past `FD_SETSIZE`. Such a scenario holds this lock for
/// writing ([`many_descriptors`]); `select` scenarios hold it for reading (in [`run`]).
static DESCRIPTORS: RwLock<()> = RwLock::new(());

thread_local! {
    /// Whether this test's thread holds [`DESCRIPTORS`] for writing.
    static OWNS_DESCRIPTORS: Cell<bool> = const { Cell::new(false) };
}

/// The turn of a scenario that opens many descriptors: while it lives, no other such
/// scenario and no `select` scenario runs in this process. Take it before [`run`].
pub struct ManyDescriptors {
    _guard: RwLockWriteGuard<'static, ()>,
}

pub fn many_descriptors() -> ManyDescriptors {
    let guard = DESCRIPTORS.write().unwrap_or_else(PoisonError::into_inner);
    OWNS_DESCRIPTORS.with(|owns| owns.set(true));
    ManyDescriptors { _guard: guard }
}

impl Drop for ManyDescriptors {
    fn drop(&mut self) {
        OWNS_DESCRIPTORS.with(|owns| owns.set(false));
    }
}

/// For a `select` scenario, the guarantee that descriptor numbers stay low while it runs
/// (held by [`run`]; a scenario that builds its runtime itself takes it first). Nothing to
/// wait for on other backends, or when this thread holds every descriptor's turn already.
pub fn low_descriptors(backend: &str) -> Option<RwLockReadGuard<'static, ()>> {
    if base_backend(backend) != "select" || OWNS_DESCRIPTORS.with(Cell::get) {
        return None;
    }
    Some(DESCRIPTORS.read().unwrap_or_else(PoisonError::into_inner))
}

/// Aborts the process if not dropped within its limit.
pub struct Watchdog {
    _done: mpsc::Sender<()>,
}

impl Watchdog {
    pub fn start(limit: Duration) -> Watchdog {
        let (done, finished) = mpsc::channel::<()>();
        let name = std::thread::current().name().unwrap_or("a test").to_owned();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
                // Straight to the process's stderr: `eprintln!` on a thread a test spawned
                // goes to the test's captured output, which the abort throws away, and the
                // name of the test that hung would be lost with it.
                let message = format!("watchdog: {name} ran longer than {limit:?}; aborting\n");
                let _ = io::Write::write_all(&mut io::stderr(), message.as_bytes());
                std::process::abort();
            }
        });
        Watchdog { _done: done }
    }
}

/// Byte `index` of stream `stream` under `seed`: deterministic, and different across
/// streams and positions, so that a lost, duplicated or reordered byte is caught in place.
pub fn pattern_byte(seed: u64, stream: u64, index: u64) -> u8 {
    let mut x = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (index / 8);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> ((index % 8) * 8)) as u8
}

/// Checks that `bytes` are the pattern from `offset` on; the error names the first wrong
/// byte.
pub fn check_pattern(seed: u64, stream: u64, offset: u64, bytes: &[u8]) -> io::Result<()> {
    for (i, &byte) in bytes.iter().enumerate() {
        let index = offset + i as u64;
        let expected = pattern_byte(seed, stream, index);
        if byte != expected {
            return Err(io::Error::other(format!(
                "stream {stream}: byte {index} is {byte:#04x}, expected {expected:#04x}"
            )));
        }
    }
    Ok(())
}

/// Fills `buffer` with the pattern starting at `offset`.
pub fn fill_pattern(seed: u64, stream: u64, offset: u64, buffer: &mut [u8]) {
    for (i, byte) in buffer.iter_mut().enumerate() {
        *byte = pattern_byte(seed, stream, offset + i as u64);
    }
}

/// Deterministic stream contents, cheap enough for tens of mebibytes: byte `index` of
/// stream `stream` comes from a hash of (stream, index / 8), so a lost, duplicated or
/// reordered byte shows where it lands.
pub struct Stripes;

impl Stripes {
    fn word(stream: u64, block: u64) -> u64 {
        let mut x = stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ block;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    /// Byte `index` of stream `stream`.
    pub fn byte(stream: u64, index: u64) -> u8 {
        (Stripes::word(stream, index / 8) >> ((index % 8) * 8)) as u8
    }

    /// Fills `buffer` with stream `stream` from byte `offset` on.
    pub fn fill(stream: u64, offset: u64, buffer: &mut [u8]) {
        let mut block = u64::MAX;
        let mut word = 0;
        for (i, byte) in buffer.iter_mut().enumerate() {
            let index = offset + i as u64;
            if index / 8 != block {
                block = index / 8;
                word = Stripes::word(stream, block);
            }
            *byte = (word >> ((index % 8) * 8)) as u8;
        }
    }

    /// Whether `bytes` are stream `stream` from byte `offset` on.
    pub fn check(stream: u64, offset: u64, bytes: &[u8]) -> bool {
        let mut expected = [0; 4096];
        bytes.chunks(expected.len()).enumerate().all(|(n, chunk)| {
            let expected = &mut expected[..chunk.len()];
            Stripes::fill(stream, offset + (n * 4096) as u64, expected);
            expected == chunk
        })
    }
}

/// A small seeded generator (SplitMix64) for sizes and delays that vary but replay.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        Stripes::word(0, self.0)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// A running CRC-32 (IEEE 802.3, the polynomial of Ethernet and zlib) of a byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checksum(u32);

impl Default for Checksum {
    fn default() -> Checksum {
        Checksum(!0)
    }
}

impl Checksum {
    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u32::from(byte);
            for _ in 0..8 {
                let mask = (self.0 & 1).wrapping_neg();
                self.0 = (self.0 >> 1) ^ (0xedb8_8320 & mask);
            }
        }
    }

    /// The CRC of the bytes so far.
    pub fn value(&self) -> u32 {
        !self.0
    }

    /// The CRC of `bytes` alone.
    pub fn of(bytes: &[u8]) -> u32 {
        let mut crc = Checksum::default();
        crc.update(bytes);
        crc.value()
    }
}

/// Spawns an echo server on 127.0.0.1 that serves every connection until EOF, and returns
/// its address.
pub async fn spawn_echo_server() -> io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    plexio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            plexio::spawn(echo(stream));
        }
    });
    Ok(addr)
}

/// Echoes everything read back to the peer until EOF, then shuts down writing.
pub async fn echo(mut stream: TcpStream) -> io::Result<u64> {
    let mut buffer = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            stream.close().await?;
            return Ok(total);
        }
        stream.write_all(&buffer[..n]).await?;
        total += n as u64;
    }
}

/// Sends `length` pattern bytes of stream `id` through an echo server at `addr`, in writes
/// of the sizes `chunk` picks (at most `max_chunk`), while reading the echo concurrently and
/// checking every byte where it arrives.
pub async fn echo_through(
    addr: std::net::SocketAddr,
    seed: u64,
    id: u64,
    length: u64,
    max_chunk: usize,
    mut chunk: impl FnMut() -> usize + Send + 'static,
) -> io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let (mut reader, mut writer) = stream.into_split();
    let sender = plexio::spawn(async move {
        let mut buffer = vec![0; max_chunk];
        let mut sent = 0u64;
        while sent < length {
            let n = chunk().clamp(1, max_chunk).min((length - sent) as usize);
            fill_pattern(seed, id, sent, &mut buffer[..n]);
            writer.write_all(&buffer[..n]).await?;
            sent += n as u64;
        }
        writer.close().await?;
        Ok::<_, io::Error>(writer)
    });
    let mut buffer = vec![0; 64 * 1024];
    let mut received = 0u64;
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        check_pattern(seed, id, received, &buffer[..n])?;
        received += n as u64;
    }
    sender.await.map_err(io::Error::from)??;
    if received != length {
        return Err(io::Error::other(format!("stream {id}: echoed {received} of {length} bytes")));
    }
    Ok(())
}

/// A runtime whose backend counts its polls, to check that an idle runtime sleeps.
pub struct CountingRuntime {
    pub runtime: Runtime,
    pub polls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub notifies: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

pub fn counting_runtime(backend: &str) -> CountingRuntime {
    let inner = open_backend(backend);
    let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let notifies = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting =
        counting_backend::Counting { inner, polls: polls.clone(), notifies: notifies.clone() };
    let runtime = Runtime::builder().custom_backend(counting).build().unwrap();
    CountingRuntime { runtime, polls, notifies }
}

pub mod counting_backend {
    //! A wrapper backend that counts `poll` and `notify` calls and forwards everything.

    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use plexio::backend::{Backend, Events, Interest, RawSource, Token, Triggering};

    #[derive(Debug)]
    pub struct Counting {
        pub inner: Arc<dyn Backend>,
        pub polls: Arc<AtomicUsize>,
        pub notifies: Arc<AtomicUsize>,
    }

    impl Backend for Counting {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        fn triggering(&self) -> Triggering {
            self.inner.triggering()
        }
        unsafe fn register(
            &self,
            source: RawSource,
            token: Token,
            interest: Interest,
        ) -> io::Result<()> {
            // SAFETY: our caller's promise is passed on unchanged.
            unsafe { self.inner.register(source, token, interest) }
        }
        fn reregister(
            &self,
            source: RawSource,
            token: Token,
            interest: Interest,
        ) -> io::Result<()> {
            self.inner.reregister(source, token, interest)
        }
        fn deregister(&self, source: RawSource) -> io::Result<()> {
            self.inner.deregister(source)
        }
        fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            self.inner.poll(events, timeout)
        }
        fn notify(&self) -> io::Result<()> {
            self.notifies.fetch_add(1, Ordering::SeqCst);
            self.inner.notify()
        }
        fn short_reads_drain(&self) -> bool {
            self.inner.short_reads_drain()
        }
    }
}

/// Raises this process's soft limit on open descriptors to at least `wanted` (within the
/// hard limit), so that a test can open enough of them.
#[cfg(unix)]
pub fn raise_descriptor_limit(wanted: u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < wanted {
        rlimit::Resource::NOFILE.set(wanted.min(hard), hard).unwrap();
    }
}

#[cfg(test)]
mod checksum_tests {
    use super::Checksum;

    /// The standard check value of CRC-32/IEEE.
    #[test]
    fn crc32_of_the_check_string() {
        assert_eq!(Checksum::of(b"123456789"), 0xcbf4_3926);
    }
}
