#!/usr/bin/env python3
"""A no-op loyali-hooks transform: decodes every request and sends its event back unchanged.

It uses the batched loop from docs/plugins.md: it decodes every complete line it has read, answers
them all, then writes the replies in one go instead of flushing once per line.
"""
import json
import os

decode, encode = json.JSONDecoder().decode, json.JSONEncoder().encode
pending = b""
while chunk := os.read(0, 1 << 16):
    complete, _, pending = (pending + chunk).rpartition(b"\n")
    if not complete:
        continue
    replies = []
    for line in complete.decode().split("\n"):
        message = decode(line)
        if message["type"] == "init":
            replies.append('{"type":"ready"}')
        else:
            replies.append('{"id":%d,"event":%s}' % (message["id"], encode(message["event"])))
    os.write(1, ("\n".join(replies) + "\n").encode())
