import { z } from 'zod';

import { parseInterval } from './duration.js';

const MIN_EXPIRY_MS = 1000;
const MAX_EXPIRY_MS = 365 * 86_400_000;

/** How long a plan may wait for its decision: a duration between 1s and 365d. */
export const ExpirySchema = z.string().refine((value) => {
  const ms = parseInterval(value);
  return ms !== undefined && ms >= MIN_EXPIRY_MS && ms <= MAX_EXPIRY_MS;
}, 'must be a duration between 1s and 365d, such as "7d", "12h" or "90m"');
