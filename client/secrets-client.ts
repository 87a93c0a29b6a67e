import { PlanError } from '../domain/errors.js';
import { parseRequest } from '../domain/requests.js';
import { SecretNameSchema, SecretValueSchema } from '../domain/secrets.js';
import type { PlanStore, SecretView } from '../storage/plan-store.js';

/** Organizations' secrets: set, listed and deleted by name; no answer ever carries a value. */
export class SecretsClient {
  constructor(private readonly store: PlanStore) {}

  async set(organizationId: string, name: string, request: unknown, updatedBy: string): Promise<SecretView> {
    const { value, hosts } = parseRequest(SecretValueSchema, request, 'secret');
    return this.store.secrets.set(organizationId, parseRequest(SecretNameSchema, name, 'secret name'), value, updatedBy, hosts);
  }

  list(organizationId: string): Promise<SecretView[]> {
    return this.store.secrets.list(organizationId);
  }

  async delete(organizationId: string, name: string): Promise<void> {
    const checked = parseRequest(SecretNameSchema, name, 'secret name');
    if (!(await this.store.secrets.delete(organizationId, checked))) throw new PlanError('not-found', `Secret "${checked}" was not found.`);
  }
}
