"""Shutdown under load against the release binary: nothing sent is lost, readiness
turns first, idle or half-open connections never hold the exit."""

import asyncio
import os
import signal
import subprocess
import sys
import time

from modelserver import ServerProcess, http, wait_until  # noqa: E402
from rawhttp import SETOSA, connect, read_response, request_bytes  # noqa: E402

TRIES = int(os.environ.get("ADVERSARIAL_SIGTERM_TRIES", "200"))


def test_sigterm_right_after_ready_always_drains_and_exits_zero_with_busy_cores():
    """A process that has answered /readyz must drain on SIGTERM, never die of it:
    the handlers are installed before the listener binds. Both cores are kept busy."""
    burners = [subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()+600\nwhile time.time()<t: pass"])
               for _ in range(os.cpu_count() or 2)]
    try:
        codes = []
        for _ in range(TRIES):
            with ServerProcess() as server:
                server.wait_ready(timeout=30)
                codes.append(server.stop(timeout=30))
    finally:
        for b in burners:
            b.kill()
            b.wait()
    print(f"exit codes of {TRIES} SIGTERMs right after ready, cores busy:", {c: codes.count(c) for c in set(codes)})
    assert codes == [0] * TRIES, {c: codes.count(c) for c in set(codes)}


def test_keep_alive_clients_lose_no_request_across_sigterm():
    """64 keep-alive clients sending back to back: every request sent is answered;
    the answers after SIGTERM carry `connection: close`."""
    with ServerProcess() as server:
        server.wait_ready()
        stats = {"sent": 0, "answered": 0, "lost": 0, "closed_by_header": 0}

        async def client():
            reader, writer = await connect(server.port)
            while True:
                try:
                    writer.write(request_bytes(body=SETOSA))
                    await writer.drain()
                except ConnectionError:
                    return  # the request never left: nothing lost
                stats["sent"] += 1
                response = await read_response(reader, timeout=10)
                if response is None:
                    stats["lost"] += 1
                    return
                stats["answered"] += 1
                assert response[0] == 200, response
                if response[1].get("connection") == "close":
                    stats["closed_by_header"] += 1
                    writer.close()
                    return

        async def scenario():
            tasks = [asyncio.create_task(client()) for _ in range(64)]
            await asyncio.sleep(1.0)
            server.signal(signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*tasks), 30)

        asyncio.run(scenario())
        assert server.wait() == 0
        print("keep-alive clients across SIGTERM:", stats)
        assert stats["sent"] > 64, stats
        assert stats["lost"] == 0, stats
        assert stats["answered"] == stats["sent"], stats
        assert stats["closed_by_header"] == 64, stats


def test_shutdown_delay_keeps_serving_with_readyz_503_then_closes():
    with ServerProcess("--shutdown-delay", "2s") as server:
        server.wait_ready()
        server.signal(signal.SIGTERM)
        signalled = time.monotonic()
        wait_until("/readyz to answer 503", lambda: http(server.url + "/readyz", timeout=1)[0] == 503,
                   timeout=2)
        status, _, body = http(server.url + "/predict", data=SETOSA,
                               headers={"content-type": "application/json"})
        assert status == 200, body
        assert time.monotonic() - signalled < 2
        assert server.wait(timeout=10) == 0
        assert time.monotonic() - signalled >= 2


def test_half_sent_heads_and_idle_connections_do_not_hold_the_grace():
    with ServerProcess("--shutdown-grace", "30s") as server:
        server.wait_ready()

        async def scenario():
            held = []
            for _ in range(5):
                reader, writer = await connect(server.port)
                writer.write(b"POST /predict HTTP/1.1\r\nhost: te")
                await writer.drain()
                held.append(writer)
            for _ in range(5):
                held.append((await connect(server.port))[1])
            await asyncio.sleep(0.3)
            server.signal(signal.SIGTERM)
            started = time.monotonic()
            code = await asyncio.get_running_loop().run_in_executor(None, server.wait, 10)
            return code, time.monotonic() - started

        code, took = asyncio.run(scenario())
        assert code == 0
        assert took < 2, took
        text = "\n".join(server.lines)
        assert "still in flight" not in text, text[-1500:]


def test_an_in_flight_request_is_answered_with_connection_close():
    with ServerProcess("--enable-faults") as server:
        server.wait_ready()

        async def scenario():
            reader, writer = await connect(server.port)
            writer.write(request_bytes(body=SETOSA, headers={"x-fault": "delay=700"}))
            await writer.drain()
            await asyncio.sleep(0.2)
            server.signal(signal.SIGTERM)
            return await read_response(reader)

        status, headers, _ = asyncio.run(scenario())
        assert status == 200
        assert headers.get("connection") == "close"
        assert server.wait() == 0
