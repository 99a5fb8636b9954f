"""Check a Responses API event stream recorded by lib.sh's `stream`.

    python3 responses_check.py STREAM.TXT [--text T] [--status S]
        [--calls N] [--reasoning T] [--terminal TYPE] [--spread SECONDS]

STREAM.TXT holds "SECONDS<TAB>LINE" per line received.  Checks what every
stream must satisfy (the OpenAI API reference, "Streaming events"):
named events ("event: T" then "data: {...}" with "type": T), sequence
numbers 0, 1, 2, ... in order, response.created then response.in_progress
first, each item announced (output_item.added) before its pieces and
finished (output_item.done) after them, the deltas of each item adding up
to its .done text, and exactly one terminal event last
(response.completed, .incomplete or .failed).  Then the options: the
message text, the final status, the number of function calls, the
reasoning text, the terminal event's type, and the least time between
the first and the last text delta.  Prints what failed; exits 1 then.
"""
import argparse
import json
import sys

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def events(path):
    out, name = [], None
    for raw in open(path, encoding="utf-8"):
        t, _, line = raw.rstrip("\n").partition("\t")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            out.append((float(t), name, json.loads(line[6:])))
            name = None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--text")
    ap.add_argument("--status")
    ap.add_argument("--calls", type=int)
    ap.add_argument("--reasoning")
    ap.add_argument("--terminal")
    ap.add_argument("--spread", type=float)
    a = ap.parse_args()
    bad = []
    evs = events(a.path)
    if not evs:
        print("# no events")
        return 1
    for i, (_, name, d) in enumerate(evs):
        if name != d.get("type"):
            bad.append("event %d: name %r but type %r" % (i, name, d.get("type")))
        if d.get("sequence_number") != i:
            bad.append("event %d: sequence_number %r" % (i, d.get("sequence_number")))
    types = [d["type"] for _, _, d in evs]
    if types[:2] != ["response.created", "response.in_progress"]:
        bad.append("first events %r" % types[:2])
    if types[-1] not in TERMINAL or sum(t in TERMINAL for t in types) != 1:
        bad.append("terminal events %r" % [t for t in types if t in TERMINAL])
    added, done, text, args = {}, {}, {}, {}
    for _, _, d in evs:
        t = d["type"]
        if t == "response.output_item.added":
            added[d["output_index"]] = d["item"]
        elif t == "response.output_item.done":
            if d["output_index"] not in added:
                bad.append("item %d done before added" % d["output_index"])
            done[d["output_index"]] = d["item"]
        elif t.endswith(".delta"):
            i = d["output_index"]
            if i not in added or i in done:
                bad.append("%s for item %d outside its added/done" % (t, i))
            if added.get(i, {}).get("id") != d.get("item_id"):
                bad.append("%s: item_id %r" % (t, d.get("item_id")))
            key = "args" if "arguments" in t else "text"
            (args if key == "args" else text)[i] = (args if key == "args" else text).get(i, "") + d["delta"]
        elif t == "response.output_text.done" or t == "response.reasoning_text.done":
            if text.get(d["output_index"], "") != d["text"]:
                bad.append("%s: %r, deltas made %r" % (t, d["text"], text.get(d["output_index"])))
        elif t == "response.function_call_arguments.done":
            if args.get(d["output_index"], "") != d["arguments"]:
                bad.append("arguments.done %r, deltas made %r" % (d["arguments"], args.get(d["output_index"])))
    if set(added) != set(done):
        bad.append("items added %r, done %r" % (sorted(added), sorted(done)))
    final = evs[-1][2].get("response", {})
    out = final.get("output", [])
    if [o.get("id") for o in out] != [done[i].get("id") for i in sorted(done)]:
        bad.append("final output ids %r vs items %r" % ([o.get("id") for o in out],
                                                        [done[i].get("id") for i in sorted(done)]))
    msg = "".join(c.get("text", "") for o in out if o.get("type") == "message"
                  for c in o.get("content", []))
    if a.text is not None and msg != a.text:
        bad.append("text %r, wanted %r" % (msg, a.text))
    if a.status and final.get("status") != a.status:
        bad.append("status %r, wanted %r" % (final.get("status"), a.status))
    calls = [o for o in out if o.get("type") == "function_call"]
    if a.calls is not None and len(calls) != a.calls:
        bad.append("%d function calls, wanted %d" % (len(calls), a.calls))
    if a.reasoning is not None:
        r = "".join(c.get("text", "") for o in out if o.get("type") == "reasoning"
                    for c in o.get("content", []))
        if r != a.reasoning:
            bad.append("reasoning %r, wanted %r" % (r, a.reasoning))
    if a.terminal and types[-1] != a.terminal:
        bad.append("terminal %r, wanted %r" % (types[-1], a.terminal))
    if a.spread is not None:
        ts = [t for t, _, d in evs if d["type"] == "response.output_text.delta"]
        if not ts or max(ts) - min(ts) < a.spread:
            bad.append("text deltas spread over %.3f s, wanted >= %.3f"
                       % (max(ts) - min(ts) if ts else 0, a.spread))
    for b in bad:
        print("# " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
