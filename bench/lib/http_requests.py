"""The HTTP/1.1 request framing the bench receivers share (hook-receiver.py, arrivals-receiver.py):
keep-alive, and a body sized by Content-Length, which loyali-hooks always sends; and the loop that
serves until the bench script stops them."""

import asyncio
import signal


def take_requests(buffer):
    """Splits the complete requests off the front of `buffer`: returns ([(path, body), ...], rest),
    rest being the bytes of a request not yet complete."""
    requests = []
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return requests, buffer
        head = buffer[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if len(buffer) < end + 4 + length:
            return requests, buffer
        requests.append((head.split(" ", 2)[1], buffer[end + 4:end + 4 + length]))
        buffer = buffer[end + 4 + length:]


def count_reply(count):
    """The answer to `GET /__count`: how many requests arrived so far, as the body."""
    body = str(count).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def serve_until_signal(protocol, sock):
    """Serves `protocol` on `sock` (bound and listening) until SIGTERM or SIGINT, then stops
    accepting; the caller writes its figures after."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, sock=sock, backlog=4096)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    loop.add_signal_handler(signal.SIGINT, stop.set_result, None)
    await stop
    server.close()
