import type { ActivateInput } from '@temporalio/workflow';

import { StaleClockError, interceptors } from '../../workflows/fresh-clock.js';

/** An activation as the SDK hands it to the workflow: its clock, history length and size, and its jobs. */
function activation(seconds: number, historyLength: number, historySizeBytes: number, ...jobs: string[]): ActivateInput {
  return {
    batchIndex: 0,
    activation: {
      timestamp: { seconds, nanos: 5_000_000 },
      historyLength,
      historySizeBytes,
      jobs: (jobs.length > 0 ? jobs : ['resolveActivity']).map((kind) => ({ [kind]: {}, variant: kind })),
    },
  } as unknown as ActivateInput;
}

/** Feeds one workflow instance's guard the activations in order; answers how many reached the workflow. */
function run(...activations: ActivateInput[]): number {
  const guard = interceptors().internals![0]!;
  let reached = 0;
  for (const input of activations) guard.activate!(input, () => void reached++);
  return reached;
}

describe('the clock guard (workflows/fresh-clock.ts)', () => {
  it('lets every genuine workflow task through, each with its own clock and a larger history', () => {
    expect(
      run(
        activation(100, 3, 310, 'initializeWorkflow'),
        activation(100, 3, 310, 'queryWorkflow'),
        activation(110, 11, 1196),
        activation(111, 17, 1800),
      ),
    ).toBe(4);
  });

  it('lets two tasks in the same millisecond through: the later one has the larger history size', () => {
    expect(run(activation(100, 3, 310), activation(100, 7, 720), activation(100, 11, 1100))).toBe(3);
  });

  it('refuses new history replayed with the clock and size of the task before it', () => {
    expect(() => run(activation(100, 3, 310, 'initializeWorkflow'), activation(100, 8, 310, 'resolveActivity'))).toThrow(StaleClockError);
    expect(() => run(activation(100, 3, 310), activation(100, 8, 310, 'signalWorkflow', 'queryWorkflow'))).toThrow(
      /ahead of its next workflow task/,
    );
  });

  it('keeps refusing that clock: an activation that only reads first does not make it the reference', () => {
    expect(() => run(activation(100, 3, 310), activation(100, 8, 310, 'queryWorkflow'), activation(100, 8, 310, 'fireTimer'))).toThrow(
      StaleClockError,
    );
  });

  it('never refuses an activation that only reads or evicts, nor where the server reports no history size', () => {
    expect(run(activation(100, 3, 310), activation(100, 8, 310, 'queryWorkflow'), activation(100, 8, 310, 'removeFromCache'))).toBe(3);
    expect(run(activation(100, 3, 0), activation(100, 8, 0))).toBe(2);
  });
});
