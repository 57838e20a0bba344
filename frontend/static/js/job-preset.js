/* The job form's presets (GET /api/presets/{name}): the form values a preset sets, and the lines that say
   where each comes from. Pure functions; job-new.js fetches and applies them. */

/** The fields a preset sets by task or model: a change of either re-applies these, the rest stay as edited (p and q
    only where the preset fixes them, as the translation scripts do). */
export const TASK_FIELDS = ["training.epochs", "training.patience", "training.max_length", "addrop.layers",
                            "addrop.kind", "addrop.target", "addrop.p", "addrop.q"];

/** What a preset that does not name them leaves these AD-DROP fields at: a GLUE task's preset after a
    translation's puts back the classifier's attention and target. */
const ADDROP_DEFAULTS = { kind: null, target: "auto" };

/** Form field name -> value for a preset answer (its training and addrop sections); ``only`` keeps those fields. */
export function presetValues(preset, only = null) {
  const values = {};
  for (const [key, value] of Object.entries(preset.training)) values[`training.${key}`] = value;
  for (const [key, value] of Object.entries({ ...ADDROP_DEFAULTS, ...preset.addrop })) {
    values[`addrop.${key}`] = key === "layers" ? value.join(", ") : value;
  }
  return only ? Object.fromEntries(Object.entries(values).filter(([name]) => only.includes(name))) : values;
}

/** One line per value the preset sets ("name = value: source"), then its notes. */
export function presetLines(preset) {
  const shown = { ...preset.training, ...preset.addrop };
  const lines = Object.entries(preset.sources).map(([key, source]) => {
    const value = key in shown ? shown[key] : undefined;
    const text = Array.isArray(value) ? value.join(", ") : value;
    return value === undefined ? `${key}: ${source}` : `${key} = ${text}: ${source}`;
  });
  return [...lines, ...preset.notes];
}
