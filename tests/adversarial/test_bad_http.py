"""Malformed and hostile HTTP against the release binary: clear answers, and the
ones hyper refuses below the routes counted in connection_errors_total."""

import asyncio
import json

from modelserver import http, served, wait_until  # noqa: E402
from rawhttp import connect, read_response, request_bytes  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def server():
    with served() as s:
        yield s


def post(server, body, content_type="application/json"):
    status, _, text = http(server.url + "/predict", data=body, headers={"content-type": content_type})
    return status, json.loads(text)


@pytest.mark.parametrize("body,status,code", [
    (b"[" * 65_000, 400, "malformed_json"),
    (b'[null,[[6.7,3.0,5.2,2.3]]]', 422, "invalid_body"),
    (b'[[5.1,3.5,1.4,0.2]]', 422, "invalid_body"),
    (b'"features"', 422, "invalid_body"),
    (b'{"features": [5.1, 3.5, 1.4, 0.2]} {}', 400, "malformed_json"),
    (b'{"features": [5.1, 3.5, 1.4, 1e999]}', 422, "non_finite_feature"),
])
def test_bodies_that_are_not_a_json_object_are_refused_with_the_right_status(server, body, status, code):
    got_status, got = post(server, body)
    assert (got_status, got["error"]) == (status, code), got


@pytest.mark.parametrize("content_type", [
    "application/vnd+json", "application/vnd.api+json", "text/plain", "application/x-www-form-urlencoded"])
def test_only_application_json_is_accepted(server, content_type):
    status, got = post(server, b'{"features": [5.1, 3.5, 1.4, 0.2]}', content_type)
    assert (status, got["error"]) == (415, "unsupported_media_type")


def test_a_client_leaving_mid_body_is_counted_as_499_not_400(server):
    before = server.value("requests_total", route="/predict", status="499")
    bad_before = server.value("requests_total", route="/predict", status="400")

    async def scenario():
        reader, writer = await connect(server.port)
        writer.write(request_bytes(body=b'{"features": [5.1,', headers={"content-length": "40"}))
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        await asyncio.sleep(0.3)

    asyncio.run(scenario())
    assert server.value("requests_total", route="/predict", status="499") == before + 1
    assert server.value("requests_total", route="/predict", status="400") == bad_before


RAW = {
    "malformed": [
        b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-length: 12abc\r\n\r\n",
        b"GET /\r\n\r\n",                                        # HTTP/0.9
        bytes.fromhex("16030100a5010000a10303") + b"\x00" * 40,  # a TLS ClientHello
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",                      # HTTP/2 prior knowledge
        b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
    ],
    "too_large": [
        b"GET /" + b"a" * 600_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: x\r\n" + b"".join(b"x-h%d: v\r\n" % i for i in range(200)) + b"\r\n",
    ],
}


@pytest.mark.parametrize("kind", sorted(RAW))
def test_requests_hyper_refuses_are_answered_or_closed_and_counted(server, kind):
    before = server.value("connection_errors_total", kind=kind)

    async def send(raw):
        reader, writer = await connect(server.port)
        try:
            writer.write(raw)
            await writer.drain()
        except ConnectionError:
            pass
        response = await read_response(reader, timeout=5)
        writer.close()
        return response

    async def scenario():
        return [await send(raw) for raw in RAW[kind]]

    responses = asyncio.run(scenario())
    for response in responses:
        assert response is None or 400 <= response[0] < 600, response
    # hyper answers first and ends the connection after: the count follows shortly.
    expected = before + len(RAW[kind])
    wait_until(f"connection_errors_total{{kind={kind!r}}} to reach {expected}",
               lambda: server.value("connection_errors_total", kind=kind) == expected, timeout=5)
    # The server is still fine.
    assert http(server.url + "/healthz")[0] == 200
