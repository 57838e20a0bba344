/* The job form: defaults from the server, uploads with column mapping (a translation's languages), inline
   validation, the fields of the chosen task's kind, submit. */

import { api } from "./common/http.js";
import { epochsWarning, numberMessage, wholeNumbers } from "./job-checks.js";
import { TASK_FIELDS, presetLines, presetValues } from "./job-preset.js";

(() => {
  const form = document.getElementById("job-form");
  const defaults = JSON.parse(document.getElementById("job-defaults").textContent);
  const uploads = { train: null, validation: null };
  let source = defaults.data.source || "hub";
  const field = (name) => form.elements.namedItem(name);

  function get(object, path) { return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), object); }

  function fill() {
    for (const input of form.querySelectorAll("[name]")) {
      const value = get(defaults, input.name);
      if (value === undefined) continue;
      if (input.type === "checkbox") input.checked = Boolean(value);
      else if (Array.isArray(value) && input.tagName !== "SELECT") input.value = value.join(", ");
      else if (value !== null) input.value = value;
    }
    if (defaults.data.task_kind) field("upload.task").value = defaults.data.task;
  }

  function showSource() {
    const buttons = [...document.querySelectorAll("#source button")];
    // An offline server marks the hub source (and tasks it has no cached dataset for) as unusable.
    if (buttons.some((b) => b.dataset.value === source && b.disabled)) {
      source = (buttons.find((b) => !b.disabled) || buttons[0]).dataset.value;
    }
    buttons.forEach((b) => b.classList.toggle("active", b.dataset.value === source));
    const task = field("data.task");
    for (const option of task.options) option.disabled = source === "hub" && option.dataset.hub === "no";
    if (task.selectedOptions[0] && task.selectedOptions[0].disabled) {
      const usable = [...task.options].find((option) => !option.disabled);
      if (usable) task.value = usable.value;
    }
    for (const kind of ["hub", "directory", "upload"]) {
      document.querySelectorAll(`.source-${kind}`).forEach((node) => {
        const shown = [...node.classList].some((c) => c === `source-${source}`);
        node.classList.toggle("hidden", !shown);
      });
    }
    showSettings();
  }

  /** Whether the job is a translation: an upload of that kind, or a known translation task (wmt16). */
  function isTranslation() {
    if (source === "upload") return field("data.task_kind").value === "translation";
    const option = field("data.task").selectedOptions[0];
    return Boolean(option) && option.dataset.kind === "translation";
  }

  /** Show the fields the job's settings use (AD-DROP's when it is on, the recording's when it records, a
      translation's generation and attention kind, a translation's languages instead of columns and labels);
      a field not shown is disabled, so it neither checks nor submits. */
  function showSettings() {
    const translation = isTranslation();
    const rules = [
      [".addrop-only", !field("addrop.enabled").checked, "disabled"],
      [".dynamics-only", !field("dynamics.enabled").checked, "disabled"],
      [".translation-only", !translation, "hidden"],
      [".not-translation", translation, "hidden"],
      [".columns-only", translation, "hidden"],
      [".languages-only", !translation, "hidden"],
    ];
    for (const [selector, off, look] of rules) form.querySelectorAll(selector).forEach((node) => node.classList.toggle(look, off));
    for (const input of form.querySelectorAll("input, select")) {
      const off = rules.some(([selector, hidden]) => hidden && input.closest(selector));
      if (input.closest(".form-grid") && input.name) input.disabled = off;
    }
  }

  function setValue(name, value) {
    const input = field(name);
    if (!input) return;
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = value === null ? "" : value;
    checkInput(input);
  }

  let presetRequest = 0;  // a later request wins: a slow answer for an earlier task is dropped

  /** Fill the form from the chosen preset for the chosen task and model (after a change of task or model, only
      the fields that depend on them), and list where each value comes from. */
  async function applyPreset(event) {
    const only = event && event.target.id !== "preset" ? TASK_FIELDS : null;
    const request = ++presetRequest;
    const name = document.getElementById("preset").value;
    const list = document.getElementById("preset-sources");
    const error = document.getElementById("preset-error");
    list.replaceChildren();
    error.textContent = "";
    if (!name) return;
    const task = source === "upload" ? field("upload.task").value : field("data.task").value;
    const query = new URLSearchParams({ task, model: field("model").value.trim() || "minilm" });
    try {
      const preset = await api(`/api/presets/${encodeURIComponent(name)}?${query}`);
      if (request !== presetRequest) return;
      for (const [key, value] of Object.entries(presetValues(preset, only))) setValue(key, value);
      showSettings();
      list.replaceChildren(...presetLines(preset).map((line) => Object.assign(document.createElement("li"), { textContent: line })));
    } catch (failure) {
      if (request === presetRequest) error.textContent = failure.message;
    }
  }

  function setError(name, message) {
    const slot = form.querySelector(`.field-error[data-for="${name}"]`);
    const input = field(name);
    if (input && input.classList) input.classList.toggle("invalid", Boolean(message));
    if (slot) { slot.textContent = message || ""; return true; }
    return false;
  }

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach((slot) => { slot.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((input) => input.classList.remove("invalid"));
    document.getElementById("form-error").classList.add("hidden");
  }

  /** Browser-side checks that mirror the API's limits, shown at the field as the user types. */
  function checkInput(input) {
    if (input.disabled || !input.name) return true;
    let message = "";
    if (input.type === "number") {
      message = numberMessage(input.name, input.value, input.validity, input.getAttribute("min"), input.getAttribute("max"));
    } else if (["addrop.layers", "dynamics.probe_ids"].includes(input.name)) {
      message = wholeNumbers(input.value).message;
    } else if (input.name === "data.data_dir" && source === "directory") {
      message = input.value.trim() ? "" : "required: a directory on the workers holding the task's files";
    } else {
      return true;
    }
    setError(input.name, message);
    return !message;
  }

  /** The note under the epochs field when the settings make a job that never drops. */
  function showEpochsWarning() {
    const note = document.getElementById("epochs-warning");
    note.textContent = epochsWarning({ enabled: field("addrop.enabled").checked, crossTuning: field("addrop.cross_tuning").checked,
                                       epochs: numberOrNull("training.epochs") });
    note.classList.toggle("hidden", !note.textContent);
  }

  function numberOrNull(name) { const v = field(name).value; return v === "" ? null : Number(v); }

  function body() {
    const training = {};
    for (const key of ["learning_rate", "epochs", "batch_size", "max_length", "seed", "patience", "weight_decay",
                       "warmup_ratio", "logging_steps", "eval_batch_size"]) training[key] = numberOrNull(`training.${key}`);
    training.device = field("training.device").value;
    training.lr_schedule = field("training.lr_schedule").value;
    training.precision = field("training.precision").value;
    const translation = isTranslation();
    if (translation) Object.assign(training, { num_beams: numberOrNull("training.num_beams"), max_new_tokens: numberOrNull("training.max_new_tokens") });
    const layers = wholeNumbers(field("addrop.layers").value).values;
    const data = { source, max_train_samples: numberOrNull("data.max_train_samples"), max_eval_samples: numberOrNull("data.max_eval_samples") };
    if (source === "upload") {
      Object.assign(data, {
        task: field("upload.task").value || "custom", task_kind: field("data.task_kind").value,
        train_upload: uploads.train && uploads.train.id, validation_upload: uploads.validation && uploads.validation.id,
      });
      // a translation reads its source language as its one text field and its target language as its label
      Object.assign(data, translation
        ? { text_fields: [field("upload.source_language").value].filter(Boolean), label_field: field("upload.target_language").value, label_names: [] }
        : { text_fields: [...field("data.text_fields").selectedOptions].map((o) => o.value), label_field: field("data.label_field").value,
            label_names: field("data.label_names").value.split(",").map((s) => s.trim()).filter(Boolean) });
    } else {
      data.task = field("data.task").value;
      if (source === "directory") data.data_dir = field("data.data_dir").value.trim();
    }
    const addrop = { enabled: field("addrop.enabled").checked };
    if (addrop.enabled) Object.assign(addrop, {
      method: field("addrop.method").value, mode: field("addrop.mode").value, p: numberOrNull("addrop.p"),
      q: numberOrNull("addrop.q"), layers, steps: numberOrNull("addrop.steps"), cross_tuning: field("addrop.cross_tuning").checked,
      target: field("addrop.target").value, kind: translation ? field("addrop.kind").value || null : null,
    });
    const dynamics = { enabled: !translation && field("dynamics.enabled").checked };
    if (dynamics.enabled) {
      const ids = wholeNumbers(field("dynamics.probe_ids").value).values;
      Object.assign(dynamics, { probe_size: numberOrNull("dynamics.probe_size"), probe_ids: ids.length ? ids : null });
    }
    return { name: field("name").value.trim() || null, model: field("model").value.trim(), data, training, addrop, dynamics };
  }

  function fillColumns(summary) {
    const text = field("data.text_fields"), label = field("data.label_field");
    text.replaceChildren(...summary.columns.map((c) => new Option(c, c)));
    label.replaceChildren(...summary.columns.map((c) => new Option(c, c)));
    const guessLabel = summary.columns.find((c) => /label|class|target|stars|score/i.test(c)) || summary.columns[summary.columns.length - 1];
    label.value = guessLabel;
    [...text.options].forEach((o) => { o.selected = o.value !== guessLabel && (summary.distinct[o.value] === null); });
    // a translation's languages: the first column as the source, the next as the target
    const [from, to] = [field("upload.source_language"), field("upload.target_language")];
    from.replaceChildren(...summary.columns.map((c) => new Option(c, c)));
    to.replaceChildren(...summary.columns.map((c) => new Option(c, c)));
    if (summary.columns.length > 1) to.value = summary.columns[1];
    fillLabels();
  }

  function fillLabels() {
    const summary = uploads.train;
    if (!summary || field("data.task_kind").value === "regression") return;
    const values = summary.distinct[field("data.label_field").value];
    if (values && values.every((v) => typeof v === "string" && isNaN(Number(v)))) field("data.label_names").value = values.slice().sort().join(", ");
    else if (values) field("data.label_names").value = values.map(String).sort().join(", ");
  }

  async function upload(which) {
    const input = document.getElementById(`${which}-file`);
    const info = document.getElementById(`${which}-file-info`);
    const slot = `data.${which}_upload`;
    uploads[which] = null;
    setError(slot, "");
    if (!input.files.length) return;
    const data = new FormData();
    data.append("file", input.files[0]);
    info.textContent = "uploading…";
    try {
      const summary = await api("/api/uploads", { method: "POST", body: data });
      uploads[which] = summary;
      info.textContent = `${summary.rows} rows · columns: ${summary.columns.join(", ")}`;
      if (which === "train") fillColumns(summary);
    } catch (error) {
      info.textContent = "";
      setError(slot, error.message);
    }
  }

  /** The form field a validation error belongs to: the one its message names first (a check of the whole
      data section names data.data_dir), else its location without list indices (addrop.layers.0). */
  function errorField(loc, message) {
    const named = /^([a-z_]+(?:\.[a-z_]+)+)\b/.exec(message);
    if (named && form.querySelector(`.field-error[data-for="${named[1]}"]`)) return named[1];
    return loc.filter((part) => part !== "body" && typeof part !== "number").join(".");
  }

  function showServerErrors(error) {
    const body = error.body || {};
    let placed = false;
    if (Array.isArray(body.errors)) {
      for (const item of body.errors) {
        const message = String(item.msg).replace(/^Value error, /, "");
        placed = setError(errorField(item.loc, message), message) || placed;
      }
    } else {
      const match = /^([a-z_.]+): (.*)$/s.exec(error.message);
      if (match) placed = setError(match[1], match[2]);
    }
    if (!placed || error.status !== 422) {
      const box = document.getElementById("form-error");
      box.textContent = error.message;
      box.classList.remove("hidden");
    }
  }

  form.addEventListener("input", (event) => { checkInput(event.target); showEpochsWarning(); });
  form.addEventListener("change", showEpochsWarning);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const inputs = [...form.querySelectorAll("input[name]")];
    if (!inputs.map(checkInput).every(Boolean)) {
      document.getElementById("submit-status").textContent = "Fix the marked fields first.";
      return;
    }
    const button = document.getElementById("submit-job");
    button.disabled = true;
    document.getElementById("submit-status").textContent = "Checking the data and model…";
    try {
      const job = await api("/api/jobs", { method: "POST", json: body() });
      location.href = `/jobs/${job.id}`;
    } catch (error) {
      document.getElementById("submit-status").textContent = "";
      showServerErrors(error);
      button.disabled = false;
    }
  });
  document.getElementById("sweep-this").addEventListener("click", () => {
    // The sweep form takes this job as its base: p, q and the rest of AD-DROP are what it searches.
    const base = body();
    base.addrop.enabled = true;
    sessionStorage.setItem("addrop-sweep-base", JSON.stringify(base));
    location.href = "/sweeps/new";
  });
  document.querySelectorAll("#source button").forEach((b) => b.addEventListener("click", () => { source = b.dataset.value; showSource(); }));
  field("addrop.enabled").addEventListener("change", showSettings);
  field("dynamics.enabled").addEventListener("change", showSettings);
  field("data.task").addEventListener("change", showSettings);
  document.getElementById("preset").addEventListener("change", applyPreset);
  field("data.task").addEventListener("change", applyPreset);
  field("model").addEventListener("change", applyPreset);
  field("data.label_field").addEventListener("change", fillLabels);
  field("data.task_kind").addEventListener("change", () => { fillLabels(); showSettings(); });
  document.getElementById("train-file").addEventListener("change", () => upload("train"));
  document.getElementById("validation-file").addEventListener("change", () => upload("validation"));

  fill();
  showSource();
})();
