/** Longest rubric (text, or a file's text), in characters, as the API documents it. */
export const MAX_RUBRIC_CHARS = 262_144;
/** Evaluate-then-revise cycles of an outcome when the client sets none, and the most it may set. */
export const DEFAULT_OUTCOME_ITERATIONS = 3;
export const MAX_OUTCOME_ITERATIONS = 20;
