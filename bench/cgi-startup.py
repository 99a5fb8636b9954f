#!/usr/bin/env python3
"""bench/cgi-startup.py - time from exec to first byte of clawcgi as a CGI
program (one process per request, as on shared hosting).

    python3 bench/cgi-startup.py [BINARY] [-n RUNS]

Runs BINARY (default build/clawcgi) RUNS times (default 200) for each of
GET /healthz and a POST /v1/chat/completions to the "echo" provider, with
a CGI environment and a throwaway config, and prints the median time from
spawning it to the first byte on its stdout.  /bin/true is timed the same
way (from spawn to its exit) in the same run: machines here are shared and
noisy, so compare the ratio, not the milliseconds.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CONFIG = """{
  gateway: { auth: { token: "made-up-bench-token" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", model: "echo/echo" } ] },
  models: { providers: { echo: { api: "echo" } } },
}
"""


def first_byte_ms(argv, env, body, runs):
    times = []
    for _ in range(runs):
        r, w = os.pipe()
        start = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=w,
                             stderr=subprocess.DEVNULL)
        os.close(w)
        if body:
            p.stdin.write(body)
        p.stdin.close()
        os.read(r, 1)  # the first byte, or b"" at exit
        times.append((time.perf_counter() - start) * 1000)
        while os.read(r, 65536):
            pass
        os.close(r)
        p.wait()
    return statistics.median(times)


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(top, "build", "clawcgi"))
    ap.add_argument("-n", type=int, default=200, help="runs per request")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        sys.exit("bench/cgi-startup.py: %s is not built" % a.binary)
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "clawcgi.json5")
        with open(conf, "w") as f:
            f.write(CONFIG)
        base = {"GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "/clawcgi.cgi",
                "CLAWCGI_CONFIG": conf, "REMOTE_ADDR": "127.0.0.1",
                "HTTP_AUTHORIZATION": "Bearer made-up-bench-token", "PATH": "/usr/bin:/bin"}
        health = dict(base, REQUEST_METHOD="GET", PATH_INFO="/healthz", REQUEST_URI="/healthz")
        body = b'{"messages":[{"role":"user","content":"hi"}]}'
        chat = dict(base, REQUEST_METHOD="POST", PATH_INFO="/v1/chat/completions",
                    REQUEST_URI="/v1/chat/completions", CONTENT_TYPE="application/json",
                    CONTENT_LENGTH=str(len(body)))
        t_true = first_byte_ms(["/bin/true"], base, b"", a.n)
        t_health = first_byte_ms([a.binary], health, b"", a.n)
        t_chat = first_byte_ms([a.binary], chat, body, a.n)
    print("median of %d runs, exec to first byte:" % a.n)
    print("  /bin/true (exec to exit)  %6.2f ms" % t_true)
    print("  GET /healthz              %6.2f ms  (%.1f x /bin/true)" % (t_health, t_health / t_true))
    print("  POST chat, echo provider  %6.2f ms  (%.1f x /bin/true)" % (t_chat, t_chat / t_true))


if __name__ == "__main__":
    main()
