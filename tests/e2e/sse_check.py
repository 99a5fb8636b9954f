"""Check a recorded SSE stream (TIME<TAB>LINE per line, as lib.sh's `stream` writes).

Exits 0 when every requested property holds, else prints what differs and exits 1.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--content", help="the concatenated deltas")
    ap.add_argument("--finish", help="finish_reason of the last chunk")
    ap.add_argument("--deltas", type=int, help="number of content chunks")
    ap.add_argument("--same-id", action="store_true")
    ap.add_argument("--usage", help="prompt,completion,total")
    ap.add_argument("--usage-json", help="the usage chunk's whole usage object (JSON)")
    ap.add_argument("--no-usage", action="store_true")
    ap.add_argument("--error", help="an error event of this type, then [DONE]")
    a = ap.parse_args()

    events = []
    for raw in open(a.file, encoding="utf-8"):
        raw = raw.rstrip("\n")
        if "\t" not in raw:
            continue
        line = raw.split("\t", 1)[1]
        if line.startswith("data: "):
            events.append(line[6:])
    problems = []
    if not events or events[-1] != "[DONE]":
        problems.append("the stream does not end with data: [DONE]")
    if events.count("[DONE]") != 1:
        problems.append("[DONE] appears %d times" % events.count("[DONE]"))
    chunks = [json.loads(e) for e in events if e != "[DONE]"]
    errors = [c for c in chunks if "error" in c]
    normal = [c for c in chunks if "error" not in c]
    if not normal or normal[0]["choices"][0]["delta"] != {"role": "assistant"}:
        problems.append("the first chunk is not the role chunk")
    for c in normal:
        if c.get("object") != "chat.completion.chunk":
            problems.append("a chunk's object is %r" % c.get("object"))
    content_chunks = [c for c in normal if c["choices"] and "content" in c["choices"][0]["delta"]]
    text = "".join(c["choices"][0]["delta"]["content"] for c in content_chunks)
    if a.content is not None and text != a.content:
        problems.append("content %r, wanted %r" % (text, a.content))
    if a.deltas is not None and len(content_chunks) != a.deltas:
        problems.append("%d content chunks, wanted %d" % (len(content_chunks), a.deltas))
    if a.finish:
        fin = [c for c in normal if c["choices"] and c["choices"][0].get("finish_reason")]
        if len(fin) != 1 or fin[0]["choices"][0]["finish_reason"] != a.finish:
            problems.append("finish chunks %r, wanted one with %r" % (fin, a.finish))
        elif fin[0]["choices"][0]["delta"] != {}:
            problems.append("the finish chunk's delta is not empty")
    if a.same_id:
        if len({c["id"] for c in normal}) != 1 or len({c["created"] for c in normal}) != 1:
            problems.append("ids or created differ across chunks")
    usage = [c for c in normal if c.get("usage")]
    if a.usage:
        want = [int(x) for x in a.usage.split(",")]
        if len(usage) != 1:
            problems.append("%d usage chunks" % len(usage))
        else:
            u = usage[0]
            got = [u["usage"]["prompt_tokens"], u["usage"]["completion_tokens"], u["usage"]["total_tokens"]]
            if got != want or u["choices"] != []:
                problems.append("usage chunk %r" % u)
            if chunks[-1] is not u:
                problems.append("the usage chunk is not the last before [DONE]")
    if a.usage_json is not None:
        want = json.loads(a.usage_json)
        if len(usage) != 1 or usage[0]["usage"] != want:
            problems.append("usage chunks %r, wanted one with usage %r" % (usage, want))
    if a.no_usage and usage:
        problems.append("unexpected usage chunk")
    if a.error:
        if len(errors) != 1 or errors[0]["error"].get("type") != a.error:
            problems.append("error events %r" % errors)
        elif chunks[-1] is not errors[0]:
            problems.append("the error event is not the last before [DONE]")
    elif errors:
        problems.append("unexpected error events %r" % errors)
    for p in problems:
        print("# " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
