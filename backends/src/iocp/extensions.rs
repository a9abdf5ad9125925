//! The winsock extension functions the driver needs (`AcceptEx`, `ConnectEx`,
//! `GetAcceptExSockaddrs`), asked of the provider with `SIO_GET_EXTENSION_FUNCTION_POINTER`,
//! as Microsoft documents, rather than linked from `mswsock.dll`, which would bypass a
//! layered provider.

use std::io;
use std::os::windows::io::AsRawSocket;

use socket2::{Domain, Protocol, Socket, Type};

use windows_sys::Win32::Networking::WinSock::{
    LPFN_ACCEPTEX, LPFN_CONNECTEX, LPFN_GETACCEPTEXSOCKADDRS, SIO_GET_EXTENSION_FUNCTION_POINTER,
    WSAID_ACCEPTEX, WSAID_CONNECTEX, WSAID_GETACCEPTEXSOCKADDRS,
};
use windows_sys::core::GUID;

use super::socket_calls::control_word;

/// The extension functions, loaded once per driver; each is `Some`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Extensions {
    pub(super) accept: LPFN_ACCEPTEX,
    pub(super) connect: LPFN_CONNECTEX,
    pub(super) accept_addresses: LPFN_GETACCEPTEXSOCKADDRS,
}

impl Extensions {
    /// Asks the TCP provider for the functions, on a socket made for the purpose.
    pub(super) fn load() -> io::Result<Extensions> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        let raw = socket.as_raw_socket() as usize;
        let accept = load(raw, WSAID_ACCEPTEX, "AcceptEx")?;
        let connect = load(raw, WSAID_CONNECTEX, "ConnectEx")?;
        let accept_addresses = load(raw, WSAID_GETACCEPTEXSOCKADDRS, "GetAcceptExSockaddrs")?;
        // SAFETY: each address is the provider's function that its GUID names, whose
        // signature is the one its `LPFN_` type spells (Microsoft's `mswsock.h`); a
        // function pointer and an `Option` of one have the layout of an address.
        unsafe {
            Ok(Extensions {
                accept: std::mem::transmute::<usize, LPFN_ACCEPTEX>(accept),
                connect: std::mem::transmute::<usize, LPFN_CONNECTEX>(connect),
                accept_addresses: std::mem::transmute::<usize, LPFN_GETACCEPTEXSOCKADDRS>(
                    accept_addresses,
                ),
            })
        }
    }
}

/// The address of the extension function `id` (never zero).
fn load(socket: usize, id: GUID, name: &str) -> io::Result<usize> {
    let mut guid = Vec::with_capacity(size_of::<GUID>());
    guid.extend_from_slice(&id.data1.to_ne_bytes());
    guid.extend_from_slice(&id.data2.to_ne_bytes());
    guid.extend_from_slice(&id.data3.to_ne_bytes());
    guid.extend_from_slice(&id.data4);
    let function = control_word(socket, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid)?;
    if function == 0 {
        let message = format!("the winsock provider has no {name}");
        return Err(io::Error::new(io::ErrorKind::Unsupported, message));
    }
    Ok(function)
}
