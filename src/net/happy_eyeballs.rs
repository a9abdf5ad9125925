//! Happy Eyeballs (RFC 8305): connecting to a name with several addresses by racing
//! attempts, so that an address that never answers (a broken IPv6 route, a host that drops
//! packets) costs 250 ms rather than the system's connect timeout of a minute or more.
//!
//! The attempts start one after another in the order of [`interleave`]; each waits for the
//! one before it to fail or for [`ATTEMPT_DELAY`] to pass, whichever comes first, and the
//! attempts then run side by side. The first connection wins; the attempts still in flight
//! are dropped, which closes their sockets and releases their registrations (on a
//! completion driver, dropping a connect cancels it in the kernel while the operation keeps
//! the socket and the address alive until the cancellation completes).

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::time::sleep;

/// How long an attempt has before the next one starts beside it: the "Connection Attempt
/// Delay" that RFC 8305 recommends.
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Connects to one of `addrs` with `attempt`, racing them as the module says; a single
/// address is simply tried.
pub(crate) async fn connect<T, F, Fut>(addrs: Vec<SocketAddr>, mut attempt: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    if let [addr] = addrs[..] {
        return attempt(addr).await;
    }
    let mut waiting = interleave(addrs).into_iter();
    let mut racing = FuturesUnordered::new();
    let mut errors = Errors::default();
    let mut next_start = Box::pin(sleep(ATTEMPT_DELAY));
    poll_fn(|cx| {
        loop {
            // Start the next attempt when none is left in flight (the last one failed,
            // or this is the first) or when the delay has passed.
            if racing.is_empty() || (waiting.len() > 0 && next_start.as_mut().poll(cx).is_ready()) {
                match waiting.next() {
                    Some(addr) => {
                        racing.push(attempt(addr));
                        next_start.as_mut().reset(Instant::now() + ATTEMPT_DELAY);
                    }
                    None => return Poll::Ready(Err(errors.take())),
                }
            }
            match racing.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(connected))) => return Poll::Ready(Ok(connected)),
                // A failure starts the next attempt at once (the loop's first test).
                Poll::Ready(Some(Err(error))) => {
                    errors.note(error);
                    if waiting.len() > 0 {
                        next_start.as_mut().reset(Instant::now());
                    }
                }
                Poll::Ready(None) => {}
                Poll::Pending if waiting.len() == 0 => return Poll::Pending,
                Poll::Pending => {
                    if next_start.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    })
    .await
}

/// The order of the attempts (RFC 8305, section 4): IPv6 and IPv4 addresses alternately,
/// IPv6 first, each family in the order it was given, so that one broken family costs at
/// most every other attempt.
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<_>, Vec<_>) = addrs.into_iter().partition(SocketAddr::is_ipv6);
    let mut v6 = v6.into_iter();
    let mut v4 = v4.into_iter();
    let mut ordered = Vec::with_capacity(v6.len() + v4.len());
    loop {
        match (v6.next(), v4.next()) {
            (None, None) => return ordered,
            (first, second) => ordered.extend(first.into_iter().chain(second)),
        }
    }
}

/// The errors of the attempts, for the one error returned when all fail.
#[derive(Default)]
struct Errors {
    /// The first error of all.
    first: Option<io::Error>,
    /// The first error from an attempt that reached a host.
    first_reached: Option<io::Error>,
}

impl Errors {
    fn note(&mut self, error: io::Error) {
        if self.first_reached.is_none() && reached_a_host(&error) {
            self.first_reached = Some(error);
        } else if self.first.is_none() {
            self.first = Some(error);
        }
    }

    /// The first error from an attempt that reached a host (a refusal, a reset: it says
    /// something about the service), else the first error: the most preferred address's.
    fn take(&mut self) -> io::Error {
        self.first_reached.take().or(self.first.take()).unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to no socket address")
        })
    }
}

/// Whether a failed attempt got as far as a host: not a missing route, an unusable local
/// address or family.
fn reached_a_host(error: &io::Error) -> bool {
    !matches!(
        error.kind(),
        io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::Unsupported
            | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|addr| addr.parse().unwrap()).collect()
    }

    #[test]
    fn families_alternate_ipv6_first_each_in_its_given_order() {
        let given = addrs(&["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "[::1]:1", "[::2]:1"]);
        let expected = addrs(&["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "10.0.0.3:1"]);
        assert_eq!(interleave(given), expected);
        let one_family = addrs(&["10.0.0.2:1", "10.0.0.1:1"]);
        assert_eq!(interleave(one_family.clone()), one_family);
    }

    #[test]
    fn the_error_returned_is_the_first_that_reached_a_host() {
        let mut errors = Errors::default();
        errors.note(io::ErrorKind::NetworkUnreachable.into());
        errors.note(io::ErrorKind::ConnectionRefused.into());
        errors.note(io::ErrorKind::ConnectionReset.into());
        assert_eq!(errors.take().kind(), io::ErrorKind::ConnectionRefused);

        let mut errors = Errors::default();
        errors.note(io::ErrorKind::NetworkUnreachable.into());
        errors.note(io::ErrorKind::HostUnreachable.into());
        assert_eq!(errors.take().kind(), io::ErrorKind::NetworkUnreachable);
    }
}
