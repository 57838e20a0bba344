// Requests to this app's API, shared by the explorer and the job pages: JSON in and out, and errors that carry
// the server's own sentence (`detail`). A server with an API token knows the browser by its login cookie
// (HttpOnly, set by /login), which fetch sends to this origin on its own: no page ever holds the token.

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

// `json` is sent as a JSON body; `body` (e.g. FormData) as it is.
export async function api(path, { method = "GET", json, body, headers = {} } = {}) {
  const sent = { ...headers };
  if (json !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers: sent, body: json !== undefined ? JSON.stringify(json) : body });
  const payload = parse(await response.text());
  if (!response.ok) throw responseError(response.status, response.statusText, payload);
  return payload;
}
