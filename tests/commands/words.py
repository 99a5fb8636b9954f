#!/usr/bin/env python3
"""A command provider for the tests: answers "cmd: <last user text>" word by
word, 0.3 s apart, flushing each; with "env" in the text, prints its
environment's names; with "utf8", writes a multi-byte character one byte at a
time; logs one line on stderr."""
import json, os, sys, time
req = json.load(sys.stdin)
text = ""
for m in req["messages"]:
    if m["role"] == "user":
        c = m["content"]
        text = c if isinstance(c, str) else " ".join(p.get("text", "") for p in c)
sys.stderr.write("words.py got %d messages, model %s\n" % (len(req["messages"]), req["model"]))
if text == "env":
    sys.stdout.write(" ".join(sorted(os.environ)))
elif text == "utf8":
    for b in "é€😀".encode():
        sys.stdout.buffer.write(bytes([b])); sys.stdout.flush(); time.sleep(0.05)
elif text == "system":
    sys.stdout.write("system=" + str(req["system"]) + " params=" + json.dumps(req["params"]))
else:
    for i, w in enumerate(("cmd: " + text).split(" ")):
        sys.stdout.write((" " if i else "") + w); sys.stdout.flush(); time.sleep(0.3)
