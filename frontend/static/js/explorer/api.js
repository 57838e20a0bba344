// The explorer's two API calls, through the helper the job pages use too.

import { api } from "../common/http.js";

export function explainRequest(body) {
  // A server that keeps the explorer behind its API token (ADDROP_EXPLAIN_REQUIRES_TOKEN) refuses a browser that
  // has not logged in, and its answer says where to log in.
  return api("/api/explain", { method: "POST", json: body });
}

export function listModels() {
  return api("/api/models");
}
