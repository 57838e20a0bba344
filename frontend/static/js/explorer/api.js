// The explorer's two API calls.  The token, when a server asks for one, is the one the job pages keep.

const TOKEN_KEY = "addrop-api-token";

export async function explainRequest(body, asked = false) {
  const headers = { "Content-Type": "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch("/api/explain", { method: "POST", headers, body: JSON.stringify(body) });
  if (response.status === 401 && !asked) {
    // This server keeps the explorer behind its API token (ADDROP_EXPLAIN_REQUIRES_TOKEN); ask once.
    const given = prompt("This server needs its API token to explain inputs:");
    if (given) {
      localStorage.setItem(TOKEN_KEY, given);
      return explainRequest(body, true);
    }
  }
  let payload = null;
  try { payload = await response.json(); } catch (error) { payload = null; }
  if (!response.ok) {
    const detail = payload && payload.detail ? payload.detail : `the server answered ${response.status}`;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return payload;
}

export async function listModels() {
  const response = await fetch("/api/models");
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  return response.json();
}
