// CSV as every download of the pages writes it (RFC 4180, CRLF line ends), safe to open in a spreadsheet.

/**
 * One CSV cell (RFC 4180). Numbers are written as they are, negative ones included; any other cell is text, and
 * text that a spreadsheet would run as a formula (starting with =, +, -, an at sign, a tab or a carriage return)
 * gets a leading single quote.
 * @param {unknown} value
 * @returns {string}
 */
export function csvCell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  let text = Array.isArray(value) ? value.join(",") : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Rows of cells as CSV text with CRLF line ends.
 * @param {unknown[][]} rows
 * @returns {string}
 */
export function toCsv(rows) {
  return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}
