// The official OpenAI Node SDK's embeddings.create against clawcgi: each
// check prints "ok - name" or "not ok - name" (counted by tests/run).
//   node embeddings.test.mjs BASE_URL TOKEN
// Agents (tests/node/run.sh): "main" embeds with fake/embed-test (the fake
// upstream: input i's vector is [i + 0.5, its length, 0.25, -1]), "echo"
// with the echo provider (8 numbers of length 1, README "POST
// /v1/embeddings"), "beta" has no embeddingModel.
import OpenAI from "openai";
import { check, assert, done } from "./check.mjs";

const [base, token] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: token, maxRetries: 0, timeout: 30000 });

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const show = (v) => JSON.stringify(Array.from(v));
const length = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

await check("SDK embeddings: a string (base64 by default, decoded by the SDK)", async () => {
  const r = await client.embeddings.create({ model: "openclaw", input: "hello sdk" });
  assert(r.object === "list" && r.model === "openclaw", "shape " + JSON.stringify(r));
  assert(r.data.length === 1 && r.data[0].object === "embedding" && r.data[0].index === 0,
    "data " + JSON.stringify(r.data));
  assert(same(Array.from(r.data[0].embedding), [0.5, 9, 0.25, -1]), "vector " + show(r.data[0].embedding));
  assert(r.usage.prompt_tokens === 9 && r.usage.total_tokens === 9, "usage " + JSON.stringify(r.usage));
});

await check("SDK embeddings: an array of strings, one vector each by index", async () => {
  const r = await client.embeddings.create({ model: "openclaw", input: ["a", "bb", "ccc"] });
  assert(r.data.length === 3, "count " + r.data.length);
  r.data.forEach((d, i) => {
    assert(d.index === i, "index " + d.index);
    assert(same(Array.from(d.embedding), [i + 0.5, i + 1, 0.25, -1]), "vector " + i + " " + show(d.embedding));
  });
});

await check("SDK embeddings: token arrays", async () => {
  const r = await client.embeddings.create({ model: "openclaw", input: [[1, 2, 3], [4]] });
  assert(r.data.length === 2, "count " + r.data.length);
  assert(r.data[0].embedding[1] === 3 && r.data[1].embedding[1] === 1,
    "lengths " + show(r.data[0].embedding) + " " + show(r.data[1].embedding));
});

await check("SDK embeddings: encoding_format float gives plain numbers, the same as the default", async () => {
  const f = await client.embeddings.create({ model: "openclaw", input: "hello sdk", encoding_format: "float" });
  const d = await client.embeddings.create({ model: "openclaw", input: "hello sdk" });
  assert(Array.isArray(f.data[0].embedding), "float is " + typeof f.data[0].embedding);
  assert(same(f.data[0].embedding, Array.from(d.data[0].embedding)),
    "float " + show(f.data[0].embedding) + " default " + show(d.data[0].embedding));
});

await check("SDK embeddings: encoding_format base64 asked explicitly comes back as the string", async () => {
  const r = await client.embeddings.create({ model: "openclaw", input: "hello sdk", encoding_format: "base64" });
  const e = r.data[0].embedding;
  assert(typeof e === "string", "type " + typeof e);
  const buf = Buffer.from(e, "base64");
  const v = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
  assert(same(v, [0.5, 9, 0.25, -1]), "decoded " + show(v));
});

await check("SDK embeddings: the echo agent (model openclaw:echo), deterministic, unit length", async () => {
  const a = await client.embeddings.create({ model: "openclaw:echo", input: "deploy check" });
  const b = await client.embeddings.create({ model: "openclaw:echo", input: "deploy check", encoding_format: "float" });
  const c = await client.embeddings.create({ model: "openclaw:echo", input: "another text" });
  const va = Array.from(a.data[0].embedding), vb = b.data[0].embedding, vc = Array.from(c.data[0].embedding);
  assert(a.model === "openclaw:echo", "model " + a.model);
  assert(va.length === 8 && Math.abs(length(va) - 1) < 1e-5, "vector " + show(va));
  // the numbers are the float32s base64 carries, in 9 digits
  assert(same(va, vb.map(Math.fround)), "base64 " + show(va) + " float " + show(vb));
  assert(!same(va, vc), "another text gave " + show(vc));
  assert(a.usage.prompt_tokens === 2, "usage " + JSON.stringify(a.usage));
});

await check("SDK embeddings: dimensions shapes the echo vector", async () => {
  const r = await client.embeddings.create({ model: "openclaw:echo", input: ["x", "y"], dimensions: 16 });
  assert(r.data.length === 2 && r.data.every((d) => d.embedding.length === 16),
    "lengths " + r.data.map((d) => d.embedding.length));
});

await check("SDK embeddings: an agent without embeddingModel raises BadRequestError", async () => {
  try {
    await client.embeddings.create({ model: "openclaw:beta", input: "x" });
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError, "got " + e.constructor.name);
    assert(e.status === 400 && /embeddingModel/.test(e.message), "error " + e.status + " " + e.message);
    return;
  }
  throw new Error("no error raised");
});

await check("SDK embeddings: an empty input raises BadRequestError naming it", async () => {
  try {
    await client.embeddings.create({ model: "openclaw", input: "" });
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError, "got " + e.constructor.name);
    assert(/`input`/.test(e.message), "message " + e.message);
    return;
  }
  throw new Error("no error raised");
});

await check("SDK embeddings: an unknown agent raises NotFoundError", async () => {
  try {
    await client.embeddings.create({ model: "openclaw:nosuchagent", input: "x" });
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError, "got " + e.constructor.name);
    assert(e.code === "model_not_found", "code " + e.code);
    return;
  }
  throw new Error("no error raised");
});

done();
