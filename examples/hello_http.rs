//! An HTTP server: hyper 1.x on plexio, through the `hyper` feature's adapters.
//!
//! ```text
//! cargo run --features hyper --example hello_http -- --addr 127.0.0.1:8080 --backend poll
//! curl http://127.0.0.1:8080/
//! curl --data-binary @some-file http://127.0.0.1:8080/echo
//! ```
//!
//! `GET /` answers a short greeting; `POST /echo` answers the request's body as it arrives,
//! streamed back without holding it whole (any size, with a length or chunked); other
//! methods on those paths get 405, other paths 404. Connections are kept alive. With
//! `--http2` it speaks HTTP/2 instead, without TLS or upgrade (what curl calls
//! `--http2-prior-knowledge`). The address defaults to 127.0.0.1:8080, the backend to the one
//! `PLEXIO_BACKEND` names, else the best one compiled in. Ctrl-C ends it.

use std::convert::Infallible;
use std::io;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use plexio::Runtime;
use plexio::hyper::{PlexioExecutor, PlexioTimer};
use plexio::net::{TcpListener, TcpStream};

/// The body `GET /` answers.
pub const GREETING: &str = "hello from hyper on plexio\n";

/// Which HTTP version connections speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (and 1.0), kept alive.
    Http1,
    /// HTTP/2 with prior knowledge: the client starts with HTTP/2's preface.
    Http2,
}

struct Options {
    addr: String,
    backend: Option<String>,
    protocol: Protocol,
}

fn parse_options() -> Result<Options, String> {
    let mut options =
        Options { addr: "127.0.0.1:8080".to_owned(), backend: None, protocol: Protocol::Http1 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--addr" => options.addr = value()?,
            "--backend" => options.backend = Some(value()?),
            "--http2" => options.protocol = Protocol::Http2,
            "-h" | "--help" => {
                return Err("usage: hello_http [--addr HOST:PORT] \
                            [--backend uring|mio|polling|poll|select] [--http2]"
                    .to_owned());
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let builder = match &options.backend {
        Some(name) => Runtime::builder().backend(name),
        None => Runtime::builder(),
    };
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hello_http: {error}");
            return ExitCode::FAILURE;
        }
    };
    let backend = runtime.backend_name();
    let served = runtime.block_on(async {
        let listener = TcpListener::bind(&options.addr).await?;
        let protocol = match options.protocol {
            Protocol::Http1 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2 (prior knowledge)",
        };
        println!(
            "hello_http listening on http://{} ({protocol}) with the {backend} backend",
            listener.local_addr()?
        );
        serve(listener, options.protocol).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hello_http: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts connections for ever, each served on a task of its own.
pub async fn serve(listener: TcpListener, protocol: Protocol) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                plexio::spawn(async move {
                    if let Err(error) = serve_connection(stream, protocol).await {
                        eprintln!("hello_http: connection from {peer}: {error}");
                    }
                });
            }
            Err(error) => {
                // Out of descriptors, say: the connection stays queued, so pause rather
                // than spin on a listener that stays readable.
                eprintln!("hello_http: accept failed: {error}");
                plexio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one connection until the client closes it.
pub async fn serve_connection(stream: TcpStream, protocol: Protocol) -> io::Result<()> {
    // A response's last bytes must not wait for the acknowledgement of the one before.
    stream.set_nodelay(true)?;
    let service = hyper::service::service_fn(route);
    let served = match protocol {
        Protocol::Http1 => {
            hyper::server::conn::http1::Builder::new()
                .timer(PlexioTimer)
                .serve_connection(stream, service)
                .await
        }
        Protocol::Http2 => {
            hyper::server::conn::http2::Builder::new(PlexioExecutor)
                .timer(PlexioTimer)
                .serve_connection(stream, service)
                .await
        }
    };
    served.map_err(io::Error::other)
}

/// A response body: the greeting or an error text, or the request's own body echoed.
type Body = Either<Full<Bytes>, Incoming>;

/// Answers one request.
async fn route(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let response = match (request.uri().path(), request.method()) {
        ("/", &Method::GET | &Method::HEAD) => text(StatusCode::OK, GREETING),
        ("/echo", &Method::POST) => {
            // The request's body is the response's, as it comes: hyper reads it while it
            // writes it, with a length if the request had one, chunked otherwise.
            let mut response = Response::new(Either::Right(request.into_body()));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            response
        }
        ("/", _) => not_allowed("GET, HEAD"),
        ("/echo", _) => not_allowed("POST"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

/// A plain-text response.
fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from_static(body.as_bytes()))));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// 405, with the methods the path takes.
fn not_allowed(allowed: &'static str) -> Response<Body> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allowed));
    response
}
