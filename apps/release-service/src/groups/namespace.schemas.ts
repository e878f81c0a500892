import { SINGLE_LINE_MESSAGE, SINGLE_LINE_TEXT } from '@audit/platform';
import { z } from 'zod';

/** Bodies of the group and project endpoints (parsed at the edge, rendered into /docs). */
const path = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$/, 'may contain only letters, digits, _, - and .')
  .refine((p) => !p.endsWith('.git') && !p.endsWith('.'), 'must not end in .git or .');
const name = z.string().trim().min(1).max(255).regex(SINGLE_LINE_TEXT, SINGLE_LINE_MESSAGE);
const id = z.number().int().positive().max(2_147_483_647);

export const CreateGroupBody = z.object({ path, name, parent_id: id.optional() }).strict();
export const CreateProjectBody = z.object({ path, name, namespace_id: id }).strict();
