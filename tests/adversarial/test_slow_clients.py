"""Slow and oversized clients against the release binary, over real sockets.

Each case bounds its own time; loads are loopback only."""

import asyncio
import json
import resource
import time
from pathlib import Path

from modelserver import ServerProcess  # noqa: E402
from rawhttp import (  # noqa: E402
    SETOSA, closed_within, connect, p99, read_response, request_bytes, timed_predictions)

UPLOADERS = 2000


def run(coro):
    return asyncio.run(coro)


def enough_descriptors(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))


def test_slow_uploaders_take_no_slot_and_get_408_while_others_are_served():
    """2,000 clients that send a body byte every second hold none of the 16 in-flight
    slots: normal requests are answered, p99 < 50 ms, and the slow ones end as 408."""
    enough_descriptors(UPLOADERS)
    with ServerProcess("--max-in-flight", "16", "--body-read-timeout", "4s") as server:
        server.wait_ready()

        async def uploader():
            reader, writer = await connect(server.port)
            body = SETOSA
            writer.write(request_bytes(body=b"", headers={"content-length": str(len(body))}))
            await writer.drain()
            # Like a real client, look for an early answer between bytes.
            response = None
            for byte in body[:8]:
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                except ConnectionError:
                    break
                try:
                    response = await read_response(reader, timeout=1)
                    break
                except asyncio.TimeoutError:
                    pass
            if response is None:
                response = await read_response(reader, timeout=10)
            writer.close()
            return response

        async def scenario():
            slow = [asyncio.create_task(uploader()) for _ in range(UPLOADERS)]
            await asyncio.sleep(1.5)  # every uploader connected and dribbling
            latencies = await timed_predictions(server.port, 200)
            responses = await asyncio.gather(*slow)
            return latencies, responses

        latencies, responses = run(scenario())
        print(f"{UPLOADERS} slow uploaders: normal requests p50 {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms, "
              f"p99 {p99(latencies) * 1000:.1f} ms")
        assert p99(latencies) < 0.050, f"p99 {p99(latencies) * 1000:.1f} ms"
        statuses = [r[0] if r else None for r in responses]
        assert statuses.count(408) == UPLOADERS, {s: statuses.count(s) for s in set(statuses)}
        body = json.loads(responses[0][2])
        assert body["error"] == "body_timeout"
        assert responses[0][1].get("connection") == "close"
        assert server.value("requests_total", route="/predict", status="408") == UPLOADERS
        assert server.value("requests_total", route="/predict", status="503") == 0
        assert server.stop() == 0


def test_an_over_limit_content_length_is_refused_before_reading_and_without_100_continue():
    with ServerProcess() as server:
        server.wait_ready()

        async def scenario():
            results = []
            for headers in ({"content-length": str(10**18)},
                            {"content-length": str(1 << 30), "expect": "100-continue"}):
                reader, writer = await connect(server.port)
                started = time.monotonic()
                writer.write(request_bytes(body=b"", headers=headers))
                await writer.drain()
                response = await read_response(reader, timeout=5)
                results.append((time.monotonic() - started, response))
                writer.close()
            return results

        for took, response in run(scenario()):
            assert response is not None
            status, headers, body = response
            assert status == 413, (status, body)  # not 100 Continue, not 504
            assert json.loads(body)["error"] == "payload_too_large"
            assert took < 1.0, took
        assert server.stop() == 0


def test_slowloris_heads_are_cut_at_the_header_timeout_and_memory_comes_back():
    """2,000 connections that send a header line a second are closed after
    --header-read-timeout, counted, and RSS returns near idle afterwards."""
    enough_descriptors(UPLOADERS)
    with ServerProcess("--header-read-timeout", "3s") as server:
        server.wait_ready()
        idle_rss = server.rss_kib()
        # Where THP is "always", khugepaged would refill the trimmed holes with
        # 2 MiB pages and RSS would climb back while idle: the server opts out.
        status = Path(f"/proc/{server.pid}/status").read_text()
        assert "THP_enabled:\t0" in status, status

        async def slowloris():
            reader, writer = await connect(server.port)
            writer.write(b"POST /predict HTTP/1.1\r\nhost: test\r\n")
            await writer.drain()
            started = time.monotonic()
            for i in range(20):
                try:
                    writer.write(f"x-slow-{i}: 1\r\n".encode())
                    await writer.drain()
                except ConnectionError:
                    break
                if await closed_within(reader, 1):
                    break
            closed_after = time.monotonic() - started
            writer.close()
            return closed_after

        async def scenario():
            tasks = [asyncio.create_task(slowloris()) for _ in range(UPLOADERS)]
            await asyncio.sleep(2)
            peak = server.rss_kib()
            latencies = await timed_predictions(server.port, 50)
            return await asyncio.gather(*tasks), peak, latencies

        closed_after, peak_rss, latencies = run(scenario())
        assert max(closed_after) < 6, max(closed_after)
        assert p99(latencies) < 0.050, p99(latencies)
        assert server.value("connection_errors_total", kind="header_timeout") == UPLOADERS
        # The memory of the wave is handed back within a few seconds (checked every 2 s).
        time.sleep(7)
        after_rss = server.rss_kib()
        print(f"RSS idle {idle_rss} KiB, during {peak_rss} KiB, after {after_rss} KiB")
        assert after_rss < idle_rss + max(4096, (peak_rss - idle_rss) // 4), (
            idle_rss, peak_rss, after_rss)
        assert server.stop() == 0


def test_idle_connections_close_after_the_keep_alive_timeout_without_an_error():
    with ServerProcess("--keep-alive-timeout", "1s") as server:
        server.wait_ready()

        async def scenario():
            # Never sends anything.
            r1, w1 = await connect(server.port)
            # One request, then idle.
            r2, w2 = await connect(server.port)
            w2.write(request_bytes(body=SETOSA))
            await w2.drain()
            response = await read_response(r2)
            assert response[0] == 200 and response[1].get("connection") != "close"
            closed = await asyncio.gather(closed_within(r1, 3), closed_within(r2, 3))
            w1.close()
            w2.close()
            return closed

        assert run(scenario()) == [True, True]
        assert server.value("connection_errors_total") == 0
        assert server.stop() == 0


def test_at_the_connection_limit_new_clients_wait_and_are_served_once_slots_free():
    """With the open-file limit at 256 the default connection limit is 128: 200 idle
    sockets make the rest wait in the backlog (no accept-error spin, no EMFILE), and a
    normal request is served once the idle ones time out."""

    def limit_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    with ServerProcess("--keep-alive-timeout", "2s", preexec_fn=limit_nofile) as server:
        server.wait_ready()
        listening = [entry for entry in server.logs() if "max_connections" in entry.get("fields", {})]
        assert listening and listening[0]["fields"]["max_connections"] == 128

        async def scenario():
            idle = [await connect(server.port) for _ in range(200)]
            await asyncio.sleep(0.5)
            started = time.monotonic()
            latencies = await timed_predictions(server.port, 1)
            waited = time.monotonic() - started
            for _, writer in idle:
                writer.close()
            return waited, latencies

        waited, _ = run(scenario())
        assert waited < 6, waited
        text = "\n".join(server.lines)
        assert "Too many open files" not in text
        assert text.count("connection limit reached") <= 2, text[-2000:]
        assert server.value("connection_errors_total", kind="accept") == 0
        assert server.stop() == 0
