#!/usr/bin/env python3
"""A loopback webhook receiver that keeps every arrival: its time and, from the JSON body, the
event's `data.customer_id` and `data.seq` (for rate and ordering benchmarks). Answers 200 at once,
on asyncio (one thread), HTTP/1.1 keep-alive.

    arrivals-receiver.py OUT [--fail-first-of-every N]

Prints its port (picked by the system) as the first line on stdout. With --fail-first-of-every N,
the first attempt of every Nth event (by data.seq) gets a 500. `GET /__count` answers how many
requests arrived so far. On SIGTERM it writes to OUT, as JSON, a list of
[time.time() seconds, customer_id, seq, status] per request, in arrival order, and exits.
"""
import argparse
import asyncio
import json
import socket
import time

from lib.http_requests import count_reply, serve_until_signal, take_requests

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--fail-first-of-every", type=int, default=0)
args = parser.parse_args()

arrivals = []
seen = set()


def answer(status):
    reason = b"OK" if status == 200 else b"Internal Server Error"
    return b"HTTP/1.1 %d %s\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok" % (status, reason)


class Hook(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        requests, self.buffer = take_requests(self.buffer)
        for path, body in requests:
            now = time.time()
            if path == "/__count":
                self.transport.write(count_reply(len(arrivals)))
                continue
            key, seq = None, None
            try:
                data = json.loads(body).get("data", {})
                key, seq = data.get("customer_id"), data.get("seq")
            except ValueError:
                pass
            status = 200
            every = args.fail_first_of_every
            if every and isinstance(seq, int) and seq % every == 0 and seq not in seen:
                seen.add(seq)
                status = 500
            arrivals.append([now, key, seq, status])
            self.transport.write(answer(status))


async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    print(sock.getsockname()[1], flush=True)
    await serve_until_signal(Hook, sock)
    with open(args.out, "w") as out:
        json.dump(arrivals, out)


asyncio.run(main())
