/** Workflow time, as every record has it: the time of the workflow task that made it, so a replay stamps it the same. */
export function now(): string {
  return new Date().toISOString();
}
