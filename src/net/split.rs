//! Owned read and write halves of a `TcpStream`, for two tasks at once.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use super::TcpStream;
use super::byte_stream::forward_async_io;

pub(crate) fn split(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let stream = Arc::new(stream);
    (OwnedReadHalf { stream: stream.clone() }, OwnedWriteHalf { stream })
}

/// The read half of a [`TcpStream`], from [`TcpStream::into_split`].
pub struct OwnedReadHalf {
    stream: Arc<TcpStream>,
}

/// The write half of a [`TcpStream`], from [`TcpStream::into_split`]. Closing it
/// (`AsyncWriteExt::close`) shuts the connection's write side down.
pub struct OwnedWriteHalf {
    stream: Arc<TcpStream>,
}

impl OwnedReadHalf {
    /// Puts the halves back together; fails, handing them back, if they come from
    /// different streams.
    pub fn reunite(self, write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Arc::ptr_eq(&self.stream, &write.stream) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        Ok(Arc::into_inner(self.stream).expect("the two halves held the only references"))
    }

    /// Reads into the spare capacity of `buffer`: see [`TcpStream::read_owned`].
    pub async fn read_owned(&self, buffer: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        self.stream.read_owned(buffer).await
    }

    /// Reads without removing the data from the socket's queue.
    pub async fn peek(&self, buffer: &mut [u8]) -> io::Result<usize> {
        self.stream.peek(buffer).await
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl OwnedWriteHalf {
    /// Writes from `buffer`: see [`TcpStream::write_owned`].
    pub async fn write_owned(&self, buffer: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        self.stream.write_owned(buffer).await
    }

    /// Writes all of `buffer`: see [`TcpStream::write_all_owned`].
    pub async fn write_all_owned(&self, buffer: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        self.stream.write_all_owned(buffer).await
    }

    /// Shuts the connection's write side down: the peer reads EOF.
    pub fn shutdown(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

forward_async_io!(read: OwnedReadHalf, |this| this.stream.registration());
forward_async_io!(write: OwnedWriteHalf, |this| this.stream.registration());

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedReadHalf").field(&self.stream).finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedWriteHalf").field(&self.stream).finish()
    }
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams; here they
/// are back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different TCP streams")
    }
}

impl std::error::Error for ReuniteError {}
