// The helpers the explorer and the job pages share (frontend/static/js/common/), run against a stubbed fetch.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";

import { api, responseError } from "../../frontend/static/js/common/http.js";

const JS = resolve(dirname(fileURLToPath(import.meta.url)), "../../frontend/static/js");

test("a refused request says what the server said, or its status when it said nothing", () => {
  const refused = responseError(422, "Unprocessable Content", { detail: "p: must be between 0 and 1", errors: [] });
  assert.equal(refused.message, "p: must be between 0 and 1");
  assert.equal(refused.status, 422);
  assert.deepEqual(refused.body.errors, []);
  assert.equal(responseError(422, "", { detail: [{ loc: ["body", "p"], msg: "bad" }] }).message,
    '[{"loc":["body","p"],"msg":"bad"}]');
  assert.equal(responseError(503, "Service Unavailable", null).message, "the server answered 503 Service Unavailable");
  assert.equal(responseError(502, "", "Bad gateway from the proxy\n").message, "Bad gateway from the proxy");
  assert.equal(responseError(500, "", "<html>" + "x".repeat(300)).message, "the server answered 500");
  assert.equal(responseError(404, "Not Found", { detail: "" }).message, "the server answered 404 Not Found");
});

let calls, answers;
const reply = (status, body) => ({ status, ok: status < 400, statusText: "", text: async () => (body === null ? "" : JSON.stringify(body)) });

beforeEach(() => {
  calls = []; answers = [];
  globalThis.fetch = async (path, options) => { calls.push({ path, ...options }); return answers.shift(); };
});
afterEach(() => { delete globalThis.fetch; });

test("JSON goes out as JSON, and no request carries a token: the login cookie does, sent by the browser", async () => {
  answers.push(reply(200, [{ name: "minilm" }]), reply(201, { id: 4 }));
  assert.deepEqual(await api("/api/models"), [{ name: "minilm" }]);
  assert.deepEqual(await api("/api/jobs", { method: "POST", json: { name: "x" } }), { id: 4 });
  assert.equal(calls[0].method, "GET");
  assert.equal(calls[1].headers["Content-Type"], "application/json");
  assert.equal(calls[1].body, '{"name":"x"}');
  for (const call of calls) {
    assert.deepEqual(Object.keys(call.headers).filter((name) => /authorization|token/i.test(name)), []);
    assert.equal(call.credentials, undefined);  // fetch's default, same-origin: the cookie goes to this server only
  }
});

test("a 401 is an error with the server's sentence, which says where to log in", async () => {
  answers.push(reply(401, { detail: "this server requires its API token for this request: ... or log in at /login" }));
  await assert.rejects(api("/api/jobs", { method: "POST", json: {} }),
    (error) => error.status === 401 && /log in at \/login/.test(error.message));
  assert.equal(calls.length, 1);  // not sent again
});

test("an empty answer is null and a non-JSON one is its text", async () => {
  answers.push(reply(200, null), { status: 200, ok: true, statusText: "", text: async () => "plain" });
  assert.equal(await api("/api/x"), null);
  assert.equal(await api("/api/y"), "plain");
});

// A module that imports a name its target does not export stops the whole page from loading; the helpers
// moved between modules, so every named import of every page script is checked (targets are library modules,
// which import without a DOM).
test("every name a script imports exists in the module it names", async () => {
  const files = readdirSync(JS, { recursive: true }).filter((f) => f.endsWith(".js")).map((f) => join(JS, f));
  let checked = 0;
  for (const file of files) {
    const source = readFileSync(file, "utf8");
    for (const [, names, from] of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
      const target = resolve(dirname(file), from);
      const exported = Object.keys(await import(target));
      for (const name of names.split(",").map((n) => n.trim().split(/\s+as\s+/)[0]).filter(Boolean)) {
        assert.ok(exported.includes(name), `${relative(JS, file)} imports ${name} from ${from}, which has no such export`);
        checked++;
      }
    }
    for (const [, alias, from] of source.matchAll(/import\s*\*\s*as\s+(\w+)\s+from\s*"([^"]+)"/g)) {
      const exported = Object.keys(await import(resolve(dirname(file), from)));
      for (const [, name] of source.matchAll(new RegExp(`\\b${alias}\\.(\\w+)`, "g"))) {
        assert.ok(exported.includes(name), `${relative(JS, file)} uses ${alias}.${name}, which ${from} does not export`);
        checked++;
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} imports checked`);
});
