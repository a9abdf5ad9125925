//! Guides: pages of prose and runnable examples, with no items of their own.
//!
//! - [`io_models`]: the I/O models plexio implements and compares, from a blocking socket
//!   and a thread per connection through `select`, `poll`, epoll and kqueue, the Windows
//!   models (event objects, overlapped I/O, IOCP) and io_uring, to reactor against proactor
//!   and async/await against threads, each pointing to the backend, example or test that
//!   shows it, with the benchmark's figures.
//! - [`from_tokio`]: coming from tokio or smol, what you reach for there and plexio's answer,
//!   with the rules of cancel safety.
//!
//! Every Rust example on these pages runs as a doc test.

pub mod from_tokio;
pub mod io_models;
