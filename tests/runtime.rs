//! The runtime's public surface: choosing a backend (builder, `PLEXIO_BACKEND`, default),
//! the errors for bad choices, and use outside of a runtime.

mod util;

use std::process::Command;

use plexio::{Error, Runtime};

#[test]
fn backends_lists_what_is_compiled_in_preference_order() {
    let backends = plexio::backends();
    assert!(!backends.is_empty());
    let order = ["uring", "iocp", "mio", "polling", "poll", "select"];
    let positions: Vec<usize> =
        backends.iter().map(|name| order.iter().position(|o| o == name).unwrap()).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{backends:?}");
    for (feature, on) in [
        ("select", cfg!(feature = "select")),
        ("poll", cfg!(feature = "poll")),
        ("mio", cfg!(feature = "mio")),
        ("polling", cfg!(feature = "polling")),
    ] {
        assert_eq!(backends.contains(&feature), on, "{feature}");
    }
    // io_uring is listed where compiled in and the system allows it (its probe passes).
    if !cfg!(all(feature = "uring", target_os = "linux")) {
        assert!(!backends.contains(&"uring"), "{backends:?}");
    }
}

#[test]
fn every_available_backend_builds_under_its_name() {
    for name in plexio::backends() {
        let runtime = Runtime::builder().backend(name).build().unwrap();
        assert_eq!(runtime.backend_name(), name);
        assert_eq!(runtime.block_on(async { plexio::current_backend() }), Some(name));
    }
    assert_eq!(plexio::current_backend(), None);
}

#[test]
fn unknown_backend_name_is_a_clear_error() {
    let error = Runtime::builder().backend("kqeue").build().unwrap_err();
    assert!(matches!(&error, Error::UnknownBackend { name, .. } if name == "kqeue"));
    let message = error.to_string();
    assert!(message.contains("unknown backend `kqeue`"), "{message}");
    for name in plexio::backends() {
        assert!(message.contains(name), "{message} should list {name}");
    }
    let io: std::io::Error = error.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn backend_not_compiled_in_names_its_feature() {
    #[cfg(not(target_os = "linux"))]
    if cfg!(feature = "uring") {
        // Compiled in, `uring` outside Linux says it does not run here.
        let error = Runtime::builder().backend("uring").build().unwrap_err();
        assert!(matches!(error, Error::BackendUnsupported { .. }), "{error:?}");
    }
    #[cfg(not(windows))]
    if cfg!(feature = "iocp") {
        // Compiled in, `iocp` outside Windows says it does not run here.
        let error = Runtime::builder().backend("iocp").build().unwrap_err();
        assert!(matches!(error, Error::BackendUnsupported { .. }), "{error:?}");
    }
    for (name, compiled) in [
        ("select", cfg!(feature = "select")),
        ("poll", cfg!(feature = "poll")),
        ("mio", cfg!(feature = "mio")),
        ("polling", cfg!(feature = "polling")),
        ("uring", cfg!(feature = "uring")),
        ("iocp", cfg!(feature = "iocp")),
    ] {
        // Compiled in, a backend is either available or refused for another reason (not
        // built for this OS, or refused by the system): not this test's case.
        if compiled {
            continue;
        }
        let error = Runtime::builder().backend(name).build().unwrap_err();
        assert!(matches!(error, Error::BackendNotCompiled { .. }), "{error:?}");
        assert!(error.to_string().contains(&format!("cargo feature `{name}`")), "{error}");
    }
}

#[test]
#[should_panic(expected = "outside of a plexio runtime")]
fn spawn_outside_a_runtime_panics_clearly() {
    drop(plexio::spawn(async {}));
}

#[test]
#[should_panic(expected = "from within a runtime")]
fn nested_block_on_panics_clearly() {
    plexio::block_on(async { plexio::block_on(async {}) });
}

/// Regression: the second `block_on` on one runtime found the "poll the main future" flag
/// cleared by the first, never polled its future, and slept for ever.
#[test]
fn every_block_on_on_one_runtime_polls_its_future() {
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let runtime = Runtime::new().unwrap();
    for round in 0..3 {
        assert_eq!(runtime.block_on(async move { round }), round);
    }
    let listener = runtime.block_on(plexio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = runtime.block_on(plexio::net::TcpStream::connect(addr)).unwrap();
    let (server, _) = runtime.block_on(listener.accept()).unwrap();
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
}

#[test]
fn io_outside_a_runtime_is_a_no_runtime_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let error = plexio::net::TcpListener::from_std(listener).unwrap_err();
    assert!(matches!(Error::from_io(&error), Some(Error::NoRuntime)), "{error:?}");
}

#[test]
fn dropping_a_runtime_cancels_its_tasks_and_frees_everything() {
    let runtime = Runtime::new().unwrap();
    let listener = runtime.block_on(plexio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let handle = runtime.spawn(async move {
        let _accepted = listener.accept().await;
    });
    let stats = runtime.stats();
    assert_eq!((stats.tasks, stats.registrations), (1, 1));
    drop(runtime);
    let other = Runtime::new().unwrap();
    let result = other.block_on(handle);
    assert!(result.unwrap_err().is_cancelled());
}

/// `PLEXIO_BACKEND` picks the backend when the builder names none; checked in a child
/// process, since changing the environment of this multi-threaded one is unsound.
#[test]
fn plexio_backend_variable_picks_the_backend() {
    for name in plexio::backends() {
        let output = child("child_reports_its_backend", &[("PLEXIO_BACKEND", name)]);
        assert!(output.contains(&format!("backend={name};")), "{output}");
    }
    let output = child("child_reports_its_backend", &[("PLEXIO_BACKEND", "no-such-backend")]);
    assert!(output.contains("unknown backend `no-such-backend`"), "{output}");
}

/// With no choice made, the runtime takes the most preferred backend available, but never
/// `iocp`, which runs only when asked for by name (`mio` stays the default on Windows).
#[test]
fn the_automatic_choice_is_the_most_preferred_backend_but_never_iocp() {
    let expected = plexio::backends().into_iter().find(|name| *name != "iocp");
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_reports_its_backend", "--nocapture", "--test-threads=1"])
        .env("PLEXIO_TEST_CHILD", "1")
        .env_remove("PLEXIO_BACKEND")
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&output.stdout);
    match expected {
        Some(name) => assert!(output.contains(&format!("backend={name};")), "{output}"),
        None => assert!(output.contains("error="), "{output}"),
    }
}

/// The child half of the tests above: only active in the child process.
#[test]
fn child_reports_its_backend() {
    if std::env::var_os("PLEXIO_TEST_CHILD").is_none() {
        return;
    }
    match Runtime::new() {
        Ok(runtime) => println!("backend={};", runtime.backend_name()),
        Err(error) => println!("error={error};"),
    }
}

fn child(test: &str, env: &[(&str, &str)]) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("PLEXIO_TEST_CHILD", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}
