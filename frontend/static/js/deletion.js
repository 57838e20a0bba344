/* Deleting a job or a sweep from its page: whether it may be deleted now (and why not), the sentence that asks,
   and the confirm step (the delete button shows a strip with that sentence; only its own button deletes). */

import { FINISHED } from "./jobs-common.js";

/** Why the job cannot be deleted now, or null when it can (the API refuses the same with 409). */
export function jobNotDeletable(job) {
  if (job.sweep_id !== null && job.sweep_id !== undefined) return `it is a run of sweep ${job.sweep_id}: delete the sweep`;
  if (!FINISHED.includes(job.state)) return "cancel it first, and delete it once it has stopped";
  return null;
}

/** Jobs of a sweep (from its ``counts``: ``jobs.<state>``), and how many of them have not stopped. */
export function sweepJobs(sweep) {
  let total = 0, open = 0;
  for (const [key, count] of Object.entries(sweep.counts || {})) {
    if (!key.startsWith("jobs.")) continue;
    total += count;
    if (!FINISHED.includes(key.slice(5))) open += count;
  }
  return { total, open };
}

/** Why the sweep cannot be deleted now, or null when it can. */
export function sweepNotDeletable(sweep) {
  if (sweep.state === "running") return "cancel it first, and delete it once its jobs have stopped";
  const { open } = sweepJobs(sweep);
  if (open) return `${open} of its jobs ${open === 1 ? "has" : "have"} not stopped yet`;
  return null;
}

/** The confirm step's question. */
export function deletePrompt(kind, item) {
  if (kind === "job") {
    return `Delete job ${item.id} with everything it left (checkpoint, metrics, log, files)? This cannot be undone.`;
  }
  const { total } = sweepJobs(item);
  return `Delete sweep ${item.id} with its ${total} job${total === 1 ? "" : "s"} (their checkpoints, metrics, logs and ` +
    "files) and its Optuna study? This cannot be undone.";
}

/** Wire the confirm step: ``button`` opens ``strip`` (its ``.prompt`` shows ``prompt()``), whose ``.confirm``
    runs ``run`` and whose ``.dismiss`` closes it. ``run``'s error is shown in the strip. */
export function confirmStep(button, strip, prompt, run) {
  const text = strip.querySelector(".prompt"), yes = strip.querySelector(".confirm"), no = strip.querySelector(".dismiss");
  button.addEventListener("click", () => { text.textContent = prompt(); text.classList.remove("error"); strip.classList.remove("hidden"); yes.focus(); });
  no.addEventListener("click", () => strip.classList.add("hidden"));
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    try {
      await run();
    } catch (error) {
      text.textContent = error.message;
      text.classList.add("error");
    } finally {
      yes.disabled = false;
    }
  });
}
