import { RecordId, type Surreal, Table } from 'surrealdb';

import { runQuery } from './database.js';

/** Records that `id` happened, once: false when it was recorded before (a delivery made, a link used). */
export async function claimOnce(db: Surreal, id: RecordId): Promise<boolean> {
  const [created] = await runQuery<[unknown[]]>(db, 'INSERT IGNORE INTO $table [{ id: $id, at: time::now() }] RETURN AFTER;', {
    table: new Table(id.table.name),
    id,
  });
  return created.length > 0;
}
