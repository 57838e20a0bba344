// The explorer's own control helpers; the ones the job pages share live in ../common/dom.js.

import { el } from "../common/dom.js";

export function fillSelect(select, options, value) {
  select.replaceChildren(...options.map(([v, label]) => el("option", { value: v, text: label })));
  if (options.some(([v]) => v === value)) select.value = value;
}

export function setSegmented(id, value) {
  document.querySelectorAll(`#${id} button`).forEach((b) => b.classList.toggle("active", b.dataset.value === String(value)));
}

export function debounce(fn, wait) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), wait); };
}
