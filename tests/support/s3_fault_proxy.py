"""An HTTP proxy in front of an S3 server that injects transient faults, for verger's retry
tests: of every `period` requests, one is answered `503 SlowDown` and one has its connection
dropped without an answer; the others are forwarded unchanged.

    python s3_fault_proxy.py <listen-port> <upstream-port> <period> <stats-file>

The stats file holds `<requests> <slowdowns> <drops>`, rewritten after every request.
"""

import http.client
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTEN, UPSTREAM, PERIOD, STATS = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
lock = threading.Lock()
counts = {"requests": 0, "slowdowns": 0, "drops": 0}

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")


def count(kind=None):
    with lock:
        counts["requests"] += 1
        if kind:
            counts[kind] += 1
        number = counts["requests"]
        with open(STATS, "w") as f:
            f.write(f'{counts["requests"]} {counts["slowdowns"]} {counts["drops"]}\n')
        return number


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            upcoming = counts["requests"] + 1
        if upcoming % PERIOD == 1 % PERIOD:
            count("slowdowns")
            self.send_response(503, "Slow Down")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            self.wfile.write(SLOW_DOWN)
            return
        if upcoming % PERIOD == 2 % PERIOD:
            count("drops")
            self.close_connection = True
            return
        count()
        upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", LISTEN), Proxy).serve_forever()
