"""A real HTTP receiver for outbound webhook tests: Python's http.server
on loopback in a thread of the test process, answering each POST with
the next status of a script (then 200), optionally after a delay, and
recording every request (path, headers, raw body)."""
import hashlib
import hmac
import http.server
import json
import threading
import time


class Receiver:
    def __init__(self, tc, statuses=(), delay=0.0, port=0):
        self.tc = tc
        self.statuses = list(statuses)
        self.delay = delay
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body, "status": status})
                if outer.delay:
                    time.sleep(outer.delay)
                out = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        tc.addCleanup(self.stop)

    def stop(self):
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def events(self):
        """Every request's parsed body, in arrival order."""
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def delivered(self):
        """Event ids of the requests answered 2xx."""
        with self.lock:
            return [json.loads(r["body"])["id"] for r in self.requests if 200 <= r["status"] < 300]


def signature_ok(secret, req):
    want = "sha256=" + hmac.new(secret.encode(), req["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(req["headers"].get("X-Tickler-Signature", ""), want)
