"""Starts the echo example on each backend and talks to it with Python's socket module
and with asyncio streams.

Usage: echo_smoke.py [--runner PROGRAM] PATH_TO_ECHO BACKEND...
       echo_smoke.py --classic threads|blocking PATH_TO_SERVER
With --runner, the server is started through PROGRAM (for example wine64 for echo.exe).
A peer plexio did not write checks that lines come back unchanged, over several
connections at once, and that the server survives a client that resets its connection.

--classic runs the same checks against the standard-library servers of the I/O-models
guide, which take no --backend: `threads` (examples/echo_threads.rs, a thread per
connection) gets the concurrent checks; `blocking` (examples/echo_blocking.rs, one
connection at a time) gets them one client after another, and a check that a second
client waits until the first one is done.
"""
import asyncio
import contextlib
import socket
import struct
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def asyncio_clients(port, backend, count=32, rounds=20):
    """Many concurrent asyncio clients, each sending lines and reading them back."""

    async def one(i):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for round_ in range(rounds):
                line = f"{backend} asyncio {i} round {round_}\n".encode()
                writer.write(line)
                await writer.drain()
                got = await asyncio.wait_for(reader.readexactly(len(line)), 10)
                if got != line:
                    raise SystemExit(f"{backend}: asyncio echoed {got!r}, sent {line!r}")
            writer.write_eof()
            rest = await asyncio.wait_for(reader.read(), 10)
            if rest:
                raise SystemExit(f"{backend}: asyncio got {rest!r} after its lines")
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(one(i) for i in range(count)))


@contextlib.contextmanager
def serving(command, port, backend, expected_banner):
    """Starts the server, checks its banner, and kills it when the block ends."""
    server = subprocess.Popen(
        command + ["--addr", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = server.stdout.readline()
        if expected_banner not in banner:
            raise SystemExit(f"{backend}: unexpected banner {banner!r}")
        yield server
    finally:
        server.kill()
        server.wait()


def still_serving(server, backend):
    if server.poll() is not None:
        raise SystemExit(f"{backend}: the server exited: {server.stderr.read()}")


def recv_exactly(client, size, backend, what):
    got = b""
    while len(got) < size:
        chunk = client.recv(size - len(got))
        if not chunk:
            raise SystemExit(f"{backend}: {what} closed early")
        got += chunk
    return got


def reset_and_half_close(port, backend, client):
    """A client that resets, which the server must survive; then a half-close on `client`:
    everything sent before the shutdown comes back, then EOF."""
    rude = socket.create_connection(("127.0.0.1", port), timeout=10)
    rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rude.sendall(b"bye")
    rude.close()
    time.sleep(0.1)
    client.sendall(b"last words")
    client.shutdown(socket.SHUT_WR)
    rest = b""
    while True:
        chunk = client.recv(100)
        if not chunk:
            break
        rest += chunk
    if rest != b"last words":
        raise SystemExit(f"{backend}: after half-close got {rest!r}")


def check_one_at_a_time(command):
    """The blocking server: each client alone, lines, a half-close; a reset client; and a
    second client that waits, connected, until the first is done."""
    name = "blocking"
    port = free_port()
    with serving(command, port, name, "one connection at a time") as server:
        for i in range(3):
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            for round_ in range(50):
                line = f"{name} client {i} round {round_}\n".encode()
                client.sendall(line)
                got = recv_exactly(client, len(line), name, f"connection {i}")
                if got != line:
                    raise SystemExit(f"{name}: echoed {got!r}, sent {line!r}")
            if i == 2:
                reset_and_half_close(port, name, client)
            client.close()
        first = socket.create_connection(("127.0.0.1", port), timeout=10)
        first.sendall(b"first\n")
        recv_exactly(first, 6, name, "the first client")
        second = socket.create_connection(("127.0.0.1", port), timeout=10)
        second.sendall(b"second\n")
        second.settimeout(0.3)
        try:
            early = second.recv(100)
            raise SystemExit(f"{name}: a second client was served at once ({early!r})")
        except socket.timeout:
            pass
        first.close()
        second.settimeout(10)
        if recv_exactly(second, 7, name, "the second client") != b"second\n":
            raise SystemExit(f"{name}: the second client got the wrong echo")
        second.close()
        still_serving(server, name)
        print(f"{name}: ok (3 clients one after another x 50 lines, a reset, a half-close, "
              "a second client served only after the first)")


def check_thread_cap(command):
    """The thread server with --max-threads 2: a third client, while two are served, reads
    end of stream at once, and the server says why on stderr; once a client leaves, the
    next one is served again."""
    name = "threads"
    port = free_port()
    with serving(command + ["--max-threads", "2"], port, name, "(at most 2)") as server:
        served = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        for i, client in enumerate(served):
            client.sendall(b"held\n")
            recv_exactly(client, 5, name, f"held connection {i}")
        refused = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            if refused.recv(100) != b"":
                raise SystemExit(f"{name}: a client beyond --max-threads got data")
        except socket.timeout:
            raise SystemExit(f"{name}: a client beyond --max-threads was not refused")
        refused.close()
        served.pop().close()
        deadline = time.monotonic() + 10
        while True:
            # The thread gives its slot back once it has seen the close: retry until then.
            late = socket.create_connection(("127.0.0.1", port), timeout=10)
            late.sendall(b"again\n")
            try:
                if recv_exactly(late, 6, name, "the late client") == b"again\n":
                    break
            except SystemExit:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                late.close()
        served[0].close()
    message = server.stderr.read()
    if "all 2 threads are serving clients; refusing" not in message:
        raise SystemExit(f"{name}: no refusal message on stderr: {message!r}")
    print(f"{name}: ok (--max-threads 2: a third client refused with a message, "
          "then served once a thread is free)")


def check(command, backend, expected_banner=None):
    port = free_port()
    if expected_banner is None:
        command = command + ["--backend", backend]
        expected_banner = f"with the {backend} backend"
    with serving(command, port, backend, expected_banner) as server:
        clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
        for round_ in range(50):
            for i, client in enumerate(clients):
                line = f"{backend} client {i} round {round_}\n".encode()
                client.sendall(line)
            for i, client in enumerate(clients):
                line = f"{backend} client {i} round {round_}\n".encode()
                got = recv_exactly(client, len(line), backend, f"connection {i}")
                if got != line:
                    raise SystemExit(f"{backend}: echoed {got!r}, sent {line!r}")
        reset_and_half_close(port, backend, clients[0])
        for c in clients:
            c.close()
        asyncio.run(asyncio_clients(port, backend))
        still_serving(server, backend)
        print(f"{backend}: ok (8 connections x 50 lines, a reset, a half-close, "
              "32 asyncio clients x 20 lines)")


def main():
    arguments = sys.argv[1:]
    if arguments[:1] == ["--classic"]:
        model, binary = arguments[1], arguments[2]
        if model == "blocking":
            check_one_at_a_time([binary])
        elif model == "threads":
            check([binary], model, expected_banner="a thread per connection")
            check_thread_cap([binary])
        else:
            raise SystemExit(f"--classic takes threads or blocking, not {model!r}")
        return
    runner = []
    if arguments[:1] == ["--runner"]:
        runner, arguments = [arguments[1]], arguments[2:]
    binary, backends = arguments[0], arguments[1:]
    for backend in backends:
        check(runner + [binary], backend)


if __name__ == "__main__":
    main()
