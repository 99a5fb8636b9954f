// The Vercel AI SDK's default OpenAI provider (package "@ai-sdk/openai",
// whose openai(model) speaks the Responses API, POST /v1/responses) talking
// to clawcgi: generateText, streamText, a tool loop, a continuation by
// previousResponseId.  Each check prints "ok - name" or "not ok - name"
// (counted by tests/run).  Needs Node 22 (the SDK's engines): run.sh starts
// it with the node from the npm package "node".  Where run.sh exports
// UPSTREAM_LOG, the checks also read what reached the fake upstream.
//   node ai-sdk-responses.test.mjs BASE_URL TOKEN
import { readFileSync } from "node:fs";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText, tool, isStepCount } from "ai";
import { z } from "zod";
import { check, assert, done } from "./check.mjs";

const [base, token] = process.argv.slice(2);
const openai = createOpenAI({ baseURL: base + "/v1", apiKey: token });
const show = (x) => JSON.stringify(x);

// Every request this file makes, by URL path, to show which API was used.
const paths = [];
const recording = createOpenAI({
  baseURL: base + "/v1", apiKey: token,
  fetch: (url, init) => { paths.push(new URL(url).pathname); return fetch(url, init); },
});

const upstreamLog = process.env.UPSTREAM_LOG;
function upstreamRequests() {
  if (!upstreamLog) return [];
  return readFileSync(upstreamLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

await check("AI SDK responses: openai(model) posts to /v1/responses", async () => {
  paths.length = 0;
  const r = await generateText({ model: recording("openclaw"), maxRetries: 0, prompt: "which api" });
  assert(r.text === "fake: which api", "text " + show(r.text));
  assert(show(paths) === show(["/v1/responses"]), "paths " + show(paths));
  assert(recording("openclaw").provider === "openai.responses", "provider " + recording("openclaw").provider);
});

await check("AI SDK responses: generateText gives the text, finish reason and usage", async () => {
  const r = await generateText({ model: openai("openclaw"), maxRetries: 0, prompt: "hello ai sdk" });
  assert(r.text === "fake: hello ai sdk", "text " + show(r.text));
  assert(r.finishReason === "stop", "finish " + r.finishReason);
  assert(r.usage.inputTokens === 11 && r.usage.outputTokens === 7 && r.usage.totalTokens === 18,
    "usage " + show(r.usage));
  assert(/^resp_[0-9a-f]{32}$/.test(r.response.id), "response id " + r.response.id);
  assert(r.response.modelId === "openclaw", "model " + r.response.modelId);
  const reqs = upstreamRequests();
  if (upstreamLog) {
    const msgs = reqs[reqs.length - 1].body.messages;
    assert(msgs[msgs.length - 1].role === "user" && msgs[msgs.length - 1].content === "hello ai sdk",
      "upstream " + show(msgs));
  }
});

await check("AI SDK responses: streamText streams the text in pieces", async () => {
  const r = streamText({ model: openai("openclaw:beta"), maxRetries: 0, prompt: "stream it" });
  const deltas = [];
  let finish = null;
  for await (const part of r.fullStream) {
    if (part.type === "text-delta") deltas.push(part.text);
    if (part.type === "finish") finish = part;
    if (part.type === "error") throw part.error;
  }
  assert(deltas.join("") === "fake: stream it", "deltas " + show(deltas));
  assert(deltas.length === 3, "pieces " + show(deltas));
  assert(finish && finish.finishReason === "stop", "finish part " + show(finish));
  assert((await r.text) === "fake: stream it", "text");
  assert((await r.finishReason) === "stop", "finish reason");
  const usage = await r.usage;
  assert(usage.inputTokens === 11 && usage.outputTokens === 7 && usage.totalTokens === 18, "usage " + show(usage));
});

// The fake model "tools" calls the first tool with {"city": "Paris"}, then
// answers "fake: the tool said <result>" once the result is sent back.
const calls = [];
const weather = tool({
  description: "The weather in a city now",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    calls.push(city);
    return "sunny in " + city;
  },
});

await check("AI SDK responses: generateText runs a two-step tool loop", async () => {
  calls.length = 0;
  const before = upstreamRequests().length;
  const r = await generateText({
    model: openai("openclaw:tools"), maxRetries: 0,
    tools: { get_weather: weather }, stopWhen: isStepCount(2),
    prompt: "weather in Paris?",
  });
  assert(show(calls) === show(["Paris"]), "tool calls " + show(calls));
  assert(r.steps.length === 2, "steps " + r.steps.length);
  assert(r.steps[0].finishReason === "tool-calls", "first step " + r.steps[0].finishReason);
  const tc = r.steps[0].toolCalls;
  assert(tc.length === 1 && tc[0].toolName === "get_weather" && tc[0].input.city === "Paris" &&
    /^call_/.test(tc[0].toolCallId), "call " + show(tc));
  assert(r.steps[0].toolResults[0].output === "sunny in Paris", "result " + show(r.steps[0].toolResults));
  assert(r.text === "fake: the tool said sunny in Paris", "text " + show(r.text));
  assert(r.finishReason === "stop", "finish " + r.finishReason);
  assert(r.totalUsage.totalTokens === 36, "total usage " + show(r.totalUsage));
  if (upstreamLog) {
    const reqs = upstreamRequests().slice(before);
    assert(reqs.length === 2, "upstream requests " + reqs.length);
    const first = reqs[0].body, second = reqs[1].body;
    assert(first.tools && first.tools[0].function.name === "get_weather" &&
      first.tools[0].function.parameters.properties.city.type === "string", "upstream tools " + show(first.tools));
    const asked = second.messages.find((m) => m.role === "assistant" && m.tool_calls);
    const result = second.messages.find((m) => m.role === "tool");
    assert(asked && asked.tool_calls[0].id === tc[0].toolCallId, "upstream call " + show(second.messages));
    assert(result && result.tool_call_id === tc[0].toolCallId && result.content === "sunny in Paris",
      "upstream result " + show(second.messages));
  }
});

await check("AI SDK responses: streamText streams the tool call, its result and the answer", async () => {
  calls.length = 0;
  const r = streamText({
    model: openai("openclaw:tools"), maxRetries: 0,
    tools: { get_weather: weather }, stopWhen: isStepCount(2),
    prompt: "weather in Paris?",
  });
  const kinds = new Set();
  let text = "";
  for await (const part of r.fullStream) {
    kinds.add(part.type);
    if (part.type === "text-delta") text += part.text;
    if (part.type === "error") throw part.error;
  }
  assert(kinds.has("tool-call") && kinds.has("tool-result"), "parts " + [...kinds]);
  assert(show(calls) === show(["Paris"]), "tool calls " + show(calls));
  assert(text === "fake: the tool said sunny in Paris", "text " + show(text));
  assert((await r.steps).length === 2, "steps");
  assert((await r.finishReason) === "stop", "finish");
});

await check("AI SDK responses: providerOptions previousResponseId continues the conversation", async () => {
  const r1 = await generateText({ model: openai("openclaw"), maxRetries: 0, prompt: "remember me" });
  const id = r1.providerMetadata && r1.providerMetadata.openai && r1.providerMetadata.openai.responseId;
  assert(id && id === r1.response.id, "response id " + show(r1.providerMetadata) + " " + r1.response.id);
  const r2 = await generateText({
    model: openai("openclaw"), maxRetries: 0, prompt: "and now",
    providerOptions: { openai: { previousResponseId: id } },
  });
  assert(r2.text === "fake: and now", "text " + show(r2.text));
  if (upstreamLog) {
    const reqs = upstreamRequests();
    const seen = reqs[reqs.length - 1].body.messages.map((m) => m.role + ":" + m.content);
    assert(show(seen) === show(["system:You are a test.", "user:remember me", "assistant:fake: remember me",
      "user:and now"]), "upstream history " + show(seen));
  }
});

await check("AI SDK responses: a reasoning agent's answer comes through", async () => {
  const r = await generateText({ model: openai("openclaw:reason"), maxRetries: 0, prompt: "think" });
  assert(r.text === "fake: think", "text " + show(r.text));
  assert(r.finishReason === "stop", "finish " + r.finishReason);
});

await check("AI SDK responses: an unknown agent fails with the server's 404", async () => {
  try {
    await generateText({ model: openai("openclaw:nosuchagent"), maxRetries: 0, prompt: "x" });
  } catch (e) {
    assert(e.statusCode === 404, "status " + e.statusCode + " " + e.message);
    assert(/nosuchagent/.test(e.message), "message " + e.message);
    return;
  }
  throw new Error("no error raised");
});

done();
