// validate.mjs - clawcgi's answers against OpenAI's schemas, with Ajv.
//
//   node validate.mjs MANIFEST
//
// MANIFEST has one answer a line: NAME <TAB> KIND <TAB> FILE [<TAB> SCHEMA],
// KIND one of
//   json           FILE is one JSON body, validated against SCHEMA (a name
//                  in openapi-schemas.json's components.schemas)
//   chat-sse       FILE is a chat completion stream: each "data:" line but
//                  [DONE] is a CreateChatCompletionStreamResponse, or an
//                  ErrorResponse when it carries "error"
//   responses-sse  FILE is a Responses stream: each event's data is the
//                  schema OpenAI gives its "type" (ResponseStreamEvent's
//                  members), and the "event:" line names that same type
// Prints one TAP line per answer, and per kind of chunk or event of a
// stream: "ok - NAME ..." or "not ok - NAME ..." with Ajv's errors as
// "#" lines.  Exit status 0 when every one is ok.
//
// The schemas are OpenAPI 3.1, that is JSON Schema 2020-12 (Ajv2020) with
// OpenAPI's own keywords (discriminator, x-*): strict: false ignores
// those, and formats are not checked (validateFormats: false).  A few
// schemas still say OpenAPI 3.0's "nullable: true" (the chat stream's
// logprobs, finish_reason, usage), which JSON Schema does not have:
// openapi30Nullable turns each into what 3.1 says for it (null added to
// "type" and "enum", or anyOf [the schema, {type: "null"}] beside a $ref).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const doc = JSON.parse(fs.readFileSync(path.join(here, "openapi-schemas.json"), "utf8"));
function openapi30Nullable(v) {
	if (Array.isArray(v)) return v.map(openapi30Nullable);
	if (!v || typeof v !== "object") return v;
	const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, openapi30Nullable(x)]));
	if (!("nullable" in o)) return o;
	const nullable = o.nullable === true;
	delete o.nullable;
	if (!nullable) return o;
	if (typeof o.type === "string") {
		o.type = [o.type, "null"];
		if (Array.isArray(o.enum)) o.enum = [...o.enum, null];
		return o;
	}
	if (o.$ref) {
		const { description, ...rest } = o;
		return { description, anyOf: [rest, { type: "null" }] };
	}
	throw new Error(`nullable without type or $ref: ${JSON.stringify(o).slice(0, 200)}`);
}
doc.components = openapi30Nullable(doc.components);
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema({ $id: "openapi", components: doc.components }, "openapi");

const compiled = new Map();
function validator(name) {
	if (!doc.components.schemas[name]) return null;
	if (!compiled.has(name)) compiled.set(name, ajv.getSchema(`openapi#/components/schemas/${name}`));
	return compiled.get(name);
}

let failed = 0;
function report(ok, name, lines = []) {
	console.log(`${ok ? "ok" : "not ok"} - ${name}`);
	for (const l of lines) console.log(`#   ${l}`);
	if (!ok) failed++;
}

// Ajv's errors, the ones that say most first: an anyOf's "must match a
// schema" only when nothing deeper was said.
function explain(errors, value) {
	const deep = errors.filter((e) => e.keyword !== "anyOf" && e.keyword !== "oneOf");
	const list = (deep.length ? deep : errors).slice(0, 12);
	const out = list.map(
		(e) => `${e.instancePath || "(top)"} ${e.message} ${JSON.stringify(e.params)} (${e.schemaPath})`,
	);
	out.push(`value: ${JSON.stringify(value).slice(0, 1500)}`);
	return out;
}

// One check: value against schema; results is a Map name -> [ok, lines]
// that keeps the first failure of each name.
function check(results, name, schema, value, extra = []) {
	const v = validator(schema);
	let res;
	if (!v) res = [false, [`no schema ${schema} in openapi-schemas.json (extract.mjs ROOTS)`]];
	else if (v(value)) res = [true, []];
	else res = [false, [...extra, ...explain(v.errors, value)]];
	const had = results.get(name);
	if (!had || (had[0] && !res[0])) results.set(name, res);
}

function chunkKind(c) {
	if (c.error) return "error event";
	if (!c.choices?.length) return c.usage ? "usage chunk" : "chunk without choices";
	const ch = c.choices[0], d = ch.delta ?? {};
	if (ch.finish_reason) return "finish chunk";
	if (d.role) return "role chunk";
	if (d.tool_calls) return "tool_calls chunk";
	if (d.reasoning_content !== undefined) return "reasoning chunk";
	if (ch.logprobs) return "logprobs chunk";
	return "content chunk";
}

function chatStream(name, text, results) {
	let n = 0;
	for (const line of text.split(/\r?\n/)) {
		if (!line.startsWith("data:")) continue;
		const data = line.slice(5).trim();
		if (data === "[DONE]") continue;
		const c = JSON.parse(data);
		n++;
		const kind = chunkKind(c);
		check(results, `${name}: ${kind} matches ${c.error ? "ErrorResponse" : "CreateChatCompletionStreamResponse"}`,
			c.error ? "ErrorResponse" : "CreateChatCompletionStreamResponse", c);
	}
	if (!n) results.set(`${name}: has chunks`, [false, ["no data: line"]]);
}

function responsesStream(name, text, results) {
	const events = doc["x-response-stream-events"];
	let event = null, n = 0;
	for (const line of text.split(/\r?\n/)) {
		if (line.startsWith("event:")) event = line.slice(6).trim();
		if (!line.startsWith("data:")) continue;
		const e = JSON.parse(line.slice(5).trim());
		n++;
		const schema = events[e.type];
		const test = `${name}: event ${e.type} matches ${schema ?? "a schema"}`;
		if (!schema) results.set(test, [false, [`OpenAI has no streaming event of type ${e.type}`]]);
		else if (event !== e.type) results.set(test, [false, [`event: line ${event}, data.type ${e.type}`]]);
		else check(results, test, schema, e);
		event = null;
	}
	if (!n) results.set(`${name}: has events`, [false, ["no data: line"]]);
}

const manifest = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean);
for (const line of manifest) {
	const [name, kind, file, schema] = line.split("\t");
	const results = new Map();
	let text;
	try {
		text = fs.readFileSync(file, "utf8");
		if (kind === "json") check(results, `${name} matches ${schema}`, schema, JSON.parse(text));
		else if (kind === "chat-sse") chatStream(name, text, results);
		else if (kind === "responses-sse") responsesStream(name, text, results);
		else throw new Error(`unknown kind ${kind}`);
	} catch (err) {
		results.set(`${name} ${schema ? `matches ${schema}` : "is read"}`, [false, [String(err), `body: ${String(text).slice(0, 500)}`]]);
	}
	for (const [test, [ok, lines]] of results) report(ok, test, lines);
}
process.exit(failed ? 1 : 0);
