#!/usr/bin/env python3
"""A loopback webhook receiver for the many-pipelines benchmark: answers every POST with 200 after
an optional delay, on asyncio (one thread, so a delay costs a timer, not a thread), and keeps, per
request path, how many requests came and when the first and last arrived.

    hook-receiver.py PORT OUT [--delay SECONDS]

`GET /__count` answers how many requests arrived so far (itself not counted). On SIGTERM it writes
to OUT, as JSON: {"requests", "first", "last", "max_connections",
"paths": {path: [count, first, last]}} (times are time.time() seconds), and exits.
HTTP/1.1 keep-alive; a request needs Content-Length (loyali-hooks always sends it).
"""
import argparse
import asyncio
import json
import resource
import socket
import time

from lib.http_requests import count_reply, serve_until_signal, take_requests

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("out")
parser.add_argument("--delay", type=float, default=0.0)
args = parser.parse_args()

# A thousand connections and more: lift the descriptor limit as far as the hard limit allows.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

paths = {}
totals = {"requests": 0, "first": None, "last": None, "connections": 0, "max_connections": 0}
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Hook(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""
        totals["connections"] += 1
        totals["max_connections"] = max(totals["max_connections"], totals["connections"])

    def connection_lost(self, exc):
        totals["connections"] -= 1

    def data_received(self, data):
        self.buffer += data
        requests, self.buffer = take_requests(self.buffer)
        for path, _ in requests:
            now = time.time()
            if path == "/__count":
                # The bench asks how many arrived so far; not counted itself.
                self.transport.write(count_reply(totals["requests"]))
                continue
            entry = paths.get(path)
            if entry is None:
                paths[path] = [1, now, now]
            else:
                entry[0] += 1
                entry[2] = now
            totals["requests"] += 1
            totals["first"] = totals["first"] or now
            totals["last"] = now
            if args.delay > 0:
                # Same delay for every request: answers on one connection stay in order.
                asyncio.get_running_loop().call_later(args.delay, self.reply)
            else:
                self.reply()

    def reply(self):
        if not self.transport.is_closing():
            self.transport.write(REPLY)


async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(4096)
    await serve_until_signal(Hook, sock)
    with open(args.out, "w") as out:
        json.dump({
            "requests": totals["requests"], "first": totals["first"], "last": totals["last"],
            "max_connections": totals["max_connections"], "paths": paths,
        }, out)


asyncio.run(main())
