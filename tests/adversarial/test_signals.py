"""Signals to the real binary: SIGHUP drains as SIGTERM does (it is no reload, and
no silent death with requests in flight); a second SIGTERM or SIGINT during the
drain exits at once instead of waiting out --shutdown-grace."""

import asyncio
import signal
import time

import pytest

from modelserver import ServerProcess, wait_until  # noqa: E402
from rawhttp import SETOSA, connect, read_response, request_bytes  # noqa: E402


def in_flight(server):
    return server.value("request_in_progress", route="/predict")


def logged(server, text):
    return any(text in str(line) for line in server.logs())


async def start_slow_request(server, delay_ms):
    """A /predict held `delay_ms` by the fault injector, once the server counts it in flight."""
    reader, writer = await connect(server.port)
    writer.write(request_bytes(body=SETOSA, headers={"x-fault": f"delay={delay_ms}"}))
    await writer.drain()
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: wait_until("the request to be in flight", lambda: in_flight(server) >= 1))
    return reader, writer


def test_sighup_drains_in_flight_requests_like_sigterm_and_exits_zero():
    with ServerProcess("--enable-faults") as server:
        server.wait_ready()

        async def scenario():
            reader, _ = await start_slow_request(server, 1500)
            server.signal(signal.SIGHUP)
            return await read_response(reader, timeout=30)

        status, headers, _ = asyncio.run(scenario())
        assert status == 200
        assert headers.get("connection") == "close"
        assert server.wait(timeout=30) == 0
        assert logged(server, "received SIGHUP"), server.log_tail()
        assert logged(server, "draining as for SIGTERM"), server.log_tail()
        assert logged(server, "drained; bye"), server.log_tail()


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_during_the_drain_exits_at_once(second):
    # The drain would wait a minute for the held request (and up to 120 s of grace).
    held_ms = 60_000
    with ServerProcess("--enable-faults", "--shutdown-grace", "120s",
                       "--request-timeout", "120s") as server:
        server.wait_ready()

        async def scenario():
            reader, _ = await start_slow_request(server, held_ms)
            server.signal(signal.SIGTERM)
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: wait_until("the drain to begin",
                                         lambda: logged(server, "listener closed; draining")))
            server.signal(second)
            forced = time.monotonic()
            code = await asyncio.get_running_loop().run_in_executor(None, server.wait, 30)
            took = time.monotonic() - forced
            answer = await read_response(reader, timeout=10)
            return code, took, answer

        code, took, answer = asyncio.run(scenario())
        # Exits well before the held request would have been answered: a ceiling
        # far below the minute the drain would take, not a latency bound.
        assert took < held_ms / 1000 / 4, took
        assert code == 1, server.log_tail()
        assert answer is None, answer
        assert logged(server, "during the drain: exiting now"), server.log_tail()
        assert not logged(server, "drained; bye"), server.log_tail()
