#!/usr/bin/env python3
"""Delivery gap during a reload (issue 10 §6): `serve` runs PIPELINES generated pipelines
(bench/many-pipelines.py --source mixed) whose http sinks post to a receiver here; events are
POSTed steadily to one ingest path (so a tenth of the http-source pipelines deliver each one),
then one other pipeline's file is changed and `POST /api/reload` is sent. Prints the longest gap
between arrivals for the steady pipelines before the reload (the same-run baseline) and around
it, and how long the reload call took.

    bench/reload-gap.py BIN PIPELINES WORKDIR [--rate EVENTS_PER_S] [--seconds S]
"""
import argparse, http.client, http.server, json, os, socketserver, subprocess, sys, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("bin")
parser.add_argument("pipelines", type=int)
parser.add_argument("work")
parser.add_argument("--rate", type=float, default=100)
parser.add_argument("--seconds", type=float, default=4)
args = parser.parse_args()

arrivals, lock = [], threading.Lock()


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            arrivals.append((time.monotonic(), self.path))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024


receiver = Server(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
port = receiver.server_address[1]
folder = os.path.join(args.work, "reload-pipelines")
listen, admin = "127.0.0.1:18193", "127.0.0.1:18194"
here = os.path.dirname(os.path.abspath(__file__))
subprocess.run([sys.executable, os.path.join(here, "many-pipelines.py"), str(args.pipelines), folder,
                f"http://127.0.0.1:{port}", "--source", "mixed", "--listen", listen], check=True)
env = dict(os.environ, BENCH_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", INGEST_TOKEN="bench-ingest-token",
           LOYALI_HOOKS_ADMIN_TOKEN="bench-admin-token")
state = os.path.join(args.work, "reload-state")
serve = subprocess.Popen([args.bin, "serve", folder, "--state", state, "--admin", admin],
                         env=env, stderr=open(os.path.join(args.work, "reload-serve.log"), "w"))


def request(address, method, path, body=b"", headers=None):
    host, port_text = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port_text), timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


deadline = time.monotonic() + 60
while True:
    try:
        if request(admin, "GET", "/readyz") == 200:
            break
    except OSError:
        pass
    if serve.poll() is not None or time.monotonic() > deadline:
        sys.exit("serve did not become ready")
    time.sleep(0.05)

# /ingest/0 feeds the pipelines i % 100 == 0 (all http sources), which take customer.created.
steady = {f"/hook/{i}" for i in range(0, args.pipelines, 100)}
stop = threading.Event()


def post_events():
    host, port_text = listen.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port_text), timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer bench-ingest-token"}
    number, start = 0, time.monotonic()
    while not stop.is_set():
        body = json.dumps({"id": f"evt_reload_{number}", "event_type": "customer.created",
                           "data": {"customer_id": f"c{number}", "email": "a@example.com"}})
        connection.request("POST", "/ingest/0", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 202:
            sys.exit(f"ingest answered {response.status}")
        number += 1
        time.sleep(max(0, start + number / args.rate - time.monotonic()))


poster = threading.Thread(target=post_events)
poster.start()
time.sleep(args.seconds)
# Change one file-source pipeline (odd index), not one of the steady ones.
changed = os.path.join(folder, "customer-00001.yaml")
with open(changed) as f:
    text = f.read()
with open(changed, "w") as f:
    f.write(text.replace("/hook/1\n", "/hook/1-changed\n"))
reload_start = time.monotonic()
status = request(admin, "POST", "/api/reload", headers={"Authorization": "Bearer bench-admin-token"})
reload_end = time.monotonic()
time.sleep(args.seconds)
stop.set()
poster.join()
time.sleep(1)
serve.terminate()
serve.wait()
receiver.shutdown()
if status != 200:
    sys.exit(f"reload answered {status}")

times = sorted(t for t, path in arrivals if path in steady)


def longest_gap(start, end):
    inside = [t for t in times if start <= t <= end]
    return max((b - a for a, b in zip(inside, inside[1:])), default=float("nan"))


before = longest_gap(times[0] + 0.5, reload_start - 0.2)
around = longest_gap(reload_start - 0.2, reload_end + 1.0)
print(f"reload of {args.pipelines} pipelines (1 file changed): the reload call took {1000 * (reload_end - reload_start):.0f} ms")
print(f"steady deliveries ({len(steady)} pipelines, {args.rate:g} events/s each): {len(times)} arrived")
print(f"longest gap between arrivals: {1000 * before:.0f} ms before the reload (baseline), {1000 * around:.0f} ms around it")
