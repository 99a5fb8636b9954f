// The official OpenAI Node SDK talking to clawcgi: each check prints
// "ok - name" or "not ok - name" (counted by tests/run).
//   node client.test.mjs BASE_URL TOKEN
import OpenAI from "openai";
import { check, assert, done } from "./check.mjs";

const [base, token] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: token, maxRetries: 0, timeout: 30000 });

await check("SDK: non-streaming chat returns the answer", async () => {
  const r = await client.chat.completions.create({
    model: "openclaw", messages: [{ role: "user", content: "hello sdk" }],
  });
  assert(r.choices[0].message.content === "fake: hello sdk", "content " + JSON.stringify(r.choices[0]));
  assert(r.object === "chat.completion" && r.id.startsWith("chatcmpl_"), "shape " + JSON.stringify(r));
  assert(r.usage.total_tokens === 18, "usage " + JSON.stringify(r.usage));
});

await check("SDK: streaming yields several chunks that add up to the answer", async () => {
  const stream = await client.chat.completions.create({
    model: "openclaw:beta", stream: true, messages: [{ role: "user", content: "stream me" }],
  });
  let text = "", contentChunks = 0, finish = null;
  const ids = new Set();
  for await (const chunk of stream) {
    ids.add(chunk.id);
    const c = chunk.choices[0];
    if (c && c.delta && c.delta.content) { text += c.delta.content; contentChunks++; }
    if (c && c.finish_reason) finish = c.finish_reason;
  }
  assert(text === "fake: stream me", "text " + JSON.stringify(text));
  assert(contentChunks === 3, "chunks " + contentChunks);
  assert(finish === "stop", "finish " + finish);
  assert(ids.size === 1, "ids " + [...ids]);
});

await check("SDK: models.list includes every agent", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert(ids.includes("openclaw:main") && ids.includes("openclaw:beta"), "ids " + ids);
});

await check("SDK: models.retrieve finds an agent", async () => {
  const m = await client.models.retrieve("openclaw:beta");
  assert(m.id === "openclaw:beta", "id " + m.id);
});

await check("SDK: a wrong token raises AuthenticationError", async () => {
  const bad = new OpenAI({ baseURL: base + "/v1", apiKey: "wrong-token", maxRetries: 0 });
  try {
    await bad.chat.completions.create({ model: "openclaw", messages: [{ role: "user", content: "x" }] });
  } catch (e) {
    assert(e instanceof OpenAI.AuthenticationError, "got " + e.constructor.name);
    assert(e.status === 401, "status " + e.status);
    return;
  }
  throw new Error("no error raised");
});

await check("SDK: an unknown agent raises NotFoundError", async () => {
  try {
    await client.chat.completions.create({ model: "openclaw:nosuchagent", messages: [{ role: "user", content: "x" }] });
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError, "got " + e.constructor.name);
    assert(e.code === "model_not_found", "code " + e.code);
    assert(/nosuchagent/.test(e.message), "message " + e.message);
    return;
  }
  throw new Error("no error raised");
});

await check("SDK: a bad request raises BadRequestError", async () => {
  try {
    await client.chat.completions.create({ model: "openclaw", messages: [] });
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError, "got " + e.constructor.name);
    return;
  }
  throw new Error("no error raised");
});

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } } },
  },
};

await check("SDK: runTools completes a two-step tool loop", async () => {
  const calls = [];
  const runner = client.chat.completions.runTools({
    model: "openclaw:tools",
    messages: [{ role: "user", content: "weather in Paris?" }],
    tools: [{
      type: "function",
      function: {
        name: "get_weather",
        parameters: weatherTool.function.parameters,
        parse: JSON.parse,
        function: (args) => { calls.push(args); return "sunny in " + args.city; },
      },
    }],
  });
  const final = await runner.finalContent();
  assert(calls.length === 1 && calls[0].city === "Paris", "calls " + JSON.stringify(calls));
  assert(final === "fake: the tool said sunny in Paris", "final " + JSON.stringify(final));
});

await check("SDK: chat.completions.stream() accumulates two parallel tool calls", async () => {
  const stream = client.chat.completions.stream({
    model: "openclaw:tools2",
    messages: [{ role: "user", content: "two calls" }],
    tools: [weatherTool, { type: "function", function: { name: "get_time", parameters: { type: "object" } } }],
  });
  const done = await stream.finalChatCompletion();
  const tc = done.choices[0].message.tool_calls || [];
  assert(done.choices[0].finish_reason === "tool_calls", "finish " + done.choices[0].finish_reason);
  assert(tc.length === 2 && tc[0].function.name === "get_weather" && tc[1].function.name === "get_time",
    "calls " + JSON.stringify(tc));
  assert(JSON.parse(tc[1].function.arguments).city === "Rome", "arguments " + tc[1].function.arguments);
});

await check("SDK: n: 2 gives two choices", async () => {
  const r = await client.chat.completions.create({
    model: "openclaw", n: 2, messages: [{ role: "user", content: "twice" }],
  });
  assert(r.choices.length === 2 && r.choices[1].index === 1, "choices " + JSON.stringify(r.choices));
  assert(r.choices[1].message.content === "fake: twice (choice 1)", "second " + r.choices[1].message.content);
});

await check("SDK: reasoning_content is visible, streamed and not", async () => {
  const r = await client.chat.completions.create({
    model: "openclaw:reason", messages: [{ role: "user", content: "think" }],
  });
  assert(r.choices[0].message.reasoning_content === "thinking about it",
    "message " + JSON.stringify(r.choices[0].message));
  const stream = await client.chat.completions.create({
    model: "openclaw:reason", stream: true, messages: [{ role: "user", content: "think" }],
  });
  let reasoning = "";
  for await (const chunk of stream) {
    const d = chunk.choices[0] && chunk.choices[0].delta;
    if (d && d.reasoning_content) reasoning += d.reasoning_content;
  }
  assert(reasoning === "thinking about it", "streamed " + JSON.stringify(reasoning));
});

done();
