// Small DOM helpers shared by the explorer's modules.

export const $ = (id) => document.getElementById(id);

export function setStatus(message, isError) {
  const status = $("status");
  status.textContent = message || "";
  status.classList.toggle("error", Boolean(isError));
}

export function fillSelect(select, options, value) {
  select.replaceChildren();
  for (const [v, label] of options) {
    const option = document.createElement("option");
    option.value = v; option.textContent = label;
    select.appendChild(option);
  }
  if (options.some(([v]) => v === value)) select.value = value;
}

export function setSegmented(id, value) {
  document.querySelectorAll(`#${id} button`).forEach((b) => b.classList.toggle("active", b.dataset.value === String(value)));
}

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function download(content, type, filename) {
  const url = URL.createObjectURL(content instanceof Blob ? content : new Blob([content], { type }));
  const link = document.createElement("a");
  link.href = url; link.download = filename;
  document.body.appendChild(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function debounce(fn, wait) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), wait); };
}
