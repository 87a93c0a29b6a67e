import type { Surreal } from 'surrealdb';

import { RUN_STATUSES, type RunStatus } from '../domain/status.js';
import { runQuery } from './database.js';

export interface RunCount {
  organizationId: string;
  status: RunStatus;
  runs: number;
}

/**
 * How many runs each organization has in each status, for the metrics' gauges: counted over the
 * status keys (`run-keys.ts`), a range scan per organization and status, never the run table.
 * The organizations are those with a feed (every run stores events, so every run's organization
 * has one). Statuses without runs are answered as 0, so a gauge falls to 0 rather than vanishing.
 */
export async function countRunsByStatus(db: Surreal): Promise<RunCount[]> {
  const [organizations] = await runQuery<[string[]]>(db, 'SELECT VALUE record::id(id) FROM plan_feed;');
  if (organizations.length === 0) return [];
  const statements = organizations.flatMap((_, org) =>
    RUN_STATUSES.map(
      (_status, status) =>
        `RETURN array::len((SELECT VALUE id FROM plan_run_key:[$o${org}, 'status', $s${status}, NONE]..[$o${org}, 'status', $s${status}, ..]));`,
    ),
  );
  const bindings = {
    ...Object.fromEntries(organizations.map((organizationId, org) => [`o${org}`, organizationId])),
    ...Object.fromEntries(RUN_STATUSES.map((status, index) => [`s${index}`, status])),
  };
  const counts = await runQuery<number[]>(db, statements.join('\n'), bindings);
  return organizations.flatMap((organizationId, org) =>
    RUN_STATUSES.map((status, index) => ({ organizationId, status, runs: counts[org * RUN_STATUSES.length + index] ?? 0 })),
  );
}
