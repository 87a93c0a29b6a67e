import { RecordId, type Surreal } from 'surrealdb';

import { open, seal } from '../auth/secret-box.js';
import { runQuery } from './database.js';
import { fromDb, toDb } from './rows.js';

/** What anyone may know of a stored secret: its name, where it may be sent, who set it and when. Never its value. */
export interface SecretView {
  name: string;
  /** The hosts a webhook may send it to in a header (egress allow-list syntax); empty: any host. */
  hosts: string[];
  updatedBy: string;
  updatedAt: string;
}

/** A secret as the step that sends it reads it: its value and its hosts. */
export interface OpenedSecret {
  value: string;
  hosts: string[];
}

/**
 * Each organization's secrets, one row per (organization, name): the value only as ciphertext
 * (auth/secret-box.ts), readable only where the key is, which is in the processes, not here.
 */
export class SecretStore {
  /** `key` is read when first needed: a store that never touches a secret needs none. */
  constructor(
    private readonly db: Surreal,
    private readonly key: () => Buffer,
  ) {}

  private idOf(organizationId: string, name: string): RecordId {
    return new RecordId('plan_secret', [organizationId, name]);
  }

  /** Sets (or replaces) a secret's value and its hosts: a value set again without hosts may go anywhere. */
  async set(organizationId: string, name: string, value: string, updatedBy: string, hosts: readonly string[] = []): Promise<SecretView> {
    const updatedAt = new Date().toISOString();
    await runQuery(this.db, 'UPSERT $id CONTENT $fields;', {
      id: this.idOf(organizationId, name),
      fields: toDb({
        organizationId,
        name,
        sealed: seal(this.key(), organizationId, name, value),
        hosts: [...hosts],
        updatedBy,
        updatedAt,
      }),
    });
    return { name, hosts: [...hosts], updatedBy, updatedAt };
  }

  /** The organization's secrets by name, without values. */
  async list(organizationId: string): Promise<SecretView[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT name, hosts, updatedBy, updatedAt FROM plan_secret WHERE organizationId = $organizationId ORDER BY name;',
      { organizationId },
    );
    // A secret set before hosts existed has none: any host.
    return rows.map((row) => ({ ...fromDb<SecretView>(row), hosts: (row.hosts as string[] | undefined) ?? [] }));
  }

  /** Whether it was there. */
  async delete(organizationId: string, name: string): Promise<boolean> {
    const [before] = await runQuery<[unknown[]]>(this.db, 'DELETE $id RETURN BEFORE;', { id: this.idOf(organizationId, name) });
    return before.length > 0;
  }

  /** The named secrets the organization has, decrypted, with their hosts; a name it lacks is absent from the map. */
  async values(organizationId: string, names: readonly string[]): Promise<Map<string, OpenedSecret>> {
    const values = new Map<string, OpenedSecret>();
    for (const name of new Set(names)) {
      const [row] = await runQuery<[{ sealed?: string; hosts?: string[] } | undefined]>(this.db, 'SELECT sealed, hosts FROM ONLY $id;', {
        id: this.idOf(organizationId, name),
      });
      if (!row?.sealed) continue;
      try {
        values.set(name, { value: open(this.key(), organizationId, name, row.sealed), hosts: row.hosts ?? [] });
      } catch {
        // Another key sealed it (processes started with different PLANS_SECRET_KEY), or the row was altered: say which, not how.
        throw new Error(
          `Secret "${name}" of organization ${organizationId} does not decrypt with this process's key: every process needs the same PLANS_SECRET_KEY (or data dir secret-key).`,
        );
      }
    }
    return values;
  }
}
