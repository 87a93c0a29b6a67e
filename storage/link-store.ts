import { RecordId, type Surreal } from 'surrealdb';

import { claimOnce } from './claims.js';
import { runQuery } from './database.js';

/** The signed approval links already used: each acts once. */
export class LinkStore {
  constructor(private readonly db: Surreal) {}

  /** Uses a signed link's nonce; false when it was used before. One statement: two uses at once, one wins. */
  async useOnce(nonce: string): Promise<boolean> {
    return claimOnce(this.db, new RecordId('plan_link_use', nonce));
  }

  /** Gives a use back: the decision it was for was not taken (refused, or the stack was unavailable). */
  async release(nonce: string): Promise<void> {
    await runQuery(this.db, 'DELETE $id;', { id: new RecordId('plan_link_use', nonce) });
  }
}
