//! What happens to a socket or timer that outlives its runtime, as `Error::RuntimeShutdown`,
//! the timer constructors' `# Panics` sections and the README's "Dropping a runtime" say: a
//! listener held outside any task is not closed by the runtime's drop; its operations fail
//! with `RuntimeShutdown`, and it closes when it is dropped. A timer never reports
//! `RuntimeShutdown`: it starts again on the runtime that polls it, and panics outside of
//! any.

mod util;

use std::io::{ErrorKind, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use futures::FutureExt;
use plexio::Error;
use plexio::net::TcpListener;
use plexio::time::{interval, sleep, timeout};

per_backend!(plain: listener_outliving_its_runtime_stays_open_until_dropped);

fn listener_outliving_its_runtime_stays_open_until_dropped(backend: &str) {
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let runtime = util::runtime(backend);
    let stats = runtime.stats_handle();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(runtime);

    // Still open: counted, bound, and the kernel still completes connections to it.
    assert_eq!(stats.get().sockets, 1);
    assert_eq!(listener.local_addr().unwrap(), addr);
    let queued = std::net::TcpStream::connect(addr).unwrap();
    // But plexio no longer drives it: an accept fails at once (it needs no runtime to say so).
    let error = futures::executor::block_on(listener.accept()).unwrap_err();
    assert!(matches!(Error::from_io(&error), Some(Error::RuntimeShutdown)), "{error:?}");

    drop(listener);
    assert!(stats.get().is_empty(), "{:?}", stats.get());
    // Closed now: the kernel drops the connection that was queued, never accepted. (Not
    // checked by connecting again: a parallel test may have been given the port.)
    queued.set_read_timeout(Some(util::TEST_LIMIT)).unwrap();
    match (&queued).read(&mut [0; 1]) {
        Ok(0) => {}
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ) => {}
        other => panic!("the queued connection outlived its listener: {other:?}"),
    }
}

#[test]
fn timer_of_a_dropped_runtime_restarts_on_the_runtime_that_polls_it() {
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let first = plexio::Runtime::new().unwrap();
    let mut sleeping = sleep(Duration::from_millis(20));
    let deadline = sleeping.deadline().unwrap();
    assert!(first.block_on(async { (&mut sleeping).now_or_never() }).is_none());
    drop(first);
    let second = plexio::Runtime::new().unwrap();
    second.block_on(&mut sleeping);
    assert!(Instant::now() >= deadline);
}

#[test]
fn timer_of_a_dropped_runtime_panics_when_polled_outside_of_any() {
    let first = plexio::Runtime::new().unwrap();
    let mut sleeping = sleep(Duration::from_secs(60));
    assert!(first.block_on(async { (&mut sleeping).now_or_never() }).is_none());
    drop(first);
    let panic = catch_unwind(AssertUnwindSafe(|| (&mut sleeping).now_or_never())).unwrap_err();
    assert!(message(&*panic).contains("outside of a plexio runtime"), "{}", message(&*panic));
}

#[test]
fn timeout_and_interval_panic_outside_a_runtime_only_when_they_must_wait() {
    // A future that is ready needs no timer: no panic.
    assert_eq!(timeout(Duration::from_secs(60), async { 7 }).now_or_never(), Some(Ok(7)));
    let panic = catch_unwind(|| {
        timeout(Duration::from_secs(60), std::future::pending::<()>()).now_or_never()
    })
    .unwrap_err();
    assert!(message(&*panic).contains("outside of a plexio runtime"));

    // The first tick is due at once; the second must wait.
    let mut ticks = interval(Duration::from_secs(60));
    assert!(ticks.tick().now_or_never().is_some());
    let panic = catch_unwind(AssertUnwindSafe(|| ticks.tick().now_or_never())).unwrap_err();
    assert!(message(&*panic).contains("outside of a plexio runtime"));
}

fn message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}
