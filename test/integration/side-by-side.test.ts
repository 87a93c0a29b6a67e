import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

import { readOperatorToken } from '../../auth/operator.js';
import { tempDir } from '../support/stack.js';

/**
 * API processes started at the same instant on one data dir each make the operator token if it
 * is missing: all of them must end up with the one the file keeps, or the operator's token works
 * on some of them only. (Processes side by side on a SurrealDB server: the cluster suite.)
 */
const OPERATOR = fileURLToPath(new URL('../../auth/operator.js', import.meta.url));

it('processes that make the operator token at once all hold the one in the file', async () => {
  for (let round = 0; round < 12; round++) {
    const dataDir = tempDir('plans-operator-');
    // Each process loads the module, then waits for the same instant, so their checks for the file coincide.
    const startAt = Date.now() + 1_500;
    const script = `const { ensureOperatorToken } = await import(${JSON.stringify(OPERATOR)}); while (Date.now() < ${startAt}); process.stdout.write(ensureOperatorToken(process.argv[1]));`;
    const tokens = await Promise.all(
      Array.from({ length: 3 }, () =>
        promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, dataDir], { timeout: 30_000 }).then(
          ({ stdout }) => stdout,
        ),
      ),
    );
    const kept = readOperatorToken(dataDir);
    expect(kept).toMatch(/^ept_operator_/);
    expect(tokens).toEqual(tokens.map(() => kept));
  }
}, 120_000);
