// The explorer's two API calls, through the helper the job pages use too.

import { api } from "../common/http.js";

export function explainRequest(body) {
  // A server may keep the explorer behind its API token (ADDROP_EXPLAIN_REQUIRES_TOKEN); then it is asked once.
  return api("/api/explain", { method: "POST", json: body, tokenPrompt: "This server needs its API token to explain inputs:" });
}

export function listModels() {
  return api("/api/models");
}
