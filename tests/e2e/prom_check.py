"""A strict reader of the Prometheus text exposition format, version 0.0.4
(https://prometheus.io/docs/instrumenting/exposition_formats/), for the
tests: what `promtool check metrics` would refuse, it refuses (Debian's
prometheus package, which holds promtool, installs about 96 MB of server).

    python3 prom_check.py FILE [SERIES...]

Checks the whole file: every line a "# HELP", "# TYPE" or a sample; names
and label names well-formed, label values properly escaped; one HELP and one
TYPE per family, before its samples, families not interleaved; counters
named *_total; a histogram's series each with ascending le buckets ending in
"+Inf", counts never decreasing, +Inf equal to _count, and a _sum; no series
twice; the file ends with a newline.  Then prints each SERIES's value (as
written, e.g. 'clawcgi_open_streams' or
'clawcgi_http_requests_total{endpoint="models",agent="",status="200"}', its
labels in any order) one per line, "absent" when it is not there.  Exits 1
with the reason on the first error.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def fail(lineno, why):
    print("prom_check: line %d: %s" % (lineno, why))
    sys.exit(1)


def parse_labels(s, lineno):
    """s starts after '{'; returns (labels dict, rest after '}')."""
    labels = {}
    i = 0
    while True:
        if s[i:i + 1] == "}":
            return labels, s[i + 1:]
        m = LABEL.match(s, i)
        if not m:
            fail(lineno, "bad label name at %r" % s[i:])
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            fail(lineno, "label %s: expected =\"" % name)
        i += 2
        val = []
        while True:
            if i >= len(s):
                fail(lineno, "label %s: unterminated value" % name)
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    fail(lineno, "label %s: bad escape \\%s" % (name, nxt))
                val.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                fail(lineno, "newline in a label value")
            else:
                val.append(c)
                i += 1
        if name in labels:
            fail(lineno, "label %s twice" % name)
        labels[name] = "".join(val)
        if s[i:i + 1] == ",":
            i += 1
        elif s[i:i + 1] != "}":
            fail(lineno, "expected , or } after label %s" % name)


def parse_value(v, lineno):
    if v in ("+Inf", "-Inf", "NaN"):
        return float(v.replace("Inf", "inf").replace("NaN", "nan"))
    try:
        return float(v)
    except ValueError:
        fail(lineno, "bad value %r" % v)


def key(name, labels):
    return (name, tuple(sorted(labels.items())))


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    if not text.endswith("\n"):
        fail(0, "no newline at the end")
    helps, types, done, samples = {}, {}, set(), {}
    current = None
    hist = {}  # (family, labels without le) -> list of (le, value), count, sum
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.fullmatch(fam):
                    fail(lineno, "bad metric name %r" % fam)
                if fam != current:
                    if fam in done:
                        fail(lineno, "family %s interleaved with another" % fam)
                    if current:
                        done.add(current)
                    current = fam
                table = helps if parts[1] == "HELP" else types
                if fam in table:
                    fail(lineno, "second %s for %s" % (parts[1], fam))
                if fam in {k[0] for k in samples} or any(
                        k[0].startswith(fam + "_") and k[0][len(fam) + 1:] in ("bucket", "sum", "count")
                        for k in samples):
                    fail(lineno, "%s after %s's samples" % (parts[1], fam))
                arg = parts[3] if len(parts) > 3 else ""
                if parts[1] == "TYPE":
                    if arg not in TYPES:
                        fail(lineno, "unknown type %r" % arg)
                    if arg == "counter" and not fam.endswith("_total"):
                        fail(lineno, "counter %s not named *_total" % fam)
                table[fam] = arg
            continue
        if not line.strip():
            fail(lineno, "empty line")
        m = NAME.match(line)
        if not m:
            fail(lineno, "bad sample line %r" % line)
        name = m.group(0)
        rest = line[m.end():]
        labels = {}
        if rest.startswith("{"):
            labels, rest = parse_labels(rest[1:], lineno)
        if not rest.startswith(" "):
            fail(lineno, "expected a space before the value")
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2):
            fail(lineno, "expected a value and an optional timestamp")
        value = parse_value(fields[0], lineno)
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                fam = name[:-len(suffix)]
        if fam != current:
            fail(lineno, "sample %s outside its family's block (no TYPE before it?)" % name)
        if fam not in types or fam not in helps:
            fail(lineno, "%s has no HELP or TYPE" % fam)
        k = key(name, labels)
        if k in samples:
            fail(lineno, "series %s%s twice" % (name, labels))
        samples[k] = value
        if types[fam] in ("counter", "histogram") and (value < 0 or math.isnan(value)):
            fail(lineno, "%s is negative or NaN" % name)
        if types[fam] == "histogram":
            base = {k2: v for k2, v in labels.items() if k2 != "le"}
            h = hist.setdefault(key(fam, base), {"buckets": [], "count": None, "sum": None})
            if name.endswith("_bucket"):
                if "le" not in labels:
                    fail(lineno, "bucket without le")
                if h["count"] is not None or h["sum"] is not None:
                    fail(lineno, "bucket after _sum/_count")
                le = parse_value(labels["le"], lineno)
                if h["buckets"] and le <= h["buckets"][-1][0]:
                    fail(lineno, "le not ascending")
                if h["buckets"] and value < h["buckets"][-1][1]:
                    fail(lineno, "bucket counts decrease")
                h["buckets"].append((le, value))
            elif name.endswith("_sum"):
                h["sum"] = value
            elif name.endswith("_count"):
                h["count"] = value
            else:
                fail(lineno, "histogram sample %s is not _bucket, _sum or _count" % name)
        elif labels.get("le") is not None and types[fam] != "summary":
            pass
    for (fam, base), h in hist.items():
        if not h["buckets"] or h["buckets"][-1][0] != math.inf:
            fail(0, "%s%s: no +Inf bucket" % (fam, dict(base)))
        if h["count"] is None or h["sum"] is None:
            fail(0, "%s%s: no _sum or _count" % (fam, dict(base)))
        if h["buckets"][-1][1] != h["count"]:
            fail(0, "%s%s: +Inf bucket is not _count" % (fam, dict(base)))
    for q in sys.argv[2:]:
        m = NAME.match(q)
        labels = {}
        if m.end() < len(q):
            labels, _ = parse_labels(q[m.end() + 1:], 0)
        v = samples.get(key(m.group(0), labels))
        print("absent" if v is None else ("%d" % v if v == int(v) else "%g" % v))


main()
