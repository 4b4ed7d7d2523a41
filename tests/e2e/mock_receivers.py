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
