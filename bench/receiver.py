#!/usr/bin/env python3
"""A loopback webhook receiver for loyali-hooks checks.

Verifies every request's X-Loyali-Signature with Stripe's rules (HMAC-SHA256 over "<t>.<body>",
300 s tolerance), counts arrivals per X-Loyali-Delivery id, and answers with the configured
status. Writes one line per request to the log: "<delivery id> <attempt> <status> <sig ok>".

    receiver.py PORT SECRET LOG [--fail-first N] [--status CODE] [--delay SECONDS]

--delay holds each answer that long, so attempts stay in flight (the fault tests kill a node
then).

With PORT 0 the system picks a free port, printed as the first line on stdout.
"""
import argparse, hashlib, hmac, http.server, socketserver, sys, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("secret")
parser.add_argument("log")
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--status", type=int, default=200)
parser.add_argument("--delay", type=float, default=0)
args = parser.parse_args()
counts, lock = {}, threading.Lock()
log = open(args.log, "a", buffering=1)

def verify(header, body):
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    sigs = [v for k, v in (p.split("=", 1) for p in header.split(",")) if k == "v1"]
    t = int(parts["t"])
    if abs(time.time() - t) > 300:
        return False
    expected = hmac.new(args.secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in sigs)

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        delivery = self.headers.get("X-Loyali-Delivery", "-")
        ok = verify(self.headers.get("X-Loyali-Signature", ""), body)
        with lock:
            counts[delivery] = counts.get(delivery, 0) + 1
            n = counts[delivery]
        status = 500 if n <= args.fail_first else args.status
        if not ok:
            status = 401
        reply = b'{"received":true}'
        if args.delay > 0:
            time.sleep(args.delay)
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        log.write(f"{delivery} {self.headers.get('X-Loyali-Attempt')} {status} {ok}\n")
    def log_message(self, *a):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # A sender killed mid-request (the crash-safety check does that on purpose) resets its
        # connections; that is expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

server = Server(("127.0.0.1", args.port), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
