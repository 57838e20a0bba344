// The "How AD-DROP works" walk-through: a card that steps through walkthrough.js's four steps and a
// highlight laid over the panel each step talks about.  The texts are rebuilt from the current numbers
// whenever the view changes, so moving p or q while it is open updates them.

import { $, el } from "../common/dom.js";
import { PAPER_URL, walkthroughSteps } from "./walkthrough.js";

// The box of figure panel k's map in the figure's own pixels, a few pixels out so the border leaves
// the cells visible.
function panelBox(figure, k) {
  const layout = figure._fullLayout;
  const suffix = k === 0 ? "" : String(k + 1);
  const xa = layout && layout[`xaxis${suffix}`], ya = layout && layout[`yaxis${suffix}`];
  if (!xa || !ya) return null;
  return { left: xa._offset - 6, top: ya._offset - 6, width: xa._length + 12, height: ya._length + 12 };
}

function spotsFor(target) {
  const host = $(target.element);
  if (!target.panels) return [{ parent: host, box: { left: -6, top: -6, width: host.offsetWidth + 12, height: host.offsetHeight + 12 } }];
  // The figure's stack is positioned, so boxes in the figure's pixels land on the panels.
  return target.panels.map((k) => ({ parent: host.parentElement, box: panelBox(host, k) })).filter((s) => s.box);
}

export function createWalkthrough(card, facts, beforeShow) {
  let index = 0, count = 0, open = false;
  let spots = [];

  const counter = el("div", { class: "wt-counter" });
  const title = el("h2", { class: "wt-title" });
  const text = el("p", { class: "wt-text" });
  const look = el("p", { class: "wt-look" });
  const back = el("button", { type: "button", class: "secondary small", text: "Back" });
  const next = el("button", { type: "button", class: "small", text: "Next" });
  const close = el("button", { type: "button", class: "wt-close", text: "×", title: "Close the walk-through", "aria-label": "Close the walk-through" });
  const paper = el("a", { class: "wt-paper", href: PAPER_URL, target: "_blank", rel: "noopener", text: "The paper (Yang et al., NeurIPS 2022)" });
  const buttons = el("div", { class: "wt-buttons" }, paper, back, next);
  card.replaceChildren(close, counter, title, text, look, buttons);
  card.setAttribute("role", "dialog");
  card.setAttribute("aria-label", "How AD-DROP works");

  function clearSpots() {
    spots.forEach((spot) => spot.remove());
    spots = [];
  }

  function show(scroll) {
    const known = facts();
    if (!open || !known) return;
    const steps = walkthroughSteps(known);
    const step = steps[index];
    count = steps.length;
    counter.textContent = `Step ${index + 1} of ${steps.length}`;
    title.textContent = step.title;
    text.textContent = step.text;
    look.textContent = step.look;
    back.disabled = index === 0;
    next.textContent = index === steps.length - 1 ? "Done" : "Next";
    card.dataset.step = step.key;
    card.dataset.target = step.target.element + (step.target.panels ? `:${step.target.panels.join(",")}` : "");
    clearSpots();
    for (const { parent, box } of spotsFor(step.target)) {
      const spot = el("div", { class: "wt-spot" });
      Object.assign(spot.style, { left: `${box.left}px`, top: `${box.top}px`, width: `${box.width}px`, height: `${box.height}px` });
      spots.push(parent.appendChild(spot));
    }
    if (scroll && spots[0]) spots[0].scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function go(to) {
    index = to;
    show(true);
  }

  back.addEventListener("click", () => go(Math.max(0, index - 1)));
  next.addEventListener("click", () => (index === count - 1 ? api.close() : go(index + 1)));
  close.addEventListener("click", () => api.close());
  card.addEventListener("keydown", (event) => { if (event.key === "Escape") api.close(); });

  const api = {
    open() {
      beforeShow();
      open = true;
      card.classList.remove("hidden");
      go(0);
      next.focus({ preventScroll: true });
    },
    close() {
      open = false;
      card.classList.add("hidden");
      clearSpots();
    },
    // The numbers or the figure changed: same step, new texts and boxes, no scrolling.
    refresh() { show(false); },
  };
  return api;
}
