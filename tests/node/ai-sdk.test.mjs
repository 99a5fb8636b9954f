// The Vercel AI SDK (package "ai" with "@ai-sdk/openai-compatible") talking
// to clawcgi: a tool loop with generateText and streamText, and structured
// output through an anthropic-messages agent.  Each check prints "ok - name"
// or "not ok - name" (counted by tests/run).  Needs Node 22 (the SDK's
// engines): run.sh starts it with the node from the npm package "node".
//   node ai-sdk.test.mjs BASE_URL TOKEN
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, streamText, tool, isStepCount, Output } from "ai";
import { z } from "zod";
import { check, assert, done } from "./check.mjs";

const [base, token] = process.argv.slice(2);
const clawcgi = createOpenAICompatible({
  name: "clawcgi", baseURL: base + "/v1", apiKey: token, includeUsage: true,
  supportsStructuredOutputs: true,
});

// The fake model "tools" calls the first tool with {"city": "Paris"}, then
// answers "fake: the tool said <result>" once the result is sent back.
const calls = [];
const weather = tool({
  description: "The weather in a city now",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    calls.push(city);
    return { city, sky: "sunny" };
  },
});

await check("AI SDK: generateText runs a two-step tool loop", async () => {
  calls.length = 0;
  const r = await generateText({
    model: clawcgi.chatModel("openclaw:tools"), maxRetries: 0,
    tools: { get_weather: weather }, stopWhen: isStepCount(3),
    prompt: "weather in Paris?",
  });
  assert(calls.length === 1 && calls[0] === "Paris", "tool calls " + JSON.stringify(calls));
  assert(r.steps.length === 2, "steps " + r.steps.length);
  assert(r.steps[0].finishReason === "tool-calls", "first step " + r.steps[0].finishReason);
  assert(r.steps[0].toolCalls[0].toolName === "get_weather", "call " + JSON.stringify(r.steps[0].toolCalls));
  assert(r.text === 'fake: the tool said {"city":"Paris","sky":"sunny"}', "text " + JSON.stringify(r.text));
  assert(r.finishReason === "stop", "finish " + r.finishReason);
});

await check("AI SDK: streamText streams the tool call, its result and the answer", async () => {
  calls.length = 0;
  const r = streamText({
    model: clawcgi.chatModel("openclaw:tools"), maxRetries: 0,
    tools: { get_weather: weather }, stopWhen: isStepCount(3),
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
  assert(calls.length === 1, "tool calls " + JSON.stringify(calls));
  assert(text === 'fake: the tool said {"city":"Paris","sky":"sunny"}', "text " + JSON.stringify(text));
  assert((await r.steps).length === 2, "steps");
});

await check("AI SDK: structured output through an anthropic-messages agent", async () => {
  const r = await generateText({
    model: clawcgi.chatModel("openclaw:claude"), maxRetries: 0,
    output: Output.object({ schema: z.object({ answer: z.string(), n: z.number() }) }),
    prompt: "give me json",
  });
  assert(r.output && r.output.answer === "fake: give me json" && r.output.n === 42,
         "output " + JSON.stringify(r.output));
  assert(r.finishReason === "stop", "finish " + r.finishReason);
});

await check("AI SDK: a tool loop with an anthropic-messages agent", async () => {
  calls.length = 0;
  const r = await generateText({
    model: clawcgi.chatModel("openclaw:claudetools"), maxRetries: 0,
    tools: { get_weather: weather }, stopWhen: isStepCount(3),
    prompt: "weather?",
  });
  assert(calls.length === 1 && calls[0] === "Paris", "tool calls " + JSON.stringify(calls));
  assert(r.text === 'fake: the tool said {"city":"Paris","sky":"sunny"}', "text " + JSON.stringify(r.text));
});

done();
