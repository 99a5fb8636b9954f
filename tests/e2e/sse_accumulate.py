"""Put a recorded chat completion stream together as the OpenAI client
libraries do (TIME<TAB>LINE per line, as lib.sh's `stream` writes them).

    python3 sse_accumulate.py STREAM.txt > ANSWER.json

Prints {"choices": [{"index", "role", "content", "reasoning_content",
"tool_calls": [{"id", "type", "function": {"name", "arguments"}}],
"logprobs": [...], "finish_reason"}], "chunks": N}: content and reasoning
joined, tool call arguments joined by index.
"""
import json
import sys

choices = {}
chunks = 0
for raw in open(sys.argv[1], encoding="utf-8"):
    line = raw.rstrip("\n").split("\t", 1)[-1]
    if not line.startswith("data: ") or line == "data: [DONE]":
        continue
    obj = json.loads(line[6:])
    chunks += 1
    for c in obj.get("choices") or []:
        ch = choices.setdefault(c["index"], {"index": c["index"], "role": None, "content": "",
                                             "reasoning_content": "", "tool_calls": [],
                                             "logprobs": [], "finish_reason": None})
        d = c.get("delta") or {}
        if d.get("role"):
            ch["role"] = d["role"]
        ch["content"] += d.get("content") or ""
        ch["reasoning_content"] += d.get("reasoning_content") or ""
        for tc in d.get("tool_calls") or []:
            while len(ch["tool_calls"]) <= tc["index"]:
                ch["tool_calls"].append({"id": "", "type": "", "function": {"name": "", "arguments": ""}})
            slot = ch["tool_calls"][tc["index"]]
            slot["id"] = tc.get("id") or slot["id"]
            slot["type"] = tc.get("type") or slot["type"]
            fn = tc.get("function") or {}
            slot["function"]["name"] = fn.get("name") or slot["function"]["name"]
            slot["function"]["arguments"] += fn.get("arguments") or ""
        if c.get("logprobs"):
            ch["logprobs"] += c["logprobs"].get("content") or []
        if c.get("finish_reason"):
            ch["finish_reason"] = c["finish_reason"]
print(json.dumps({"choices": [choices[k] for k in sorted(choices)], "chunks": chunks}))
