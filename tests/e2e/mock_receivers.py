"""Local stand-ins for the Slack, Telegram and Discord APIs that Alertmanager posts to.

Each POST is recorded as (path, parsed JSON body) and answered the way the real
service answers, so Alertmanager counts the notification as delivered.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receivers:
    def __init__(self):
        self.posts = []
        self._lock = threading.Lock()
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with receivers._lock:
                    receivers.posts.append((self.path, body))
                if "/telegram/" in self.path:
                    # telebot expects the Bot API envelope with the sent message.
                    reply = {
                        "ok": True,
                        "result": {"message_id": len(receivers.posts), "date": 0,
                                   "chat": {"id": 0, "type": "private"}, "text": ""},
                    }
                    self._answer(200, json.dumps(reply).encode())
                elif "/discord" in self.path:
                    self._answer(204, b"")
                else:
                    self._answer(200, b"ok")

            def _answer(self, status, payload):
                self.send_response(status)
                if payload:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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


class RemoteWriteReceiver:
    """A stand-in for a long-term store's remote-write endpoint (Mimir, Thanos
    Receive, VictoriaMetrics): records each POST's headers and raw body, answers 204."""

    HEADERS = ("content-encoding", "content-type", "x-prometheus-remote-write-version")

    def __init__(self):
        self.posts = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {h: self.headers.get(h) for h in RemoteWriteReceiver.HEADERS}
                with receiver._lock:
                    receiver.posts.append((self.path, headers, body))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
