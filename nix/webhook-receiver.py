# The VM test's stand-in for Slack, Discord and the Telegram Bot API
# (nix/tests.nix). Built with pkgs.writers.writePython3, which runs flake8 on
# it at build time; .ci/check-flake runs flake8 the same way.
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

LOG = os.path.join(os.environ["STATE_DIRECTORY"], "requests.jsonl")
TELEGRAM_MESSAGE = {
    "message_id": 1,
    "date": 0,
    "chat": {"id": 42, "type": "private"},
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length).decode("utf-8", "replace")
        line = json.dumps({
            "path": self.path,
            "agent": self.headers.get("user-agent", ""),
            "body": body,
        })
        with open(LOG, "a") as log:
            log.write(line + "\n")
        print(line, flush=True)
        if self.path.startswith("/telegram/"):
            reply = json.dumps({"ok": True, "result": TELEGRAM_MESSAGE})
            kind = "application/json"
        else:
            reply, kind = "ok", "text/plain"
        data = reply.encode()
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print(fmt % args, file=sys.stderr, flush=True)


HTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
