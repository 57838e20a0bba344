/* The job form's checks as the user types, DOM-free: each returns the message its field shows ("" when the
   value is fine), so a bad value is named at its field before anything is sent. */

/** Fields a job may leave empty (the server then uses its default or turns the feature off). */
const OPTIONAL = ["training.patience", "training.max_new_tokens", "data.max_train_samples", "data.max_eval_samples"];
/** Fields whose value lies strictly between 0 and 1. */
const OPEN_UNIT = ["addrop.p", "addrop.q", "training.learning_rate"];

/**
 * The message of a number field.
 * @param {string} name  the field's name, e.g. "training.epochs"
 * @param {string} value  the input's value ("" when empty or not a number)
 * @param {{badInput: boolean, stepMismatch: boolean, valid: boolean}} validity  the input's ValidityState
 * @param {string | null} min  the input's min attribute
 * @param {string | null} max  the input's max attribute
 */
export function numberMessage(name, value, validity, min, max) {
  // A value the browser cannot read as a number (e.g. "1e") reaches the page as "" with badInput set.
  if (validity.badInput) return "not a number (e.g. 2e-5 or 0.00002)";
  if (value === "") return OPTIONAL.includes(name) ? "" : "required";
  if (validity.stepMismatch) return "must be a whole number";
  if (!validity.valid) {
    return `must be ${min !== null ? "≥ " + min : ""}${min !== null && max !== null ? " and " : ""}${max !== null ? "≤ " + max : ""}`;
  }
  if (OPEN_UNIT.includes(name) && !(Number(value) > 0 && Number(value) < 1)) return "must be between 0 and 1 (exclusive)";
  return "";
}

/**
 * Whole numbers separated by commas or spaces, as the layers and probe-id fields take them.
 * @param {string} text
 * @returns {{ values: number[], message: string }}
 */
export function wholeNumbers(text) {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const bad = parts.filter((part) => !/^\d+$/.test(part));
  if (bad.length) return { values: [], message: `not a whole number: ${bad.slice(0, 3).join(", ")}; write e.g. 0, 5, 11` };
  return { values: parts.map(Number), message: "" };
}

/**
 * What a job with these settings does that its fields do not say: cross-tuning drops in even epochs only,
 * so a one-epoch cross-tuned job never drops (the server says the same in the job's ``warnings``).
 * @param {{ enabled: boolean, crossTuning: boolean, epochs: number | null }} settings
 */
export function epochsWarning({ enabled, crossTuning, epochs }) {
  if (!enabled || !crossTuning || !(epochs >= 1) || epochs >= 2) return "";
  return "cross-tuning drops only in even epochs (2, 4, …): with 1 epoch this job never drops and trains like a "
    + "baseline; give it 2 epochs or more, or turn cross-tuning off";
}
