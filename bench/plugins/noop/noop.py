import json, os
pending = b""
while True:
    chunk = os.read(0, 1 << 16)
    if not chunk:
        break
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
