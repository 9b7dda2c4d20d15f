"""An HTTP proxy in front of an S3 server that injects transient faults, for verger's retry
tests: of every `period` requests, one is answered `503 SlowDown` and one has its connection
dropped without an answer; the others are forwarded unchanged.

    python s3_fault_proxy.py <listen-port> <upstream-port> <period> <stats-file> [<rule>]

A period of 0 injects no periodic fault. The stats file holds `<requests> <slowdowns> <drops>`,
rewritten after every request.

A rule `<action>:<skip>:<regex>` acts on the requests whose `<METHOD> <path?query>` matches the
regex (METHOD is `COPY` for a PUT carrying `x-amz-copy-source`; a bulk delete, `POST
/<bucket>?delete`, is followed by the keys it deletes): the first `skip` pass, then
- `fail` answers `403 AccessDenied` (an error clients do not retry) to every later match, as
  if the writer lost access or its storage went away at that point;
- `stall` holds the next match unanswered until the proxy stops, so that the test can kill
  the client while it waits at exactly that request.
`<stats-file>.rule` holds the number of requests the rule acted on, `<stats-file>.log` the
requests it was matched against.
"""

import http.client
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTEN, UPSTREAM, PERIOD, STATS = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
RULE = sys.argv[5].split(":", 2) if len(sys.argv) > 5 else None
RULE_ACTION, RULE_SKIP, RULE_PATTERN = (RULE[0], int(RULE[1]), re.compile(RULE[2])) if RULE else (None, 0, None)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
lock = threading.Lock()
counts = {"requests": 0, "slowdowns": 0, "drops": 0}
rule = {"matches": 0, "hits": 0}

ACCESS_DENIED = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                 b"<Message>Access Denied (injected by the test's fault proxy)</Message></Error>")
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


def rule_applies(method, path, headers, body):
    """Whether the rule acts on this request; counts it."""
    if RULE_PATTERN is None:
        return False
    if method == "PUT" and headers.get("x-amz-copy-source"):
        method = "COPY"
    if method == "POST" and "?delete" in path:
        # A bulk delete (DeleteObjects): the keys it names follow the path.
        path = " ".join([path, *re.findall(r"<Key>([^<]*)</Key>", body.decode("utf-8", "replace"))])
    with lock, open(STATS + ".log", "a") as log:
        log.write(f"{method} {path}\n")
    if not RULE_PATTERN.search(f"{method} {path}"):
        return False
    with lock:
        rule["matches"] += 1
        applies = rule["matches"] > RULE_SKIP and (RULE_ACTION == "fail" or rule["hits"] == 0)
        if applies:
            rule["hits"] += 1
            with open(STATS + ".rule", "w") as f:
                f.write(f'{rule["hits"]}\n')
        return applies


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if rule_applies(self.command, self.path, self.headers, body):
            count()
            if RULE_ACTION == "stall":
                threading.Event().wait()
            self.send_response(403, "Forbidden")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(ACCESS_DENIED)))
            self.end_headers()
            self.wfile.write(ACCESS_DENIED)
            return
        with lock:
            upcoming = counts["requests"] + 1
        if PERIOD and upcoming % PERIOD == 1 % PERIOD:
            count("slowdowns")
            self.send_response(503, "Slow Down")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            self.wfile.write(SLOW_DOWN)
            return
        if PERIOD and upcoming % PERIOD == 2 % PERIOD:
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
