//! `plexio::signal::ctrl_c`: the process sends itself `SIGINT`, and the future resolves
//! instead of the process ending. Its own test binary, since a signal handler is the whole
//! process's.

mod util;

#[cfg(all(unix, feature = "signal"))]
mod unix {
    use std::sync::mpsc;
    use std::time::Duration;

    use futures::FutureExt;
    use plexio::signal::ctrl_c;
    use signal_hook::consts::SIGINT;

    crate::per_backend!(plain: ctrl_c_resolves_on_sigint_sent_while_the_runtime_waits);

    /// Only one test at a time raises `SIGINT`: every waiting `ctrl_c` future sees each signal,
    /// so two tests at once would see each other's.
    fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn ctrl_c_resolves_on_sigint_sent_while_the_runtime_waits(backend: &str) {
        let _alone = one_at_a_time();
        crate::util::run(backend, || async {
            let mut signal = Box::pin(ctrl_c());
            // First poll: the handler is installed; nothing has been sent yet.
            assert!((&mut signal).now_or_never().is_none());
            // Sent from another thread once this runtime is blocked in its backend (or about
            // to be): the signal must wake it.
            let (sent, was_sent) = mpsc::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                sent.send(signal_hook::low_level::raise(SIGINT)).unwrap();
            });
            signal.await?;
            was_sent.recv().unwrap()?;
            Ok(())
        });
    }

    #[test]
    fn every_waiting_ctrl_c_sees_the_signal_after_another_was_dropped() {
        let _alone = one_at_a_time();
        let _watchdog = crate::util::Watchdog::start(crate::util::TEST_LIMIT);
        plexio::block_on(async {
            let mut first = Box::pin(ctrl_c());
            let mut second = Box::pin(ctrl_c());
            let mut dropped = Box::pin(ctrl_c());
            assert!((&mut first).now_or_never().is_none());
            assert!((&mut second).now_or_never().is_none());
            assert!((&mut dropped).now_or_never().is_none());
            drop(dropped);
            signal_hook::low_level::raise(SIGINT).unwrap();
            first.await.unwrap();
            second.await.unwrap();
        });
    }

    #[test]
    fn ctrl_c_outside_a_runtime_is_a_no_runtime_error() {
        let error = futures::executor::block_on(ctrl_c()).unwrap_err();
        assert!(matches!(plexio::Error::from_io(&error), Some(plexio::Error::NoRuntime)));
    }
}

/// Elsewhere (Windows) it fails at once, and says why.
#[cfg(all(not(unix), feature = "signal"))]
#[test]
fn ctrl_c_is_unsupported_off_unix() {
    let error = plexio::block_on(plexio::signal::ctrl_c()).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
    assert!(error.to_string().contains("only implemented on Unix"), "{error}");
}
