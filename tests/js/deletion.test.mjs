// Deleting from the job and sweep pages (frontend/static/js/deletion.js): the same refusals as the API's 409s.
import assert from "node:assert/strict";
import { test } from "node:test";

import { deletePrompt, jobNotDeletable, sweepJobs, sweepNotDeletable } from "../../frontend/static/js/deletion.js";

test("a finished job of no sweep may be deleted; an unfinished one or a sweep's run may not", () => {
  for (const state of ["succeeded", "failed", "cancelled", "pruned"]) assert.equal(jobNotDeletable({ state, sweep_id: null }), null);
  for (const state of ["queued", "running"]) assert.match(jobNotDeletable({ state, sweep_id: null }), /cancel it first/);
  assert.equal(jobNotDeletable({ state: "succeeded", sweep_id: 4 }), "it is a run of sweep 4: delete the sweep");
});

test("a sweep may be deleted once it and all its jobs have stopped", () => {
  const counts = { complete: 2, "jobs.succeeded": 3, "jobs.cancelled": 1 };
  assert.deepEqual(sweepJobs({ counts }), { total: 4, open: 0 });
  assert.equal(sweepNotDeletable({ state: "succeeded", counts }), null);
  assert.match(sweepNotDeletable({ state: "running", counts }), /cancel it first/);
  assert.equal(sweepNotDeletable({ state: "cancelled", counts: { ...counts, "jobs.running": 1 } }), "1 of its jobs has not stopped yet");
  assert.equal(sweepNotDeletable({ state: "cancelled", counts: { "jobs.queued": 1, "jobs.running": 1 } }), "2 of its jobs have not stopped yet");
});

test("the question names what goes", () => {
  assert.match(deletePrompt("job", { id: 7 }), /^Delete job 7 with everything it left .* cannot be undone\.$/);
  assert.match(deletePrompt("sweep", { id: 2, counts: { "jobs.succeeded": 1 } }), /^Delete sweep 2 with its 1 job \(.*Optuna study/);
  assert.match(deletePrompt("sweep", { id: 2, counts: { "jobs.succeeded": 3 } }), /its 3 jobs/);
});
