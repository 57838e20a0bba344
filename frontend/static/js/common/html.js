// Text made safe for HTML and for Plotly's names, titles, labels and hover text.

/**
 * Text made safe for innerHTML and for Plotly's names, titles and hover text (Plotly renders a subset of HTML
 * there). Quotes become numeric references because Plotly decodes those but not the named &quot; (a token `"`
 * would otherwise show as "&quot;" on a map's axis).
 * @param {unknown} text
 * @returns {string}
 */
export function escapeHtml(text) {
  return String(text ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&#34;").replace(/'/g, "&#39;");
}
