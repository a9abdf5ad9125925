//! The operations of a stream its owner polls through `&mut` (`TcpStream`, `UnixStream`
//! as `AsyncRead`/`AsyncWrite`): polled on a worker other than the one whose driver the
//! stream is registered with, the registration may move there first
//! (`Registration::follow`; when, and why, in `driver::reactor::registration::moving`).
//!
//! Each operation inlines the body it shares with the `shared` one, so that the check
//! costs a thread-local load and a comparison inside a function that does the work anyway;
//! a separate check in the trait method would make it save registers on every call (about
//! 25 instructions each, measured with callgrind). The move itself is out of line.

use std::io::{self, IoSlice, IoSliceMut};
use std::task::{Context, Poll};

use super::StreamSocket;
use crate::driver::reactor::{Registration, Shared};

/// [`super::poll_read`], once the registration may have moved here.
pub(crate) fn poll_read<S: StreamSocket>(
    io: &mut Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffer: &mut [u8],
) -> Poll<io::Result<usize>> {
    if io.polled_on_another_thread() {
        return moved::poll_read(io, cx, buffer);
    }
    super::read(io, cx, buffer)
}

/// [`super::poll_read_vectored`], once the registration may have moved here.
pub(crate) fn poll_read_vectored<S: StreamSocket>(
    io: &mut Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffers: &mut [IoSliceMut<'_>],
) -> Poll<io::Result<usize>> {
    if io.polled_on_another_thread() {
        return moved::poll_read_vectored(io, cx, buffers);
    }
    super::read_vectored(io, cx, buffers)
}

/// [`super::poll_write`], once the registration may have moved here.
pub(crate) fn poll_write<S: StreamSocket>(
    io: &mut Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffer: &[u8],
) -> Poll<io::Result<usize>> {
    if io.polled_on_another_thread() {
        return moved::poll_write(io, cx, buffer);
    }
    super::write(io, cx, buffer)
}

/// [`super::poll_write_vectored`], once the registration may have moved here.
pub(crate) fn poll_write_vectored<S: StreamSocket>(
    io: &mut Registration<Shared<S>>,
    cx: &mut Context<'_>,
    buffers: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    if io.polled_on_another_thread() {
        return moved::poll_write_vectored(io, cx, buffers);
    }
    super::write_vectored(io, cx, buffers)
}

/// The same operations after a move (or a refusal to move), out of line.
mod moved {
    use super::*;

    #[cold]
    #[inline(never)]
    pub(super) fn poll_read<S: StreamSocket>(
        io: &mut Registration<Shared<S>>,
        cx: &mut Context<'_>,
        buffer: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        io.follow(cx);
        super::super::poll_read(io, cx, buffer)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn poll_read_vectored<S: StreamSocket>(
        io: &mut Registration<Shared<S>>,
        cx: &mut Context<'_>,
        buffers: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        io.follow(cx);
        super::super::poll_read_vectored(io, cx, buffers)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn poll_write<S: StreamSocket>(
        io: &mut Registration<Shared<S>>,
        cx: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        io.follow(cx);
        super::super::poll_write(io, cx, buffer)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn poll_write_vectored<S: StreamSocket>(
        io: &mut Registration<Shared<S>>,
        cx: &mut Context<'_>,
        buffers: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        io.follow(cx);
        super::super::poll_write_vectored(io, cx, buffers)
    }
}
