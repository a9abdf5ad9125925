//! The real refusal paths of the `uring` backend: a child process (this test binary, run
//! again) installs a seccomp filter that answers `io_uring_setup` with `EPERM` (what
//! Docker's default profile does) or `ENOSYS` (a kernel without io_uring, or a profile that
//! hides it), and then checks that plexio leaves `uring` out of its backends, that the
//! automatic choice falls back to the next backend, and that asking for `uring` by name,
//! through the builder or `PLEXIO_BACKEND`, fails with `Error::BackendRefused` saying why.
//!
//! A seccomp filter cannot be removed once installed, so each case runs in a process of its
//! own; the registry also asks its probe only once per process, which a child process resets.

#![cfg(all(target_os = "linux", feature = "uring"))]

use std::io;
use std::process::{Command, Output};

/// Tells the child which errno to force on `io_uring_setup`: `EPERM` or `ENOSYS`.
const FORCE_ERRNO_ENV: &str = "PLEXIO_TEST_FORCE_IO_URING_SETUP_ERRNO";

/// The test that does the child's work; it does nothing unless [`FORCE_ERRNO_ENV`] is set.
const CHILD_TEST: &str = "child_with_io_uring_setup_refused";

/// `AUDIT_ARCH_*` of this architecture (linux/audit.h: the ELF machine, 64-bit, little
/// endian), which the filter checks before it trusts a system call number.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64: EM_X86_64 (62) | 64BIT | LE
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64: EM_AARCH64 (183) | 64BIT | LE

/// The errnos this test forces, by name.
fn errno_named(name: &str) -> i32 {
    match name {
        "EPERM" => libc::EPERM,
        "ENOSYS" => libc::ENOSYS,
        other => panic!("{FORCE_ERRNO_ENV}={other:?}: expected EPERM or ENOSYS"),
    }
}

/// What the refusal's reason must say for each forced errno (see `uring/probe.rs`).
fn expected_wording(errno_name: &str) -> &'static str {
    match errno_name {
        "EPERM" => "seccomp",
        "ENOSYS" => "ENOSYS",
        other => panic!("no expected wording for {other}"),
    }
}

/// Installs a seccomp filter on this thread (and the threads it starts from now on) that
/// answers `io_uring_setup` with `errno` and allows every other system call.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn refuse_io_uring_setup(errno: i32) -> io::Result<()> {
    fn statement(code: u32, k: u32) -> libc::sock_filter {
        libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
    }
    fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
        libc::sock_filter { code: code as u16, jt, jf, k }
    }
    let arch_offset = std::mem::offset_of!(libc::seccomp_data, arch) as u32;
    let nr_offset = std::mem::offset_of!(libc::seccomp_data, nr) as u32;
    let mut program = [
        // 0: A = seccomp_data.arch
        statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, arch_offset),
        // 1: another architecture's numbering: allow (to 5)
        jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, AUDIT_ARCH, 0, 3),
        // 2: A = seccomp_data.nr
        statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, nr_offset),
        // 3: io_uring_setup? (else to 5)
        jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, libc::SYS_io_uring_setup as u32, 0, 1),
        // 4: fail it with errno
        statement(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
        ),
        // 5: allow
        statement(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog =
        libc::sock_fprog { len: program.len() as libc::c_ushort, filter: program.as_mut_ptr() };
    let (one, zero): (libc::c_ulong, libc::c_ulong) = (1, 0);
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments and touches no memory of
    // ours; it is what lets an unprivileged process install a seccomp filter.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) } != 0 {
        return Err(io::Error::other(format!(
            "prctl(PR_SET_NO_NEW_PRIVS, 1) failed: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: `fprog` points at `program`, a valid classic-BPF program of `len`
    // instructions, and both outlive the call (the kernel copies the program).
    let installed = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
            zero,
            zero,
        )
    };
    if installed != 0 {
        return Err(io::Error::other(format!(
            "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER) failed: {}",
            io::Error::last_os_error()
        )));
    }
    Ok(())
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn refuse_io_uring_setup(_errno: i32) -> io::Result<()> {
    Err(io::Error::other("this test's seccomp filter knows only x86_64 and aarch64"))
}

/// Calls `io_uring_setup` directly with a one-entry ring: `Ok` (and the ring closed again)
/// where the system allows it, else the error it answered.
fn raw_io_uring_setup() -> io::Result<()> {
    // io_uring_params is 120 bytes; the kernel fills in everything but the flags we leave 0.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads and writes `params`, a zeroed buffer of the size of
    // struct io_uring_params that lives through the call.
    let fd =
        unsafe { libc::syscall(libc::SYS_io_uring_setup, 1 as libc::c_uint, params.as_mut_ptr()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is the ring descriptor just returned to us, closed once, here.
    unsafe { libc::close(fd as libc::c_int) };
    Ok(())
}

/// The child's work; run by [`refused_with`] in a process of its own, with
/// [`FORCE_ERRNO_ENV`] set. Run any other way, it does nothing.
#[test]
fn child_with_io_uring_setup_refused() {
    let Ok(errno_name) = std::env::var(FORCE_ERRNO_ENV) else { return };
    let errno = errno_named(&errno_name);
    // Before anything in this process touches io_uring.
    refuse_io_uring_setup(errno).expect("installing the seccomp filter");
    let forced = raw_io_uring_setup().expect_err("io_uring_setup succeeded under the filter");
    assert_eq!(forced.raw_os_error(), Some(errno), "the filter answered {forced}");
    let wording = expected_wording(&errno_name);
    let env_backend = std::env::var(plexio::BACKEND_ENV).ok();

    let backends = plexio::backends();
    println!("backends under {errno_name}: {backends:?}");
    assert!(!backends.contains(&"uring"), "{backends:?}");
    assert!(!backends.is_empty());
    if cfg!(feature = "mio") {
        assert_eq!(backends[0], "mio", "{backends:?}");
    }

    let check_refusal = |how: &str, result: Result<plexio::Runtime, plexio::Error>| {
        let error = match result {
            Ok(runtime) => panic!("{how}: built a runtime on {}", runtime.backend_name()),
            Err(error) => error,
        };
        println!("{how}: {error}");
        match &error {
            plexio::Error::BackendRefused { name, reason, available, .. } => {
                assert_eq!(*name, "uring");
                assert!(reason.contains(wording), "{how}: {reason:?} lacks {wording:?}");
                assert!(!available.contains(&"uring"), "{how}: {available:?}");
                assert_eq!(*available, backends, "{how}");
            }
            other => panic!("{how}: expected BackendRefused, got {other:?}"),
        }
        assert!(error.to_string().contains(wording), "{how}: {error}");
        assert_eq!(error.io_kind(), io::ErrorKind::Unsupported, "{how}");
        let as_io = io::Error::from(error);
        assert_eq!(as_io.kind(), io::ErrorKind::Unsupported, "{how}");
    };

    match env_backend.as_deref() {
        None => {
            // The automatic choice falls back to the next backend.
            let runtime = plexio::Runtime::new().expect("the automatic choice builds");
            assert_eq!(runtime.backend_name(), backends[0]);
            if cfg!(feature = "mio") {
                assert_eq!(runtime.backend_name(), "mio");
            }
            assert_eq!(runtime.block_on(async { 7 }), 7);
            check_refusal(
                "builder().backend(\"uring\")",
                plexio::Runtime::builder().backend("uring").build(),
            );
            check_refusal(
                "builder().backend(\" URING \")",
                plexio::Runtime::builder().backend(" URING ").build(),
            );
        }
        Some("uring") => {
            check_refusal("PLEXIO_BACKEND=uring, Runtime::new()", plexio::Runtime::new());
            check_refusal(
                "PLEXIO_BACKEND=uring, Runtime::builder().build()",
                plexio::Runtime::builder().build(),
            );
            // A name given to the builder wins over the variable.
            let fallback = backends[0];
            let runtime = plexio::Runtime::builder().backend(fallback).build().unwrap();
            assert_eq!(runtime.backend_name(), fallback);
        }
        Some(other) => panic!("the parent set {}={other:?}", plexio::BACKEND_ENV),
    }
    println!("child under {errno_name} with PLEXIO_BACKEND={env_backend:?}: all checks passed");
}

/// Runs [`CHILD_TEST`] in a child process with `io_uring_setup` failing with `errno_name`,
/// and `PLEXIO_BACKEND` unset or set to `backend_env`; fails, showing the child's output,
/// unless the child ran that one test and it passed.
fn refused_with(errno_name: &str, backend_env: Option<&str>) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(FORCE_ERRNO_ENV, errno_name);
    match backend_env {
        Some(value) => command.env(plexio::BACKEND_ENV, value),
        None => command.env_remove(plexio::BACKEND_ENV),
    };
    let Output { status, stdout, stderr } = command.output().expect("running the child");
    let stdout = String::from_utf8_lossy(&stdout);
    let stderr = String::from_utf8_lossy(&stderr);
    let shown = format!(
        "child ({errno_name}, PLEXIO_BACKEND={backend_env:?}) exited with {status}\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    assert!(status.success(), "{shown}");
    // `--exact` with a name that matches nothing runs no test and succeeds: make sure the
    // child's checks ran.
    assert!(stdout.contains(&format!("test {CHILD_TEST} ... ")), "{shown}");
    assert!(stdout.contains("test result: ok. 1 passed"), "{shown}");
    assert!(stdout.contains("all checks passed"), "{shown}");
}

#[test]
fn eperm_from_a_seccomp_profile_refuses_uring_and_falls_back() {
    refused_with("EPERM", None);
}

#[test]
fn eperm_from_a_seccomp_profile_refuses_plexio_backend_uring() {
    refused_with("EPERM", Some("uring"));
}

#[test]
fn enosys_refuses_uring_and_falls_back() {
    refused_with("ENOSYS", None);
}

#[test]
fn enosys_refuses_plexio_backend_uring() {
    refused_with("ENOSYS", Some("uring"));
}

/// Without a filter, where the system allows io_uring, `uring` is the first choice.
#[test]
fn where_io_uring_is_allowed_uring_comes_first() {
    if let Err(error) = raw_io_uring_setup() {
        // Not this machine's case (a container profile, io_uring_disabled): then plexio
        // must leave it out.
        println!("io_uring_setup fails here ({error}); checking that uring is left out");
        assert!(!plexio::backends().contains(&"uring"), "{:?}", plexio::backends());
        return;
    }
    let backends = plexio::backends();
    assert_eq!(backends[0], "uring", "{backends:?}");
    let runtime = plexio::Runtime::builder().backend("uring").build().unwrap();
    assert_eq!(runtime.backend_name(), "uring");
    assert_eq!(runtime.block_on(async { 7 }), 7);
    match std::env::var(plexio::BACKEND_ENV) {
        Ok(value) => println!(
            "{}={value:?} is set in this process: skipping the check that Runtime::new() \
             picks uring on its own",
            plexio::BACKEND_ENV
        ),
        Err(_) => assert_eq!(plexio::Runtime::new().unwrap().backend_name(), "uring"),
    }
}
