// DOM helpers shared by the explorer and the job pages.

export const $ = (id) => document.getElementById(id);

// An element with attributes ("class" and "text" set its class and text; null, undefined and false are left
// out, true is an empty attribute) and children, each a node or text.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// A status line (the element with id ``id``): the message, shown as an error or not.
export function setStatus(message, isError = false, id = "status") {
  const line = $(id);
  line.textContent = message || "";
  line.classList.toggle("error", Boolean(isError));
}

// Saves ``content`` (a Blob, or text of MIME ``type``) as ``filename``.
export function download(content, type, filename) {
  const url = URL.createObjectURL(content instanceof Blob ? content : new Blob([content], { type }));
  const link = el("a", { href: url, download: filename });
  document.body.appendChild(link); link.click(); link.remove();
  // the click starts the download asynchronously; revoking at once could cancel it
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
