"""Local stand-ins for the Slack, Telegram and Discord APIs that Alertmanager posts to.

Each POST is recorded as (path, parsed JSON body) and answered the way the real
service answers, so Alertmanager counts the notification as delivered.

Run as a program (`python3 tests/e2e/mock_receivers.py [PORT]`), it serves on
127.0.0.1:PORT (default 5001) and prints each notification as it arrives, with the
environment to give `model-server stack` so that Alertmanager posts to it.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Recorder:
    """A loopback HTTP server on its own thread that records every POST as
    `self.record(request, body)` gives it and answers what `self.answer(path, n)`
    returns, as (status, JSON payload bytes or b"")."""

    def __init__(self, port=0):
        self.posts = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                entry = recorder.record(self, self.rfile.read(length))
                with recorder._lock:
                    recorder.posts.append(entry)
                    count = len(recorder.posts)
                status, payload = recorder.answer(self.path, count)
                self.send_response(status)
                if payload:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def snapshot(self):
        with self._lock:
            return list(self.posts)


class Receivers(_Recorder):
    """Slack, Telegram and Discord: each POST recorded as (path, parsed JSON body)."""

    def record(self, request, raw):
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        return request.path, body

    def answer(self, path, count):
        if "/telegram/" in path:
            # telebot expects the Bot API envelope with the sent message.
            reply = {
                "ok": True,
                "result": {"message_id": count, "date": 0,
                           "chat": {"id": 0, "type": "private"}, "text": ""},
            }
            return 200, json.dumps(reply).encode()
        if "/discord" in path:
            return 204, b""
        return 200, b"ok"


class RemoteWriteReceiver(_Recorder):
    """A stand-in for a long-term store's remote-write endpoint (Mimir, Thanos
    Receive, VictoriaMetrics): each POST recorded as (path, headers, raw body)."""

    HEADERS = ("content-encoding", "content-type", "x-prometheus-remote-write-version")

    def record(self, request, raw):
        return request.path, {h: request.headers.get(h) for h in self.HEADERS}, raw

    def answer(self, path, count):
        return 204, b""


def snappy_decompress(data):
    """Decodes a snappy block (the raw format remote write uses, not the framed one):
    a varint of the decoded length, then literals and back-references."""
    length, shift, i = 0, 0, 0
    while True:
        byte = data[i]
        i += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    out = bytearray()
    while i < len(data):
        tag = data[i]
        i += 1
        kind = tag & 3
        if kind == 0:  # literal; lengths above 60 follow in 1-4 bytes
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[i:i + extra], "little")
                i += extra
            size += 1
            out += data[i:i + size]
            i += size
            continue
        if kind == 1:
            size = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[i]
            i += 1
        elif kind == 2:
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[i:i + 2], "little")
            i += 2
        else:
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[i:i + 4], "little")
            i += 4
        if offset == 0 or offset > len(out):
            raise ValueError(f"bad snappy back-reference at byte {i}")
        for _ in range(size):  # byte by byte: a copy may overlap what it writes
            out.append(out[-offset])
    if len(out) != length:
        raise ValueError(f"snappy: decoded {len(out)} bytes, header says {length}")
    return bytes(out)


def _headline(body):
    """The title line of a Slack, Discord or Telegram notification."""
    if isinstance(body, dict):
        for attachment in body.get("attachments") or []:
            return attachment.get("title") or ""
        for embed in body.get("embeds") or []:
            return embed.get("title") or ""
        if "text" in body:
            return str(body["text"]).splitlines()[0] if body["text"] else ""
    return json.dumps(body)[:200]


def main(port):
    with Receivers(port) as receivers:
        print("export SLACK_WEBHOOK_URL=" + receivers.url("/slack"))
        print("export DISCORD_WEBHOOK_URL=" + receivers.url("/discord"))
        print("export TELEGRAM_API_URL=" + receivers.url("/telegram"))
        print("export TELEGRAM_BOT_TOKEN=123456:mock TELEGRAM_CHAT_ID=1")
        print("waiting for notifications (Ctrl-C stops)", flush=True)
        shown = 0
        try:
            while True:
                posts = receivers.snapshot()
                for path, body in posts[shown:]:
                    service = path.split("/")[1]
                    print(f"{time.strftime('%H:%M:%S')} {service:<8} {_headline(body)}", flush=True)
                shown = len(posts)
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5001)
