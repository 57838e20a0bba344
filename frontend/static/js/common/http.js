// Requests to this app's API, shared by the explorer and the job pages: JSON in and out, the API token the
// pages keep (sent with every write), and errors that carry the server's own sentence (`detail`).

export const TOKEN_KEY = "addrop-api-token";

export function storedToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

// The error for a refused request: the 4xx/5xx body's `detail` when it has one, else the status.
export function responseError(status, statusText, body) {
  const detail = body && typeof body === "object" ? body.detail : null;
  const message = typeof detail === "string" && detail ? detail
    : detail ? JSON.stringify(detail)
    : typeof body === "string" && body.trim() && body.length <= 200 ? body.trim()
    : `the server answered ${status}${statusText ? ` ${statusText}` : ""}`;
  return Object.assign(new Error(message), { status, body });
}

function parse(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch (_) { return text; }
}

// `json` is sent as a JSON body; `body` (e.g. FormData) as it is.  With `tokenPrompt`, a 401 asks the user
// for the token once (with that question), keeps it, and sends the request again.
export async function api(path, { method = "GET", json, body, headers = {}, tokenPrompt = "" } = {}) {
  const sent = { ...headers };
  if (json !== undefined) sent["Content-Type"] = "application/json";
  if (method !== "GET" && storedToken()) sent.Authorization = `Bearer ${storedToken()}`;
  const response = await fetch(path, { method, headers: sent, body: json !== undefined ? JSON.stringify(json) : body });
  if (response.status === 401 && tokenPrompt) {
    const given = prompt(tokenPrompt);
    if (given) {
      localStorage.setItem(TOKEN_KEY, given);
      return api(path, { method, json, body, headers });
    }
  }
  const payload = parse(await response.text());
  if (!response.ok) throw responseError(response.status, response.statusText, payload);
  return payload;
}
