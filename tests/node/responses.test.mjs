// The official OpenAI Node SDK's Responses API (client.responses) talking to
// clawcgi: create plain and streamed, the responses.stream() helper,
// previous_response_id, a function tool round trip, retrieve and delete, the
// error classes.  Each check prints "ok - name" or "not ok - name" (counted
// by tests/run).  Where run.sh exports UPSTREAM_LOG (the fake upstream's log
// of the chat requests it got, one JSON line each), the checks also read what
// reached the upstream.
//   node responses.test.mjs BASE_URL TOKEN
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import { check, assert, done } from "./check.mjs";

const [base, token] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: token, maxRetries: 0, timeout: 30000 });

// The fake upstream's requests so far (empty without UPSTREAM_LOG).
const upstreamLog = process.env.UPSTREAM_LOG;
function upstreamRequests() {
  if (!upstreamLog) return [];
  return readFileSync(upstreamLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
// The messages of the last chat request upstream, or null without the log.
function upstreamLastMessages() {
  if (!upstreamLog) return null;
  const reqs = upstreamRequests();
  assert(reqs.length > 0, "the upstream log is empty");
  return reqs[reqs.length - 1].body.messages;
}
const show = (x) => JSON.stringify(x);


const weatherTool = {
  type: "function", name: "get_weather", description: "The weather in a city now",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: true,
};

await check("SDK responses: create returns a response object with one message item", async () => {
  const r = await client.responses.create({ model: "openclaw", input: "hello sdk" });
  assert(/^resp_[0-9a-f]{32}$/.test(r.id), "id " + r.id);
  assert(r.object === "response" && r.status === "completed" && r.model === "openclaw",
    "shape " + show({ object: r.object, status: r.status, model: r.model }));
  assert(r.output_text === "fake: hello sdk", "output_text " + show(r.output_text));
  assert(r.output.length === 1, "output " + show(r.output));
  const m = r.output[0];
  assert(m.type === "message" && m.role === "assistant" && m.status === "completed" && /^msg_/.test(m.id),
    "item " + show(m));
  assert(m.content.length === 1 && m.content[0].type === "output_text" &&
    m.content[0].text === "fake: hello sdk" && Array.isArray(m.content[0].annotations) &&
    m.content[0].annotations.length === 0, "content " + show(m.content));
  assert(r.usage.input_tokens === 11 && r.usage.output_tokens === 7 && r.usage.total_tokens === 18,
    "usage " + show(r.usage));
  assert(r.previous_response_id === null && r.store === true && r.error === null,
    "fields " + show({ previous_response_id: r.previous_response_id, store: r.store, error: r.error }));
  const msgs = upstreamLastMessages();
  if (msgs) {
    assert(msgs.length === 2 && msgs[0].role === "system" && msgs[0].content === "You are a test." &&
      msgs[1].role === "user" && msgs[1].content === "hello sdk", "upstream messages " + show(msgs));
  }
});

await check("SDK responses: stream: true yields the named events in order", async () => {
  const stream = await client.responses.create({ model: "openclaw", input: "stream me", stream: true });
  const events = [];
  for await (const ev of stream) events.push(ev);
  const types = events.map((e) => e.type);
  const want = ["response.created", "response.in_progress", "response.output_item.added",
    "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
    "response.output_text.delta", "response.output_text.done", "response.content_part.done",
    "response.output_item.done", "response.completed"];
  assert(show(types) === show(want), "types " + show(types));
  events.forEach((e, i) => assert(e.sequence_number === i, "event " + i + " sequence_number " + e.sequence_number));
  const created = events[0].response, added = events[2].item;
  assert(created.status === "in_progress" && /^resp_/.test(created.id) && created.output.length === 0,
    "created " + show(created));
  assert(added.type === "message" && added.status === "in_progress", "added " + show(added));
  const deltas = events.filter((e) => e.type === "response.output_text.delta");
  assert(deltas.every((d) => d.item_id === added.id && d.output_index === 0 && d.content_index === 0),
    "delta ids " + show(deltas));
  const text = deltas.map((d) => d.delta).join("");
  assert(text === "fake: stream me", "deltas " + show(text));
  assert(events[7].text === text && events[8].part.text === text, "done events " + show(events.slice(7, 9)));
  assert(events[9].item.status === "completed" && events[9].item.content[0].text === text,
    "item done " + show(events[9].item));
  const final = events[10].response;
  assert(final.id === created.id && final.status === "completed", "final " + show(final));
  assert(final.output_text === text && final.output.length === 1 && final.output[0].id === added.id &&
    final.output[0].content[0].text === text, "final output " + show(final.output));
  assert(final.usage && final.usage.total_tokens === 18, "usage " + show(final.usage));
});

await check("SDK responses: the responses.stream() helper accumulates the text", async () => {
  const stream = client.responses.stream({ model: "openclaw:beta", input: "helper" });
  const snapshots = [];
  let createdId = null;
  stream.on("response.created", (e) => { createdId = e.response.id; });
  stream.on("response.output_text.delta", (e) => snapshots.push(e.snapshot));
  const r = await stream.finalResponse();
  assert(snapshots.length === 3, "deltas " + show(snapshots));
  assert(snapshots[2] === "fake: helper", "snapshot " + show(snapshots));
  assert(r.id === createdId && r.status === "completed", "response " + show({ id: r.id, createdId, status: r.status }));
  assert(r.output_text === "fake: helper", "output_text " + show(r.output_text));
});

await check("SDK responses: the stream helper accumulates two parallel function calls", async () => {
  const stream = client.responses.stream({
    model: "openclaw:tools2", input: "two calls",
    tools: [weatherTool, { type: "function", name: "get_time", parameters: { type: "object" }, strict: false }],
  });
  const argDeltas = [];
  stream.on("response.function_call_arguments.delta", (e) => argDeltas.push([e.output_index, e.snapshot]));
  const r = await stream.finalResponse();
  const calls = r.output.filter((o) => o.type === "function_call");
  assert(calls.length === 2 && calls[0].name === "get_weather" && calls[1].name === "get_time",
    "calls " + show(r.output));
  assert(JSON.parse(calls[0].arguments).city === "Paris" && JSON.parse(calls[1].arguments).city === "Rome",
    "arguments " + show(calls));
  assert(calls[0].call_id !== calls[1].call_id, "call ids " + show(calls));
  const last = (i) => argDeltas.filter((d) => d[0] === i).map((d) => d[1]).pop();
  assert(last(0) === calls[0].arguments && last(1) === calls[1].arguments, "snapshots " + show(argDeltas));
  assert(r.output_text === "", "output_text " + show(r.output_text));
});

await check("SDK responses: previous_response_id continues the conversation", async () => {
  const first = await client.responses.create({ model: "openclaw", input: "first turn" });
  assert(first.output_text === "fake: first turn", "first " + show(first.output_text));
  const second = await client.responses.create({
    model: "openclaw", input: "second turn", previous_response_id: first.id,
  });
  assert(second.output_text === "fake: second turn", "second " + show(second.output_text));
  assert(second.previous_response_id === first.id && second.id !== first.id,
    "previous_response_id " + show(second.previous_response_id));
  const msgs = upstreamLastMessages();
  if (msgs) {
    const seen = msgs.map((m) => m.role + ":" + m.content);
    assert(show(seen) === show(["system:You are a test.", "user:first turn", "assistant:fake: first turn",
      "user:second turn"]), "upstream history " + show(seen));
  }
  const got = await client.responses.retrieve(second.id);
  assert(got.id === second.id && got.previous_response_id === first.id && got.output_text === "fake: second turn",
    "retrieved " + show(got));
  // a streamed third turn on top of the second
  const stream = await client.responses.create({
    model: "openclaw", input: "third turn", previous_response_id: second.id, stream: true,
  });
  let final = null;
  for await (const ev of stream) if (ev.type === "response.completed") final = ev.response;
  assert(final && final.output_text === "fake: third turn" && final.previous_response_id === second.id,
    "third " + show(final));
  const msgs3 = upstreamLastMessages();
  if (msgs3) {
    assert(msgs3.length === 6 && msgs3[3].content === "second turn" && msgs3[4].content === "fake: second turn" &&
      msgs3[5].content === "third turn", "upstream history " + show(msgs3));
  }
});

await check("SDK responses: a function tool round trip with function_call_output", async () => {
  const r1 = await client.responses.create({ model: "openclaw:tools", input: "weather in Paris?", tools: [weatherTool] });
  assert(r1.output.length === 1, "output " + show(r1.output));
  const call = r1.output[0];
  assert(call.type === "function_call" && call.name === "get_weather" && call.status === "completed",
    "call " + show(call));
  assert(/^call_/.test(call.call_id) && /^fc_/.test(call.id), "ids " + show(call));
  assert(JSON.parse(call.arguments).city === "Paris", "arguments " + call.arguments);
  assert(r1.output_text === "", "output_text " + show(r1.output_text));
  const r2 = await client.responses.create({
    model: "openclaw:tools", previous_response_id: r1.id, tools: [weatherTool],
    input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
  });
  assert(r2.output_text === "fake: the tool said sunny", "answer " + show(r2.output_text));
  assert(r2.previous_response_id === r1.id && r2.output[0].type === "message", "second " + show(r2));
  const msgs = upstreamLastMessages();
  if (msgs) {
    const asked = msgs.find((m) => m.role === "assistant" && m.tool_calls);
    const result = msgs.find((m) => m.role === "tool");
    assert(asked && asked.tool_calls[0].id === call.call_id && asked.tool_calls[0].function.name === "get_weather",
      "upstream call " + show(msgs));
    assert(result && result.tool_call_id === call.call_id && result.content === "sunny",
      "upstream result " + show(msgs));
  }
});

await check("SDK responses: reasoning comes as a reasoning item, plain and streamed", async () => {
  const r = await client.responses.create({ model: "openclaw:reason", input: "think" });
  assert(r.output.length === 2 && r.output[0].type === "reasoning" && r.output[1].type === "message",
    "output " + show(r.output));
  assert(r.output[0].content[0].type === "reasoning_text" && r.output[0].content[0].text === "thinking about it",
    "reasoning " + show(r.output[0]));
  assert(r.output_text === "fake: think", "output_text " + show(r.output_text));
  const stream = await client.responses.create({ model: "openclaw:reason", input: "think", stream: true });
  let reasoning = "", text = "", seq = -1;
  for await (const ev of stream) {
    assert(ev.sequence_number === seq + 1, "sequence_number " + ev.sequence_number + " after " + seq);
    seq = ev.sequence_number;
    if (ev.type === "response.reasoning_text.delta") reasoning += ev.delta;
    if (ev.type === "response.output_text.delta") text += ev.delta;
  }
  assert(reasoning === "thinking about it" && text === "fake: think", "streamed " + show({ reasoning, text }));
});

await check("SDK responses: the stream helper accumulates reasoning text (content_part events for reasoning_text)",
  async () => {
    const stream = client.responses.stream({ model: "openclaw:reason", input: "think" });
    let reasoning = null;
    stream.on("response.reasoning_text.done", (e) => { reasoning = e.text; });
    const r = await stream.finalResponse();
    assert(reasoning === "thinking about it" && r.output_text === "fake: think",
      "got " + show({ reasoning, output_text: r.output_text }));
  });

await check("SDK responses: retrieve, then delete, then retrieve raises NotFoundError", async () => {
  const r = await client.responses.create({ model: "openclaw", input: "keep me" });
  const got = await client.responses.retrieve(r.id);
  assert(got.id === r.id && got.output_text === "fake: keep me" && got.status === "completed",
    "retrieved " + show(got));
  const { data, response } = await client.responses.delete(r.id).withResponse();
  assert(response.status === 200, "delete status " + response.status);
  assert(data && data.id === r.id && data.deleted === true, "delete body " + show(data));
  try {
    await client.responses.retrieve(r.id);
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError && e.status === 404, "got " + e.constructor.name + " " + e.status);
    assert(e.message.includes(r.id), "message " + e.message);
    try {
      await client.responses.delete(r.id);
    } catch (e2) {
      assert(e2 instanceof OpenAI.NotFoundError, "second delete: " + e2.constructor.name);
      return;
    }
    throw new Error("a second delete succeeded");
  }
  throw new Error("retrieve after delete succeeded");
});

await check("SDK responses: an unknown previous_response_id raises NotFoundError naming it", async () => {
  try {
    await client.responses.create({ model: "openclaw", input: "x", previous_response_id: "resp_nosuchresponse" });
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError, "got " + e.constructor.name);
    assert(e.param === "previous_response_id", "param " + e.param);
    return;
  }
  throw new Error("no error raised");
});

await check("SDK responses: a web_search tool raises BadRequestError and reaches no upstream", async () => {
  const before = upstreamRequests().length;
  try {
    await client.responses.create({ model: "openclaw", input: "x", tools: [{ type: "web_search" }] });
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError && e.status === 400, "got " + e.constructor.name + " " + e.status);
    assert(e.type === "invalid_request_error", "type " + e.type);
    assert(e.message.includes("`tools[0].type` 'web_search'"), "message " + e.message);
    assert(upstreamRequests().length === before, "an upstream request was made");
    return;
  }
  throw new Error("no error raised");
});

done();
