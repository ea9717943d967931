#!/usr/bin/env python3
"""csv-analytics: a loyali-hooks sink plugin (protocol: docs/plugins.md).

Appends one CSV row per delivery to `path`, writing the header when the file is new. Delivery
ids already in the file are skipped (and acknowledged), so retries and replays never add a
duplicate row. Rows are appended with one write under an exclusive lock, so two pipelines may
share a file.
"""
import csv
import fcntl
import io
import json
import os
import sys

DELIVERY_FIELDS = {"delivery_id": "id", "pipeline": "pipeline", "sink": "sink", "attempt": "attempt"}


class Table:
    def __init__(self, config):
        workdir = os.environ.get("LOYALI_HOOKS_WORKDIR", ".")
        self.path = os.path.join(workdir, config["path"])
        self.columns = [str(column) for column in config["columns"]]
        self.fsync = config["fsync"]
        self.seen = set()
        # The file and its header are written with the first row, not at start-up: `validate`
        # starts the plugin only to check it, and must not leave an empty table behind.
        self.needs_header = True
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            self.needs_header = False
            with open(self.path, newline="", encoding="utf-8") as existing:
                rows = csv.reader(existing)
                header = next(rows, [])
                if header != self.columns:
                    raise SystemExit(f"{self.path} has columns {header}, not the configured {self.columns}")
                if "delivery_id" in header:
                    index = header.index("delivery_id")
                    self.seen = {row[index] for row in rows if len(row) > index}


    def append(self, rows):
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows(rows)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, text.getvalue().encode("utf-8"))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def cell(self, column, delivery, envelope):
        if column in DELIVERY_FIELDS:
            value = delivery.get(DELIVERY_FIELDS[column])
        else:
            value = envelope
            for key in column.split("."):
                value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def deliver(self, delivery):
        if delivery["id"] in self.seen:
            return
        envelope = json.loads(delivery["body"])
        row = [self.cell(column, delivery, envelope) for column in self.columns]
        if self.needs_header:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self.append([self.columns, row])
            self.needs_header = False
        else:
            self.append([row])
        self.seen.add(delivery["id"])


def main():
    table = None
    out = sys.stdout
    for line in sys.stdin:
        message = json.loads(line)
        if message["type"] == "init":
            table = Table(message["config"])
            out.write('{"type":"ready"}\n')
        else:
            try:
                table.deliver(message["delivery"])
                reply = {"id": message["id"], "ok": True}
            except OSError as problem:
                # A full disk or a permissions problem may clear up: retry on the sink's schedule.
                reply = {"id": message["id"], "error": f"{table.path}: {problem.strerror}", "retry": True}
            except ValueError as problem:
                reply = {"id": message["id"], "error": f"body is not JSON: {problem}", "retry": False}
            out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
