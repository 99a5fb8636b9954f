#!/usr/bin/env python3
"""bench/bench.py - clawcgi's speed and memory figures (make bench).

    python3 bench/bench.py [--bin build/clawcgi] [--hello build/bench-hello]
                           [--json bench-results.json] [SECTION...]

Every figure is a ratio or a difference taken in one run against a
reference measured in the same run: the machines here are shared and
noisy, so absolute numbers say little.  Prints a table (figure, value,
target, ok) and writes the same rows as JSON.  Sections (all by default):

  throughput  echo agent behind lighttpd vs a minimal libfcgi responder
              (bench/hello.c) behind the same lighttpd config; stateless,
              one session, distinct sessions; stateless with /metrics'
              counters on against off (runs in A-B-B-A order); stateless
              and distinct sessions with the usage log off, against on
  memory      a worker's RSS after 20 MiB bodies on every thread vs idle

Each server, upstream and client the bench starts is stopped by PID at the
end.  Load comes from wrk (Debian's package); the set-up installs it.
"""
import argparse
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from streams import children, fds_and_rss, pct, rss_kib, run_streams  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-made-up-token"
PROCS = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv, **kw):
    """A process in a group of its own, stopped at exit."""
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    PROCS.append(p)
    return p


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    if p in PROCS:
        PROCS.remove(p)


@atexit.register
def stop_all():
    for p in list(PROCS):
        stop(p)


def wait_port(port, secs=20):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def write_upstream_config(work, name, port, agent, model, threads=0):
    """WORK/NAME.json5: write_config plus an agent AGENT answering through an
    openai-completions provider "up" at 127.0.0.1:PORT with model MODEL."""
    cfg = os.path.join(work, name + ".json5")
    write_config(cfg, os.path.join(work, name + ".db"), threads=threads,
                 extra_agents=', { id: "%s", model: "up/%s" }' % (agent, model),
                 extra_providers=', up: { api: "openai-completions", baseUrl: '
                 '"http://127.0.0.1:%d/v1", apiKey: "made-up-key" }' % port)
    return cfg


def write_config(path, store, threads=0, extra_providers="", extra_agents="",
                 endpoint_extra="", metrics=False, usage=True):
    with open(path, "w") as f:
        f.write("""{
  gateway: { auth: { mode: "token", token: "%s" },
    http: { endpoints: { chatCompletions: { enabled: true %s }, metrics: { enabled: %s } } } },
  agents: { defaults: { historyLimit: 40 },
    list: [ { id: "main", default: true, model: "echo/echo" } %s ] },
  models: { providers: { echo: { api: "echo" } %s } },
  session: { store: "%s" },
  usage: { enabled: %s },
  %s
}
""" % (TOKEN, endpoint_extra, "true" if metrics else "false", extra_agents, extra_providers, store,
       "true" if usage else "false", "server: { threads: %d }," % threads if threads else ""))


class Lighttpd:
    """lighttpd from the shipped etc/lighttpd/clawcgi.conf (via
    scripts/lighttpd-conf) with BINARY as its FastCGI backend."""

    def __init__(self, work, binary, config, procs=2, extra=""):
        self.dir = tempfile.mkdtemp(prefix="lighttpd-", dir=work)
        self.port = free_port()
        conf = subprocess.run(
            ["sh", os.path.join(TOP, "scripts/lighttpd-conf"), str(self.port),
             self.dir, binary, config], check=True, capture_output=True,
            text=True).stdout
        # lighttpd starts min-procs (4 unless set) and adds processes only
        # when their sockets' queues overflow: start them all
        conf = re.sub(r'"min-procs" => \d+,?', '', conf)
        conf = re.sub(r'"max-procs" => \d+',
                      '"max-procs" => %d, "min-procs" => %d' % (procs, procs), conf)
        conf += extra
        path = os.path.join(self.dir, "lighttpd.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.proc = start(["lighttpd", "-D", "-f", path],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def backends(self):
        return children(self.proc.pid)

    def url(self, path="/v1/chat/completions"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        stop(self.proc)


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url, args, conns=16, secs=5, threads=2):
    """Run wrk with bench/wrk-chat.lua; returns rps, p50, p99, max (ms)."""
    out = subprocess.run(
        ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % secs, "--latency",
         "-s", os.path.join(TOP, "bench/wrk-chat.lua"), url, "--"] + args,
        check=True, capture_output=True, text=True).stdout
    res = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % pct, out, re.M)
        res[key] = float(m.group(1)) * UNIT[m.group(2)]
    m = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    res["max"] = float(m.group(1)) * UNIT[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    if bad or errs:
        raise RuntimeError("wrk saw failures against %s:\n%s" % (url, out))
    return res


ROWS = []


def row(name, value, unit, target=None, ok=None, note=""):
    ROWS.append({"figure": name, "value": round(value, 3), "unit": unit,
                 "target": target, "ok": ok, "note": note})


def section_throughput(a, work):
    store = os.path.join(work, "throughput.db")
    cfg = os.path.join(work, "throughput.json5")
    write_config(cfg, store)
    # the same with gateway.http.endpoints.metrics on: every request counts
    # into the shared segment (src/metrics.c)
    cfg_m = os.path.join(work, "throughput-metrics.json5")
    write_config(cfg_m, store, metrics=True)
    # and with the usage log off (it is on by default: a row per request)
    cfg_u = os.path.join(work, "throughput-nousage.json5")
    write_config(cfg_u, store, usage=False)
    # Every stack runs from the start; each round loads them one after the
    # other for a.secs / 2 s (at least 2), the limit's responder first.  A
    # figure is the median over the rounds of its ratio to the limit of its
    # own round (or to its pair's), so a host that speeds up or slows down
    # between runs moves both sides of a ratio alike.
    stacks = (("limit", a.hello, None, cfg),
              ("stateless", a.bin, "stateless", cfg),
              ("metrics on", a.bin, "stateless", cfg_m),
              ("one session", a.bin, "one", cfg),
              ("distinct sessions", a.bin, "distinct", cfg),
              ("stateless no usage", a.bin, "stateless", cfg_u),
              ("distinct no usage", a.bin, "distinct", cfg_u))
    srvs = {name: Lighttpd(work, binary, conf) for name, binary, _, conf in stacks}
    secs = max(2, a.secs // 2)
    for name, _, mode, _ in stacks:
        wrk(srvs[name].url(), [TOKEN, mode or "stateless"], secs=1)  # warm-up
    rounds = []
    for _ in range(a.rounds):
        rounds.append({name: wrk(srvs[name].url(), [TOKEN, mode or "stateless"], secs=secs)
                       for name, _, mode, _ in stacks})
    for srv in srvs.values():
        srv.stop()

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    def ratio(name, base):
        return median([r[name]["rps"] / r[base]["rps"] for r in rounds])

    def mid(name, key):
        return median([r[name][key] for r in rounds])

    limit = mid("limit", "rps")
    row("limit: libfcgi responder", limit, "req/s",
        note="bench/hello.c, 2 procs; median of %d rounds of %d s" % (a.rounds, secs))
    for name, target in (("stateless", 0.85), ("one session", 0.5),
                         ("distinct sessions", 0.5)):
        r = ratio(name, "limit")
        row("echo %s / limit" % name, r, "x", ">= %.2f" % target, r >= target,
            "%.0f req/s; rounds %s" % (mid(name, "rps"), " ".join(
                "%.2f" % (x[name]["rps"] / x["limit"]["rps"]) for x in rounds)))
        if name != "stateless":
            p99 = mid(name, "p99")
            row("echo %s p99" % name, p99, "ms", "<= 10", p99 <= 10,
                "max %.1f ms" % max(x[name]["max"] for x in rounds))
    r = ratio("metrics on", "stateless")
    row("echo stateless metrics on / off", r, "x", ">= 0.95", r >= 0.95,
        "%.0f vs %.0f req/s" % (mid("metrics on", "rps"), mid("stateless", "rps")))
    for name, base in (("stateless", "stateless no usage"),
                       ("distinct sessions", "distinct no usage")):
        r = ratio(name, base)
        row("echo %s usage log on / off" % name, r, "x",
            note="%.0f vs %.0f req/s" % (mid(name, "rps"), mid(base, "rps")))
    seg = re.search(r"^metrics: enabled, segment (\S+)", subprocess.run(
        [a.bin, "check-config"], env=dict(os.environ, CLAWCGI_CONFIG=cfg_m),
        capture_output=True, text=True).stdout, re.M)
    if seg and os.path.exists(seg.group(1)):
        os.unlink(seg.group(1))
    wal = store + "-wal"
    size = os.path.getsize(wal) / 2**20 if os.path.exists(wal) else 0
    row("store WAL after the session runs", size, "MiB", "<= 64", size <= 64)


def section_memory(a, work):
    store = os.path.join(work, "memory.db")
    cfg = os.path.join(work, "memory.json5")
    write_config(cfg, store)
    srv = Lighttpd(work, a.bin, cfg, procs=1)
    wrk(srv.url(), [TOKEN, "stateless"], conns=8, secs=1)
    (pid,) = srv.backends()
    idle = rss_kib(pid)
    # Just under the 20 MiB limit: one long message, or many short ones
    # (a long conversation sent whole), each request a session of its own.
    bodies = []
    for i, (count, size) in enumerate(((1, 20 * 2**20 - 4096),
                                       (16000, 1200))):
        msgs = [{"role": ("user", "assistant")[j % 2] if j < count - 1
                 else "user", "content": "%d " % j + "x" * size}
                for j in range(count)]
        path = os.path.join(work, "big%d.json" % i)
        with open(path, "w") as f:
            json.dump({"model": "openclaw", "messages": msgs}, f)
        bodies.append(path)
    peak = 0
    for round_ in range(4):
        curls = [start(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                        "-H", "Authorization: Bearer " + TOKEN,
                        "-H", "Content-Type: application/json",
                        "-H", "x-openclaw-session-key: big-%d-%d" % (round_, t),
                        "--data-binary", "@" + bodies[(round_ + t) % 2],
                        srv.url()],
                       stdout=subprocess.PIPE) for t in range(8)]
        while any(c.poll() is None for c in curls):
            peak = max(peak, rss_kib(pid))
            time.sleep(0.02)
        for c in curls:
            code = c.communicate()[0].decode()
            PROCS.remove(c)
            if code != "200":
                raise RuntimeError("a 20 MiB body got %s" % code)
    wrk(srv.url(), [TOKEN, "stateless"], conns=8, secs=1)
    after = rss_kib(pid)
    srv.stop()
    r = after / idle
    row("worker RSS after 20 MiB bodies / idle", r, "x", "<= 2", r <= 2,
        "idle %d KiB, after %d KiB (peak seen %d KiB)" % (idle, after, peak))


FIXED_BODY = ('{"id":"chatcmpl-fixed","object":"chat.completion","created":1,'
              '"model":"fixed","choices":[{"index":0,"finish_reason":"stop",'
              '"message":{"role":"assistant","content":"Hello from the bench."}}],'
              '"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}')


def start_nginx_upstream(work):
    """nginx answering every POST .../chat/completions with FIXED_BODY: a
    fast local upstream.  Returns its port."""
    d = tempfile.mkdtemp(prefix="nginx-", dir=work)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(d)s;
  server {
    listen 127.0.0.1:%(port)d;
    keepalive_requests 1000000;
    location / {
      default_type application/json;
      return 200 '%(body)s';
    }
  }
}
""" % {"d": d, "port": port, "body": FIXED_BODY})
    start(["nginx", "-p", d, "-c", conf], stdout=subprocess.DEVNULL,
          stderr=subprocess.DEVNULL)
    wait_port(port)
    return port


def start_stream_upstream(work):
    pf = os.path.join(work, "upstream.port")
    start([sys.executable, os.path.join(TOP, "bench/stream_upstream.py"),
           "--port-file", pf])
    end = time.time() + 10
    while not os.path.exists(pf):
        if time.time() > end:
            raise RuntimeError("the stream upstream did not start")
        time.sleep(0.05)
    with open(pf) as f:
        return int(f.read())


def section_streams(a, work):
    """1,000 clients streaming at once from a model that takes 30 s."""
    uport = start_stream_upstream(work)
    procs, threads = a.stream_procs, a.stream_threads
    cfg = write_upstream_config(work, "streams", uport, "slow", "ticks-30-1000",
                                threads=threads)
    srv = Lighttpd(work, a.bin, cfg, procs=procs)
    # wait for every backend to be up
    end = time.time() + 20
    while len(srv.backends()) < procs and time.time() < end:
        time.sleep(0.1)
    idle = fds_and_rss(srv.backends())
    res, busy = run_streams(srv.port, a.streams, "openclaw/slow", TOKEN,
                            during=lambda: fds_and_rss(srv.backends()),
                            sample_after=15)
    srv.stop()
    ok = [r for r in res if r["status"] == 200 and r["done"]]
    delays = [d for r in ok for d in r["delays"]]
    firsts = [r["first"] for r in ok if r["first"] is not None]
    row("streams at once, all answered whole", len(ok), "streams",
        ">= %d" % a.streams, len(ok) >= a.streams,
        "%d processes x %s threads" % (procs, threads or "default"))
    late = max(firsts) if firsts else float("nan")
    row("slowest first delta", late, "s", "<= 5", late <= 5,
        "a stream kept waiting for a free worker starts 30 s late")
    row("delta delay p99", pct(delays, 0.99), "ms", "<= 250",
        pct(delays, 0.99) <= 250, "p50 %.1f ms, %d deltas" %
        (pct(delays, 0.5), len(delays)))
    mib = busy["rss_kib"] / 1024
    row("clawcgi RSS, all streams open", mib, "MiB", "<= 256", mib <= 256,
        "idle %.1f MiB over %d processes" % (idle["rss_kib"] / 1024, idle["procs"]))
    row("highest descriptor in a worker", busy["max_fd"], "fd", "< 1024",
        busy["max_fd"] < 1024)


def portkey(work):
    """The Portkey AI Gateway (npm @portkey-ai/gateway, pinned in
    bench/package.json), installed into bench/node_modules on first use.
    Returns the path of its server script."""
    here = os.path.join(TOP, "bench")
    script = os.path.join(here, "node_modules/@portkey-ai/gateway/build/start-server.js")
    if not os.path.exists(script):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"],
                       cwd=here, check=True)
    return script


def section_provider(a, work):
    """The openai-completions provider: what it adds to a request, and its
    throughput against a peer gateway through the same upstream."""
    up = start_nginx_upstream(work)
    cfg = write_upstream_config(work, "provider", up, "relay", "fixed")
    srv = Lighttpd(work, a.bin, cfg)
    direct_url = "http://127.0.0.1:%d/v1/chat/completions" % up
    one = dict(conns=1, threads=1, secs=a.secs)
    wrk(srv.url(), [TOKEN, "stateless", "openclaw/relay"], conns=1, threads=1, secs=1)
    direct = wrk(direct_url, [TOKEN, "stateless", "fixed"], **one)
    echo = wrk(srv.url(), [TOKEN, "stateless"], **one)
    relay = wrk(srv.url(), [TOKEN, "stateless", "openclaw/relay"], **one)
    for p in ("p50", "p99"):
        added = relay[p] - echo[p] - direct[p]
        limit = 0.2 if p == "p50" else 1.0
        row("provider adds, %s, 1 connection" % p, added, "ms", "<= %g" % limit,
            added <= limit, "relay %.3f - echo %.3f - upstream alone %.3f" %
            (relay[p], echo[p], direct[p]))
    ours = wrk(srv.url(), [TOKEN, "stateless", "openclaw/relay"], secs=a.secs)
    srv.stop()
    pport = free_port()
    start(["node", portkey(work), "--port=%d" % pport, "--headless"],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(pport, 60)
    purl = "http://127.0.0.1:%d/v1/chat/completions" % pport
    hdrs = ["x-portkey-provider: openai",
            "x-portkey-custom-host: http://127.0.0.1:%d/v1" % up]
    wrk(purl, ["made-up-key", "stateless", "fixed", "/v1/chat/completions"] + hdrs,
        secs=1)
    theirs = wrk(purl, ["made-up-key", "stateless", "fixed",
                        "/v1/chat/completions"] + hdrs, secs=a.secs)
    r = ours["rps"] / theirs["rps"]
    row("provider throughput / Portkey gateway", r, "x", ">= 10", r >= 10,
        "%.0f vs %.0f req/s, 16 connections" % (ours["rps"], theirs["rps"]))


class NginxStack:
    """nginx from the shipped etc/nginx/clawcgi.conf (scripts/nginx-conf)
    in front of `clawcgi serve` on a port of its own."""

    def __init__(self, work, binary, config):
        self.dir = tempfile.mkdtemp(prefix="nginx-stack-", dir=work)
        os.chmod(self.dir, 0o755)
        app = free_port()
        env = dict(os.environ, CLAWCGI_CONFIG=config)
        self.app = start([binary, "serve", "--listen", "127.0.0.1:%d" % app],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(app)
        self.port = free_port()
        conf = subprocess.run(
            ["sh", os.path.join(TOP, "scripts/nginx-conf"), str(self.port), self.dir,
             "127.0.0.1:%d" % app], check=True, capture_output=True, text=True).stdout
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.proc = start(["nginx", "-p", self.dir, "-c", path, "-g", "daemon off;"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        stop(self.proc)
        stop(self.app)


def section_relay(a, work):
    """How late a streamed delta reaches the client: an upstream writes a
    timestamped delta every 20 ms; the client notes when each arrives."""
    uport = start_stream_upstream(work)
    cfg = write_upstream_config(work, "relay", uport, "ticks", "ticks-100-20")
    streams = 8  # at once, 100 deltas each

    def delays(port, model, path="/v1/chat/completions"):
        res, _ = run_streams(port, streams, model, TOKEN, path)
        ok = [r for r in res if r["status"] == 200 and r["done"]]
        if len(ok) != streams:
            raise RuntimeError("relay: %d of %d streams whole" % (len(ok), streams))
        return [d for r in ok for d in r["delays"]]

    base = delays(uport, "ticks-100-20")
    for name, cls in (("lighttpd", lambda: Lighttpd(work, a.bin, cfg)),
                      ("nginx", lambda: NginxStack(work, a.bin, cfg))):
        srv = cls()
        d = delays(srv.port, "openclaw/ticks")
        srv.stop()
        for p, q in (("p50", 0.5), ("p99", 0.99)):
            v = pct(d, q)
            row("relay delay through %s, %s" % (name, p), v, "ms", "<= 5", v <= 5,
                "%d deltas; upstream to client directly: %.2f ms" % (len(d), pct(base, q)))


def section_store(a, work):
    """The store alone (bench/store_bench.c through store.h): turn persist
    and history load, small (10 k messages over 1 k sessions) and with 1 M
    messages over 100 k sessions."""
    out = {}
    # both with 10 messages a session, so a history load reads as much
    for name, msgs, sessions in (("small", 10000, 1000),
                                 ("1 M messages", 1000000, 100000)):
        db = os.path.join(work, "store-%d.db" % msgs)
        # a writer and a reader that never pauses, as many threads as this
        # 2-core machine has cores: with more, a thread preempted while it
        # holds the write lock makes the others wait out the scheduler's
        # slice, and p99 measures that (the row below shows it)
        r = subprocess.run([a.store_bin, db, str(msgs), str(sessions), "4000", "1", "1"],
                           check=True, capture_output=True, text=True)
        out[name] = json.loads(r.stdout)
    big, small = out["1 M messages"], out["small"]
    row("store: turn persist p99, 1 M messages", big["persist_p99_ms"], "ms", "<= 2",
        big["persist_p99_ms"] <= 2, "p50 %.3f ms; small store p99 %.3f ms; a writer and "
        "a reader that never pauses" % (big["persist_p50_ms"], small["persist_p99_ms"]))
    db = os.path.join(work, "store-busy.db")
    r = json.loads(subprocess.run([a.store_bin, db, "10000", "1000", "4000", "2", "1"],
                                  check=True, capture_output=True, text=True).stdout)
    row("store: persist p99, 3 busy threads on 2 cores", r["persist_p99_ms"], "ms",
        note="small store, 2 writers and a reader; p50 %.3f ms" % r["persist_p50_ms"])
    r = big["persist_p50_ms"] / small["persist_p50_ms"]
    row("store: persist p50, 1 M / small", r, "x", "<= 2", r <= 2)
    r = big["load_p50_ms"] / small["load_p50_ms"]
    row("store: history load p50, 1 M / small", r, "x", "<= 2", r <= 2,
        "%.3f ms vs %.3f ms (40 of a session's messages)"
        % (big["load_p50_ms"], small["load_p50_ms"]))
    row("store: WAL after the load, 1 M messages", big["wal_mib"], "MiB", "<= 64",
        big["wal_mib"] <= 64)
    section_store_pg(a, out)


def section_store_pg(a, sqlite):
    """The same runs on the PostgreSQL store: a server of its own
    (tests/pg.sh, durable commits: fsync on), a database per run, over
    127.0.0.1.  Skipped when the server or the backend is not there."""
    pg = os.path.join(TOP, "tests", "pg.sh")
    if subprocess.run(["sh", pg, "available"]).returncode != 0:
        print("# store: no PostgreSQL server (Debian package postgresql): skipped",
              file=sys.stderr)
        return
    # its own folder: the server runs as nobody when we are root
    work = tempfile.mkdtemp(prefix="clawcgi-bench-pg-")
    os.chmod(work, 0o755)
    env = dict(os.environ, PG_FSYNC="on")
    try:
        admin = subprocess.run(["sh", pg, "start", os.path.join(work, "pg")], env=env,
                               check=True, capture_output=True, text=True).stdout.strip()
        out = {}
        for name, msgs, sessions in (("small", 10000, 1000),
                                     ("1 M messages", 1000000, 100000)):
            db = "bench_%d" % msgs
            subprocess.run(["psql", "-q", "-X", "-c", "CREATE DATABASE " + db, admin],
                           check=True)
            r = subprocess.run([a.store_bin, admin.rsplit("/", 1)[0] + "/" + db, str(msgs),
                                str(sessions), "4000", "1", "1"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("# store (PostgreSQL): %s" % r.stderr.strip(), file=sys.stderr)
                return
            out[name] = json.loads(r.stdout)
        big, small = out["1 M messages"], out["small"]
        # no target: a durable commit waits for the disk's flush, whatever the store
        row("store (PostgreSQL): persist p99, 1 M messages", big["persist_p99_ms"], "ms",
            note="p50 %.3f ms; small store p50 %.3f, p99 %.3f ms; SQLite's 1 M p50 %.3f ms"
            % (big["persist_p50_ms"], small["persist_p50_ms"], small["persist_p99_ms"],
               sqlite["1 M messages"]["persist_p50_ms"]))
        row("store (PostgreSQL): history load p99, 1 M messages", big["load_p99_ms"], "ms",
            note="p50 %.3f ms; small store p50 %.3f ms; SQLite's 1 M p50 %.3f ms"
            % (big["load_p50_ms"], small["load_p50_ms"],
               sqlite["1 M messages"]["load_p50_ms"]))
        r = big["persist_p50_ms"] / small["persist_p50_ms"]
        row("store (PostgreSQL): persist p50, 1 M / small", r, "x", "<= 2", r <= 2)
        r = big["load_p50_ms"] / small["load_p50_ms"]
        row("store (PostgreSQL): history load p50, 1 M / small", r, "x", "<= 2", r <= 2)
    finally:
        subprocess.run(["sh", pg, "stop", os.path.join(work, "pg")])
        shutil.rmtree(work, ignore_errors=True)


SECTIONS = {"throughput": section_throughput, "memory": section_memory,
            "store": section_store,
            "relay": section_relay,
            "provider": section_provider,
            "streams": section_streams}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(TOP, "build/clawcgi"))
    ap.add_argument("--hello", default=os.path.join(TOP, "build/bench-hello"))
    ap.add_argument("--store-bin", default=os.path.join(TOP, "build/bench/bench-store"))
    ap.add_argument("--json", default="bench-results.json")
    ap.add_argument("--secs", type=int, default=5, help="seconds per load run")
    ap.add_argument("--rounds", type=int, default=5,
                    help="throughput: rounds over every stack (a.secs / 2 s each)")
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--stream-procs", type=int, default=9)
    ap.add_argument("--stream-threads", type=int, default=0,
                    help="server.threads (0: the default)")
    ap.add_argument("sections", nargs="*", default=list(SECTIONS))
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    a.hello = os.path.abspath(a.hello)
    a.store_bin = os.path.abspath(a.store_bin)
    for s in a.sections:
        if s not in SECTIONS:
            ap.error("unknown section %s (one of %s)" % (s, ", ".join(SECTIONS)))
    for tool in ("wrk", "lighttpd", "curl"):
        if not shutil.which(tool):
            sys.exit("bench: %s is not installed (sh scripts/deps)" % tool)
    work = tempfile.mkdtemp(prefix="clawcgi-bench-")
    try:
        for s in a.sections:
            print("# %s" % s, file=sys.stderr)
            SECTIONS[s](a, work)
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)
    w = max(len(r["figure"]) for r in ROWS)
    print("%-*s  %12s %-6s %-8s %-4s %s" % (w, "figure", "value", "unit",
                                            "target", "ok", "note"))
    for r in ROWS:
        ok = "" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        print("%-*s  %12.3f %-6s %-8s %-4s %s" % (
            w, r["figure"], r["value"], r["unit"], r["target"] or "", ok,
            r["note"]))
    with open(a.json, "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "rows": ROWS}, f, indent=1)
    print("(written to %s)" % a.json)
    return 0 if all(r["ok"] is not False for r in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
