// extract.mjs - the part of OpenAI's OpenAPI document the conformance test
// uses, written once when the document is vendored (see README):
//
//   node extract.mjs FULL-openapi.json COMMIT DATE >openapi-schemas.json
//
// Keeps the component schemas named in ROOTS and every schema they reach
// through "$ref" ("#/components/schemas/..."), unchanged, and the map of
// every Responses streaming event type to its schema's name (from the
// members of ResponseStreamEvent), so that validate.mjs can tell an event
// type OpenAI does not have from one this extract left out.
import fs from "node:fs";

const ROOTS = [
	"CreateChatCompletionResponse",
	"CreateChatCompletionStreamResponse",
	"ErrorResponse",
	"CreateEmbeddingResponse",
	"ListModelsResponse",
	"Model",
	"Response",
	// the Responses streaming events clawcgi sends
	"ResponseCreatedEvent",
	"ResponseInProgressEvent",
	"ResponseOutputItemAddedEvent",
	"ResponseOutputItemDoneEvent",
	"ResponseContentPartAddedEvent",
	"ResponseContentPartDoneEvent",
	"ResponseTextDeltaEvent",
	"ResponseTextDoneEvent",
	"ResponseReasoningTextDeltaEvent",
	"ResponseReasoningTextDoneEvent",
	"ResponseFunctionCallArgumentsDeltaEvent",
	"ResponseFunctionCallArgumentsDoneEvent",
	"ResponseCompletedEvent",
	"ResponseIncompleteEvent",
	"ResponseFailedEvent",
	"ResponseErrorEvent",
];

const [file, commit, date] = process.argv.slice(2);
if (!file || !commit || !date) {
	console.error("usage: node extract.mjs openapi.json COMMIT DATE");
	process.exit(2);
}
const doc = JSON.parse(fs.readFileSync(file, "utf8"));
const all = doc.components.schemas;
const seen = new Set();
function walk(v) {
	if (Array.isArray(v)) return v.forEach(walk);
	if (!v || typeof v !== "object") return;
	for (const [k, x] of Object.entries(v)) {
		if (k !== "$ref") {
			walk(x);
			continue;
		}
		const m = /^#\/components\/schemas\/(.+)$/.exec(x);
		if (!m || !all[m[1]]) throw new Error(`a $ref this script cannot follow: ${x}`);
		if (!seen.has(m[1])) {
			seen.add(m[1]);
			walk(all[m[1]]);
		}
	}
}
for (const r of ROOTS) {
	if (!all[r]) throw new Error(`no schema ${r} in ${file}`);
	seen.add(r);
	walk(all[r]);
}
const events = {};
for (const m of all.ResponseStreamEvent.anyOf) {
	const name = m.$ref.replace("#/components/schemas/", "");
	for (const t of all[name].properties?.type?.enum ?? []) events[t] = name;
}
const schemas = {};
for (const k of [...seen].sort()) schemas[k] = all[k];
const out = {
	"x-source": {
		repository: "https://github.com/openai/openai-openapi",
		commit,
		date,
		file: "openapi.json",
		openapi: doc.openapi,
		version: doc.info.version,
		extracted: `tests/conformance/extract.mjs: ${ROOTS.length} root schemas and the ${seen.size - ROOTS.length} more they reach`,
	},
	"x-response-stream-events": events,
	components: { schemas },
};
// one schema per line: a later re-extraction diffs by schema
process.stdout.write(JSON.stringify({ ...out, components: undefined }, null, 1).replace(/\n}$/, ",\n") +
	' "components": {\n  "schemas": {\n' +
	Object.entries(schemas).map(([k, v]) => `   ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(",\n") +
	"\n  }\n }\n}\n");
