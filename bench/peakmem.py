"""Peak memory of a Lambda `bootstrap` serving a stream of events.

Plays the Lambda Runtime API (as ../shared/tools/coldstart.py does, but for
many invocations in one process), hands the binary each event of --event
--count times in turn, then reads the process's VmHWM (peak resident set)
from /proc before stopping it. Prints one JSON object. Standard library only.

    peakmem.py BINARY --event FILE [--event FILE ...] [--count N] [--env K=V ...]
"""
import argparse
import json
import os
import queue
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--event", action="append", required=True)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--env", action="append", default=[])
    a = ap.parse_args()
    events = [open(f, "rb").read() for f in a.event]
    pending = queue.Queue()
    for i in range(a.count):
        pending.put((i, events[i % len(events)]))
    answered = []
    all_done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_response(404); self.end_headers(); return
            try:
                i, body = pending.get_nowait()
            except queue.Empty:
                all_done.wait(60)
                self.send_response(410); self.end_headers(); return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", "req-%d" % i)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:peakmem")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            try:
                status = json.loads(body).get("statusCode")
            except (ValueError, AttributeError):
                status = None
            answered.append(("/error" not in self.path, status, len(body)))
            self.send_response(202); self.end_headers(); self.wfile.write(b"{}")
            if len(answered) == a.count:
                all_done.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % server.server_address[1],
                "AWS_LAMBDA_FUNCTION_NAME": "peakmem", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": env.get("AWS_REGION", "us-east-1")})
    env.update(dict(kv.split("=", 1) for kv in a.env))
    p = subprocess.Popen([a.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = all_done.wait(300)
    if p.poll() is not None:
        raise SystemExit("peakmem: %s exited early (code %s)" % (a.binary, p.returncode))
    status = open("/proc/%d/status" % p.pid).read()
    p.kill(); p.wait()
    hwm = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:"))
    statuses = sorted(set(str(s) for _, s, _ in answered))
    print(json.dumps({"binary": a.binary, "invocations": len(answered), "completed": ok,
                      "peak_rss_mb": round(hwm / 1024, 1), "status_codes": statuses,
                      "largest_response_bytes": max((n for _, _, n in answered), default=0)}))
    # A figure from failed requests would flatter the binary: refuse it.
    if not ok or statuses != ["200"]:
        raise SystemExit("peakmem: not every invocation answered 200")


if __name__ == "__main__":
    main()
