import { RecordId, type Surreal } from 'surrealdb';

import { claimOnce } from './claims.js';
import { runQuery } from './database.js';

/** The signed approval links already used: each acts once. */
export class LinkStore {
  constructor(private readonly db: Surreal) {}

  async isUsed(nonce: string): Promise<boolean> {
    const [row] = await runQuery<[unknown]>(this.db, 'SELECT * FROM ONLY $id;', { id: new RecordId('plan_link_use', nonce) });
    return row !== undefined && row !== null;
  }

  /** Uses a signed link's nonce; false when it was used before. */
  async useOnce(nonce: string): Promise<boolean> {
    return claimOnce(this.db, new RecordId('plan_link_use', nonce));
  }
}
