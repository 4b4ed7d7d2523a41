"""Raw HTTP/1.1 over asyncio sockets, for clients no library would be: slow,
half-sent, oversized, or many at once."""

import asyncio
import json
import time


async def connect(port):
    return await asyncio.open_connection("127.0.0.1", port)


def request_bytes(method="POST", path="/predict", body=b"", headers=None, keep_alive=True):
    head = [f"{method} {path} HTTP/1.1", "host: test"]
    hdrs = {"content-type": "application/json", "content-length": str(len(body))}
    hdrs.update(headers or {})
    if not keep_alive:
        hdrs["connection"] = "close"
    head += [f"{k}: {v}" for k, v in hdrs.items() if v is not None]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader, timeout=10):
    """(status, headers dict, body bytes), or None when the connection closed first."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if status == 100:
        return status, headers, b""
    length = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
    return status, headers, body


async def closed_within(reader, seconds):
    """True when the peer closes the connection within `seconds` (EOF or reset);
    anything it sends before closing is read and dropped."""
    while True:
        try:
            data = await asyncio.wait_for(reader.read(65536), seconds)
        except asyncio.TimeoutError:
            return False
        except ConnectionError:
            return True
        if not data:
            return True


SETOSA = json.dumps({"features": [5.1, 3.5, 1.4, 0.2]}).encode()


async def timed_predictions(port, count):
    """Latencies (s) of `count` sequential predictions on fresh connections; all must be 200."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        reader, writer = await connect(port)
        writer.write(request_bytes(body=SETOSA, keep_alive=False))
        await writer.drain()
        response = await read_response(reader)
        latencies.append(time.perf_counter() - started)
        writer.close()
        assert response is not None and response[0] == 200, response
    return latencies


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
