import { z } from 'zod';

import { ID_PATTERN, ID_RULE } from './ids.js';

/** Organization, thread, agent, actor and run ids, as zod checks them (ids.ts says what they are). */
export const IdSchema = z.string().regex(ID_PATTERN, ID_RULE);
