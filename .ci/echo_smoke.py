"""Starts the echo example on each backend and talks to it with Python's socket module
and with asyncio streams.

Usage: echo_smoke.py [--runner PROGRAM] PATH_TO_ECHO BACKEND...
With --runner, the server is started through PROGRAM (for example wine64 for echo.exe).
A peer plexio did not write checks that lines come back unchanged, over several
connections at once, and that the server survives a client that resets its connection.
"""
import asyncio
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


def check(command, backend):
    port = free_port()
    server = subprocess.Popen(
        command + ["--addr", f"127.0.0.1:{port}", "--backend", backend],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = server.stdout.readline()
        if f"with the {backend} backend" not in banner:
            raise SystemExit(f"{backend}: unexpected banner {banner!r}")
        clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
        for round_ in range(50):
            for i, client in enumerate(clients):
                line = f"{backend} client {i} round {round_}\n".encode()
                client.sendall(line)
            for i, client in enumerate(clients):
                line = f"{backend} client {i} round {round_}\n".encode()
                got = b""
                while len(got) < len(line):
                    chunk = client.recv(len(line) - len(got))
                    if not chunk:
                        raise SystemExit(f"{backend}: connection {i} closed early")
                    got += chunk
                if got != line:
                    raise SystemExit(f"{backend}: echoed {got!r}, sent {line!r}")
        # A client that resets: the server must log it and go on serving.
        rude = socket.create_connection(("127.0.0.1", port), timeout=10)
        rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        rude.sendall(b"bye")
        rude.close()
        time.sleep(0.1)
        # Half-close: everything sent before the shutdown comes back, then EOF.
        client = clients[0]
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
        for c in clients:
            c.close()
        asyncio.run(asyncio_clients(port, backend))
        if server.poll() is not None:
            raise SystemExit(f"{backend}: the server exited: {server.stderr.read()}")
        print(f"{backend}: ok (8 connections x 50 lines, a reset, a half-close, "
              "32 asyncio clients x 20 lines)")
    finally:
        server.kill()
        server.wait()


def main():
    arguments = sys.argv[1:]
    runner = []
    if arguments[:1] == ["--runner"]:
        runner, arguments = [arguments[1]], arguments[2:]
    binary, backends = arguments[0], arguments[1:]
    for backend in backends:
        check(runner + [binary], backend)


if __name__ == "__main__":
    main()
