//! `UdpSocket` options: broadcast, and multicast on the loopback interface (IPv4 and IPv6),
//! joined, received with loop on, left.

mod util;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use plexio::net::UdpSocket;
use plexio::time::timeout;
use util::run;

per_backend!(
    broadcast_flag_reads_back,
    multicast_v4_on_loopback_is_received_with_loop_on,
    multicast_v6_on_loopback_is_received_with_loop_on,
);

/// Loopback delivers at once; past this, the datagram is not coming.
const WAIT: Duration = Duration::from_secs(10);

/// How long to wait for a datagram that must not come.
const SILENCE: Duration = Duration::from_millis(200);

/// An administratively scoped IPv4 group (239.255.0.0/16, RFC 2365: never leaves a site)
/// of the test's own, numbered by its receiver's port.
///
/// The group must not be shared with the scenario running beside it on another backend:
/// Linux delivers a multicast datagram to every socket bound to its port while *any*
/// socket on the host is a member of its group (`IP_MULTICAST_ALL`, on by default), so a
/// receiver that has left a shared group would still get "after leaving".
fn group_v4(port: u16) -> Ipv4Addr {
    let [high, low] = port.to_be_bytes();
    Ipv4Addr::new(239, 255, high, low)
}

/// A link-local IPv6 group (ff02::/16: never leaves the link) of the test's own, numbered
/// by its receiver's port, for the reason [`group_v4`] gives.
fn group_v6(port: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0x4242, port)
}

fn broadcast_flag_reads_back(backend: &str) {
    run(backend, || async {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        assert!(!socket.broadcast()?, "off by default");
        socket.set_broadcast(true)?;
        assert!(socket.broadcast()?);
        socket.set_broadcast(false)?;
        assert!(!socket.broadcast()?);
        Ok(())
    });
}

fn multicast_v4_on_loopback_is_received_with_loop_on(backend: &str) {
    run(backend, || async {
        // Bound to the wildcard address: a socket bound to 127.0.0.1 would not take
        // datagrams addressed to the group.
        let receiver = UdpSocket::bind("0.0.0.0:0").await?;
        let port = receiver.local_addr()?.port();
        let group_address = group_v4(port);
        // Joined on the loopback interface, named by its address, so that no multicast
        // route is needed: containers often have none, and joining on "any interface" then
        // fails with ENODEV.
        receiver.join_multicast_v4(group_address, Ipv4Addr::LOCALHOST)?;

        let sender = UdpSocket::bind("127.0.0.1:0").await?;
        sender.set_multicast_if_v4(Ipv4Addr::LOCALHOST)?;
        assert_eq!(sender.multicast_if_v4()?, Ipv4Addr::LOCALHOST);
        sender.set_multicast_ttl_v4(1)?;
        assert_eq!(sender.multicast_ttl_v4()?, 1);
        sender.set_multicast_loop_v4(false)?;
        assert!(!sender.multicast_loop_v4()?);
        sender.set_multicast_loop_v4(true)?;
        assert!(sender.multicast_loop_v4()?);

        let group = SocketAddr::from((group_address, port));
        sender.send_to(b"to the group", group).await?;
        let mut buffer = [0; 32];
        let (n, from) = timeout(WAIT, receiver.recv_from(&mut buffer)).await??;
        assert_eq!((&buffer[..n], from), (&b"to the group"[..], sender.local_addr()?));

        // Once it has left, the group's datagrams no longer reach it.
        receiver.leave_multicast_v4(group_address, Ipv4Addr::LOCALHOST)?;
        sender.send_to(b"after leaving", group).await?;
        assert!(timeout(SILENCE, receiver.recv_from(&mut buffer)).await.is_err());
        Ok(())
    });
}

fn multicast_v6_on_loopback_is_received_with_loop_on(backend: &str) {
    run(backend, || async {
        let Some(loopback) = loopback_index() else {
            eprintln!("no IPv6 loopback interface here: IPv6 multicast not exercised");
            return Ok(());
        };
        let receiver = match UdpSocket::bind("[::]:0").await {
            Ok(receiver) => receiver,
            Err(error) if error.kind() == io::ErrorKind::AddrNotAvailable => {
                eprintln!("no IPv6 here ({error}): IPv6 multicast not exercised");
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        let port = receiver.local_addr()?.port();
        let group_address = group_v6(port);
        receiver.join_multicast_v6(&group_address, loopback)?;

        let sender = UdpSocket::bind("[::1]:0").await?;
        sender.set_multicast_if_v6(loopback)?;
        assert_eq!(sender.multicast_if_v6()?, loopback);
        sender.set_multicast_loop_v6(true)?;
        assert!(sender.multicast_loop_v6()?);

        let group = SocketAddr::from((group_address, port));
        match sender.send_to(b"to the v6 group", group).await {
            Ok(_) => {}
            // Linux gives its loopback interface no IPv6 multicast route (it lacks the
            // MULTICAST flag, and the `ff00::/8` route names the other interfaces), so
            // the send is refused with ENETUNREACH: joining and leaving are all that can be
            // shown there without a datagram leaving the host. The error must say so
            // plainly, and it must be the system's own.
            Err(error) if cfg!(target_os = "linux") || util::under_wine() => {
                assert_eq!(error.kind(), io::ErrorKind::NetworkUnreachable, "{error}");
                receiver.leave_multicast_v6(&group_address, loopback)?;
                return Ok(());
            }
            Err(error) => return Err(error),
        }
        let mut buffer = [0; 32];
        let (n, from) = timeout(WAIT, receiver.recv_from(&mut buffer)).await??;
        assert_eq!(&buffer[..n], b"to the v6 group");
        assert_eq!(from.port(), sender.local_addr()?.port());

        receiver.leave_multicast_v6(&group_address, loopback)?;
        sender.send_to(b"after leaving", group).await?;
        assert!(timeout(SILENCE, receiver.recv_from(&mut buffer)).await.is_err());
        Ok(())
    });
}

/// The index of the loopback interface, where the test can learn it.
#[cfg(unix)]
fn loopback_index() -> Option<u32> {
    ["lo", "lo0"].iter().find_map(|name| {
        let name = std::ffi::CString::new(*name).unwrap();
        // SAFETY: `name` is a NUL-terminated string that lives across the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        (index != 0).then_some(index)
    })
}

/// Windows numbers its loopback interface 1 ("Loopback Pseudo-Interface 1").
#[cfg(windows)]
fn loopback_index() -> Option<u32> {
    Some(1)
}
