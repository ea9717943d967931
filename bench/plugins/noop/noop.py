#!/usr/bin/env python3
"""A no-op loyali-hooks transform: decodes every request and sends its event back unchanged.

It uses the batched loop from docs/plugins.md: it answers every line it has read, then writes the
replies in one go, instead of flushing once per line.
"""
import json
import os

pending = b""
while chunk := os.read(0, 1 << 16):
    *lines, pending = (pending + chunk).split(b"\n")
    replies = []
    for line in lines:
        message = json.loads(line)
        if message["type"] == "init":
            replies.append('{"type":"ready"}')
        else:
            replies.append(json.dumps({"id": message["id"], "event": message["event"]}))
    if replies:
        os.write(1, ("\n".join(replies) + "\n").encode())
