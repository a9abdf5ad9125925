//! The blocking pool on every backend: work that blocks runs beside the runtime, never on
//! its thread; its panics reach its handle; host names resolve there.

mod util;

use std::io;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream, UdpSocket};
use plexio::task::spawn_blocking;
use plexio::time::{sleep, timeout};
use util::run;

per_backend!(
    blocking_work_runs_beside_the_runtime_not_on_it,
    a_panic_in_blocking_work_is_reported_by_its_handle,
    jobs_queued_together_each_get_a_thread,
    host_names_resolve_and_connect,
);

/// How long any single wait may take before the scenario calls it a hang.
const HANG: Duration = Duration::from_secs(10);

/// The blocking job waits for a message that only a task of the same runtime sends, after
/// a timer: were the job run on the runtime's thread, neither could ever happen.
fn blocking_work_runs_beside_the_runtime_not_on_it(backend: &str) {
    run(backend, || async {
        let (sender, receiver) = std::sync::mpsc::channel::<u32>();
        let job = spawn_blocking(move || {
            let value = receiver.recv_timeout(HANG).expect("the runtime's task never sent");
            (value * 2, std::thread::current().name().map(str::to_owned))
        });
        let task = plexio::spawn(async move {
            sleep(Duration::from_millis(20)).await;
            sender.send(21).unwrap();
        });
        let (answer, thread) = timeout(HANG, job).await.expect("the job hangs")?;
        assert_eq!(answer, 42);
        assert_eq!(thread.as_deref(), Some("plexio-blocking"));
        task.await?;
        Ok(())
    });
}

fn a_panic_in_blocking_work_is_reported_by_its_handle(backend: &str) {
    run(backend, || async {
        let job = spawn_blocking(|| -> u32 { panic!("blocking work failed") });
        let error = timeout(HANG, job).await.expect("the job hangs").expect_err("a panic");
        assert!(error.is_panic(), "{error:?}");
        assert!(error.to_string().contains("blocking work failed"), "{error}");
        // The pool is still there for the next job.
        assert_eq!(timeout(HANG, spawn_blocking(|| 7)).await.expect("hangs")?, 7);
        Ok(())
    });
}

/// Two jobs handed to the pool back to back while one of its threads is idle each get a
/// thread: the first waits for the second, which one thread for both would never run. (The
/// pool is the process's: run alongside other tests, spare threads may hide a defect that
/// this test alone shows.)
fn jobs_queued_together_each_get_a_thread(backend: &str) {
    run(backend, || async {
        // Leaves a pool thread idle (it stays for seconds without work).
        timeout(HANG, spawn_blocking(|| ())).await.expect("the job hangs")?;
        let (sender, receiver) = std::sync::mpsc::channel::<()>();
        let waiting = spawn_blocking(move || receiver.recv_timeout(HANG).is_ok());
        let sending = spawn_blocking(move || sender.send(()).is_ok());
        let (waited, sent) = futures::join!(waiting, sending);
        assert!(sent?, "the sending job found no receiver");
        assert!(waited?, "the first job waited in vain: the second never ran beside it");
        Ok(())
    });
}

/// `localhost` is looked up on the pool, then connected to, bound, and sent to like an
/// address written as numbers.
fn host_names_resolve_and_connect(backend: &str) {
    run(backend, || async {
        let addrs = plexio::net::lookup_host("localhost:80").await?;
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 80), "{addrs:?}");
        let numeric = plexio::net::lookup_host("127.0.0.1:9").await?;
        assert_eq!(numeric, ["127.0.0.1:9".parse().unwrap()]);

        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        // "localhost" may stand for ::1 first: connect tries each address in turn.
        let client = timeout(HANG, TcpStream::connect(format!("localhost:{port}"))).await;
        let mut client = client.expect("connect hangs")?;
        let (mut server, _) = listener.accept().await?;
        client.write_all(b"by name").await?;
        let mut received = [0; 7];
        server.read_exact(&mut received).await?;
        assert_eq!(&received, b"by name");

        let socket = UdpSocket::bind("localhost:0").await?;
        let receiver = UdpSocket::bind("127.0.0.1:0").await?;
        let port = receiver.local_addr()?.port();
        if socket.local_addr()?.is_ipv4() {
            socket.send_to(b"datagram", ("localhost", port)).await?;
            let mut buffer = [0; 16];
            let n = timeout(HANG, receiver.recv(&mut buffer)).await.expect("recv hangs")?;
            assert_eq!(&buffer[..n], b"datagram");
        }
        Ok::<_, io::Error>(())
    });
}
