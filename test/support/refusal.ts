import { PlanError } from '../../domain/errors.js';

/** The PlanError a call is refused with; fails the test when it succeeds or fails otherwise. */
export async function refusal(promise: Promise<unknown>): Promise<PlanError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PlanError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}
