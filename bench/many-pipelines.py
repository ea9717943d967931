#!/usr/bin/env python3
"""Write N pipeline files, one per customer integration, for the many-subscriptions benchmark.

    bench/many-pipelines.py N DIR [URL] [--source stdin|http|file|mixed] [--listen HOST:PORT]
                            [--shape fifth|fairness|all|mixed] [--max-in-flight N] [--hosts H]

Each pipeline signs with Standard Webhooks (secret from $BENCH_SECRET) and has one http sink
posting to URL/hook/<i> (default http://127.0.0.1:18190). With `--hosts H`, pipeline i posts to
the (i % H)-th of H destinations on loopback: URL's port + i % H, so H receivers on consecutive
ports each see N/H sinks. Deterministic. What each subscribes to:
- fifth (default): 3 of the 15 catalogued event types, so each event reaches a fifth of them;
- fairness: pipeline 0 points.earned only, every other one tier.upgraded only (one sink with a
  deep backlog beside many with a little work);
- all: every event;
- mixed: filters of every kind in turn: a list of 3 types, a wildcard group (`points.*`), `*`
  with an `exclude`, a list with a `filter.where` on the data, and one type with a `where` that
  compares a number; about a fifth to a third of the events reach each pipeline.

Sources (default stdin, for `run --input`), as `serve` would be given them:
- http: `source: { type: http, listen: LISTEN, path: /ingest/<i % 100>, token: "${INGEST_TOKEN}" }`,
  so 100 ingest paths on one listener, each feeding N/100 pipelines;
- file: `source: { type: file, path: DIR/events/<i % 100>.jsonl }` (the files are created empty);
- mixed: even pipelines http, odd ones file.
"""
import argparse
import importlib.util
import os

# The catalogue's 15 types, in catalogue order, from the events generator beside this script.
_spec = importlib.util.spec_from_file_location("gen_events", os.path.join(os.path.dirname(__file__), "gen-events.py"))
_gen_events = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gen_events)
TYPES = _gen_events.TYPES


def source(kind, i, folder, listen):
    if kind == "mixed":
        kind = "http" if i % 2 == 0 else "file"
    if kind == "http":
        return f"source: {{ type: http, listen: \"{listen}\", path: /ingest/{i % 100}, token: \"${{INGEST_TOKEN}}\" }}\n"
    if kind == "file":
        path = os.path.join(os.path.abspath(folder), "events", f"{i % 100}.jsonl")
        if not os.path.exists(path):
            open(path, "w").close()
        return f"source: {{ type: file, path: \"{path}\" }}\n"
    return "source: { type: stdin }\n"


def mixed_filter(i):
    """The `filter:` block of pipeline i for the mixed shape: five kinds of filter in turn."""
    kind = (i // 5) % 5
    if kind == 0:
        first = (i % 5) * 3
        return f"filter:\n  events: [{', '.join(TYPES[first:first + 3])}]\n"
    if kind == 1:
        group = ["points", "redemption", "tier", "customer", "achievement"][i % 5]
        return f"filter:\n  events: [\"{group}.*\"]\n"
    if kind == 2:
        excluded = ", ".join(TYPES[j] for j in range(15) if j % 5 != i % 5)
        return f"filter:\n  events: [\"*\"]\n  exclude: [{excluded}]\n"
    if kind == 3:
        first = (i % 5) * 3
        return (f"filter:\n  events: [{', '.join(TYPES[first:first + 3])}]\n"
                f"  where: 'exists(data.customer_id) and not starts_with(data.customer_id, \"cust_9\")'\n")
    return f"filter:\n  events: [{TYPES[i % 15]}, {TYPES[(i + 7) % 15]}, {TYPES[(i + 11) % 15]}]\n  where: 'data.points >= 0 or not exists(data.points)'\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", type=int)
    parser.add_argument("folder")
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:18190")
    parser.add_argument("--source", choices=["stdin", "http", "file", "mixed"], default="stdin")
    parser.add_argument("--listen", default="127.0.0.1:18191")
    parser.add_argument("--shape", choices=["fifth", "fairness", "all", "mixed"], default="fifth")
    parser.add_argument("--max-in-flight", type=int)
    parser.add_argument("--hosts", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    if args.source in ("file", "mixed"):
        # Beside the pipeline files, not in the folder `validate` and `serve` are given.
        os.makedirs(os.path.join(args.folder, "events"), exist_ok=True)
    for i in range(args.count):
        if args.shape == "fairness":
            events = "points.earned" if i == 0 else "tier.upgraded"
        else:
            first = (i % 5) * 3
            events = ", ".join(TYPES[first:first + 3])
        subscription = "" if args.shape == "all" else f"filter:\n  events: [{events}]\n"
        if args.shape == "mixed":
            subscription = mixed_filter(i)
        url = args.url
        if args.hosts > 1:
            scheme, rest = url.split("://", 1)
            host, port = rest.rsplit(":", 1)
            url = f"{scheme}://{host}:{int(port) + i % args.hosts}"
        limit = f"    max_in_flight: {args.max_in_flight}\n" if args.max_in_flight else ""
        with open(os.path.join(args.folder, f"customer-{i:05d}.yaml"), "w") as out:
            out.write(
                f"pipeline: customer-{i:05d}\n"
                + source(args.source, i, args.folder, args.listen)
                + subscription
                + f"sign:\n  scheme: standard-webhooks\n  secrets: [\"${{BENCH_SECRET}}\"]\n"
                f"sinks:\n  hook:\n    type: http\n    url: {url}/hook/{i}\n"
                + limit
            )


if __name__ == "__main__":
    main()
