//! `examples/hello_http.rs`, compiled in here as a module, served on every backend and
//! driven by clients it did not write: `curl` (keep-alive across URLs, a large chunked
//! upload echoed byte for byte) and hyper's own client running on plexio through the
//! `hyper` feature's adapters (many keep-alive connections at once; HTTP/2 through
//! `PlexioExecutor`), and hyper's header-read timeout through `PlexioTimer`.

mod util;

#[path = "../examples/hello_http.rs"]
#[allow(dead_code)]
mod hello_http;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use hello_http::{GREETING, Protocol};
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use plexio::hyper::{PlexioExecutor, PlexioTimer};
use plexio::net::{TcpListener, TcpStream};
use util::{Stripes, run};

per_backend!(
    curl_reuses_one_connection_for_several_urls,
    curl_uploads_echo_byte_for_byte_chunked_or_not,
    many_keep_alive_connections_of_hyper_clients,
    http2_streams_run_on_the_executor,
    a_stalled_request_head_times_out_on_the_timer,
);

/// The example's server on a free port of 127.0.0.1, counting the connections it accepts.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Server {
    async fn start(protocol: Protocol) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        plexio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await?;
                counter.fetch_add(1, Ordering::Relaxed);
                plexio::spawn(hello_http::serve_connection(stream, protocol));
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        });
        Ok(Server { addr, accepted })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// Runs curl with `args` on the blocking pool, so the runtime goes on serving it; `None`
/// (after saying so) where there is no curl to run.
async fn curl(args: Vec<String>) -> io::Result<Option<Output>> {
    let output = plexio::task::spawn_blocking(move || Command::new("curl").args(&args).output())
        .await
        .map_err(io::Error::other)?;
    match output {
        Ok(output) if output.status.success() => Ok(Some(output)),
        Ok(output) => Err(io::Error::other(format!(
            "curl failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: curl is not installed here (.ci/run installs it)");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// A file of its own in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("plexio-hello-http-{}-{unique}-{name}", std::process::id());
        TempFile(std::env::temp_dir().join(name))
    }

    fn arg(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Three URLs in one curl invocation go over one connection: curl says it reuses it, and
/// the server accepts only one.
fn curl_reuses_one_connection_for_several_urls(backend: &str) {
    run(backend, || async {
        let server = Server::start(Protocol::Http1).await?;
        let urls = [server.url("/"), server.url("/nowhere"), server.url("/")];
        let mut args = vec!["-sS".to_owned(), "-v".to_owned()];
        args.extend(urls);
        let Some(output) = curl(args).await? else { return Ok(()) };
        let body = String::from_utf8_lossy(&output.stdout);
        assert_eq!(body, format!("{GREETING}not found\n{GREETING}"));
        let log = String::from_utf8_lossy(&output.stderr);
        assert_eq!(log.matches("Re-using existing connection").count(), 2, "curl said:\n{log}");
        assert_eq!(server.accepted(), 1);
        Ok(())
    });
}

/// 3 MiB sent chunked and 1 MiB sent with a length come back as sent.
fn curl_uploads_echo_byte_for_byte_chunked_or_not(backend: &str) {
    run(backend, || async {
        let server = Server::start(Protocol::Http1).await?;
        for (size, chunked) in [(3 << 20, true), (1 << 20, false)] {
            let sent = TempFile::new("sent");
            let received = TempFile::new("received");
            let mut body = vec![0; size];
            Stripes::fill(size as u64, 0, &mut body);
            std::fs::write(&sent.0, &body)?;
            let mut args =
                vec!["-sS".to_owned(), "--data-binary".to_owned(), format!("@{}", sent.arg())];
            if chunked {
                args.extend(["-H".to_owned(), "Transfer-Encoding: chunked".to_owned()]);
            }
            args.extend(["-o".to_owned(), received.arg(), server.url("/echo")]);
            if curl(args).await?.is_none() {
                return Ok(());
            }
            let echoed = std::fs::read(&received.0)?;
            assert_eq!(echoed.len(), size, "chunked: {chunked}");
            assert!(echoed == body, "the echo of {size} bytes (chunked: {chunked}) differs");
        }
        Ok(())
    });
}

/// An HTTP/1.1 connection of hyper's client on plexio.
async fn http1_client(
    addr: SocketAddr,
) -> io::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(stream).await.map_err(io::Error::other)?;
    plexio::spawn(connection);
    Ok(sender)
}

/// Sends `request` and gives the status and the whole body.
async fn fetch<S>(sender: &mut S, request: Request<Full<Bytes>>) -> io::Result<(StatusCode, Bytes)>
where
    S: Sender,
{
    let response = sender.send(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(io::Error::other)?.to_bytes();
    Ok((status, body))
}

/// hyper's two kinds of request sender, HTTP/1.1 and HTTP/2, as one.
trait Sender {
    async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> io::Result<hyper::Response<hyper::body::Incoming>>;
}

impl Sender for hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> io::Result<hyper::Response<hyper::body::Incoming>> {
        self.ready().await.map_err(io::Error::other)?;
        self.send_request(request).await.map_err(io::Error::other)
    }
}

impl Sender for hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> io::Result<hyper::Response<hyper::body::Incoming>> {
        self.ready().await.map_err(io::Error::other)?;
        self.send_request(request).await.map_err(io::Error::other)
    }
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path).body(Full::default()).expect("a valid request")
}

/// A POST to `/echo` of `size` bytes of stream `stream`.
fn echo_request(stream: u64, size: usize) -> (Request<Full<Bytes>>, Bytes) {
    let mut body = vec![0; size];
    Stripes::fill(stream, 0, &mut body);
    let body = Bytes::from(body);
    let request = Request::post("/echo").body(Full::new(body.clone())).expect("a valid request");
    (request, body)
}

/// 50 connections at once, each sending several requests one after another (greetings,
/// echoes of up to 64 KiB, a 404): every answer right, and no connection more than the 50.
fn many_keep_alive_connections_of_hyper_clients(backend: &str) {
    const CONNECTIONS: usize = 50;
    const ROUNDS: usize = 4;
    run(backend, || async {
        let server = Server::start(Protocol::Http1).await?;
        let clients = (0..CONNECTIONS).map(|n| {
            let addr = server.addr;
            plexio::spawn(async move {
                let mut sender = http1_client(addr).await?;
                for round in 0..ROUNDS {
                    let (status, body) = fetch(&mut sender, get("/")).await?;
                    assert_eq!((status, &body[..]), (StatusCode::OK, GREETING.as_bytes()));
                    let stream = (n * ROUNDS + round) as u64;
                    let (request, sent) = echo_request(stream, (stream as usize * 1297) % 65536);
                    let (status, body) = fetch(&mut sender, request).await?;
                    assert_eq!(status, StatusCode::OK);
                    assert!(body == sent, "connection {n}, round {round}: the echo differs");
                }
                let (status, _) = fetch(&mut sender, get("/missing")).await?;
                assert_eq!(status, StatusCode::NOT_FOUND);
                Ok::<(), io::Error>(())
            })
        });
        for client in clients.collect::<Vec<_>>() {
            client.await.map_err(io::Error::other)??;
        }
        assert_eq!(server.accepted(), CONNECTIONS);
        Ok(())
    });
}

/// HTTP/2 with prior knowledge, both ends on plexio: the server's streams and the client's
/// connection run as tasks of `PlexioExecutor`; 16 requests at once on one connection,
/// among them echoes larger than HTTP/2's initial flow-control window.
fn http2_streams_run_on_the_executor(backend: &str) {
    const REQUESTS: u64 = 16;
    run(backend, || async {
        let server = Server::start(Protocol::Http2).await?;
        let stream = TcpStream::connect(server.addr).await?;
        let (sender, connection) = hyper::client::conn::http2::Builder::new(PlexioExecutor)
            .timer(PlexioTimer)
            .handshake(stream)
            .await
            .map_err(io::Error::other)?;
        plexio::spawn(connection);
        let requests = (0..REQUESTS).map(|n| {
            let mut sender = sender.clone();
            plexio::spawn(async move {
                if n % 2 == 0 {
                    let (status, body) = fetch(&mut sender, get("/")).await?;
                    assert_eq!((status, &body[..]), (StatusCode::OK, GREETING.as_bytes()));
                } else {
                    let (request, sent) = echo_request(n, 100_000 * n as usize);
                    let (status, body) = fetch(&mut sender, request).await?;
                    assert_eq!(status, StatusCode::OK);
                    assert!(body == sent, "request {n}: the echo differs");
                }
                Ok::<(), io::Error>(())
            })
        });
        for request in requests.collect::<Vec<_>>() {
            request.await.map_err(io::Error::other)??;
        }
        assert_eq!(server.accepted(), 1);
        Ok(())
    });
}

/// A kept-alive connection whose next request head does not come whole within the
/// header-read timeout is cut off on `PlexioTimer`'s sleep, and not before the timeout.
fn a_stalled_request_head_times_out_on_the_timer(backend: &str) {
    const TIMEOUT: Duration = Duration::from_millis(300);
    run(backend, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        plexio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await?;
                let service = hyper::service::service_fn(|_| async {
                    let body = Full::new(Bytes::from_static(b"ok"));
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(body))
                });
                plexio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .timer(PlexioTimer)
                        .header_read_timeout(TIMEOUT)
                        .serve_connection(stream, service),
                );
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        });
        let mut client = TcpStream::connect(addr).await?;
        client.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await?;
        // hyper starts the next head's timeout once it has parsed this one: later than now.
        let sent = Instant::now();
        // The whole answer (head, then the 2-byte body), however many reads it takes.
        let mut answer = Vec::new();
        let mut chunk = [0; 1024];
        let complete = |answer: &[u8]| {
            let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n");
            head_end.is_some_and(|at| answer.len() >= at + 6)
        };
        while !complete(&answer) {
            let read = client.read(&mut chunk).await?;
            assert!(read > 0, "the connection closed after {answer:?}");
            answer.extend_from_slice(&chunk[..read]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "{answer:?}");
        plexio::time::sleep(TIMEOUT / 2).await;
        client.write_all(b"GET / HTTP/1.1\r\n").await?;
        let mut rest = Vec::new();
        let closed = plexio::time::timeout(TIMEOUT * 20, client.read_to_end(&mut rest)).await;
        let waited = sent.elapsed();
        closed.map_err(|_| io::Error::other("the stalled connection stayed open"))??;
        assert!(waited >= TIMEOUT, "cut off after {waited:?}, before the timeout");
        assert!(!rest.starts_with(b"HTTP/1.1 200"), "a half request was answered");
        Ok(())
    });
}

/// `PlexioTimer::reset` moves a sleep's deadline in place: the boxed sleep stays the same
/// allocation, and it ends at the new deadline, not the old one.
#[test]
fn the_timer_moves_a_sleep_in_place() {
    use hyper::rt::Timer;
    plexio::block_on(async {
        let start = Instant::now();
        let mut sleep = PlexioTimer.sleep(Duration::from_millis(20));
        let before = std::ptr::addr_of!(*sleep).cast::<()>();
        PlexioTimer.reset(&mut sleep, start + Duration::from_millis(200));
        assert_eq!(std::ptr::addr_of!(*sleep).cast::<()>(), before, "a new sleep was made");
        sleep.await;
        assert!(start.elapsed() >= Duration::from_millis(200), "the old deadline held");
    });
}
