#!/usr/bin/env python3
"""A no-op loyali-hooks transform that does not decode events.

Requests list their keys as type, id, event (docs/plugins.md), so the reply is the id and the
event's text as received. Answers everything read, then writes the replies in one go.
"""
import os

pending = b""
while chunk := os.read(0, 1 << 16):
    *lines, pending = (pending + chunk).split(b"\n")
    replies = []
    for line in lines:
        head, _, event = line.partition(b',"event":')
        if event:
            replies.append(b'{"id":' + head[head.rindex(b":") + 1:] + b',"event":' + event)
        else:
            replies.append(b'{"type":"ready"}')
    if replies:
        os.write(1, b"\n".join(replies) + b"\n")
