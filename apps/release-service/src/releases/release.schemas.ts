import { z } from 'zod';
import { MAX_DESCRIPTION_LENGTH } from '@audit/contracts';
import { MULTI_LINE_MESSAGE, MULTI_LINE_TEXT, SINGLE_LINE_MESSAGE, SINGLE_LINE_TEXT } from '@audit/platform';

/*
 * Request bodies and queries of the release API: parsed at the HTTP edge (400 naming the field)
 * and rendered into the OpenAPI document, so the docs cannot drift from what is enforced.
 */
const title = z.string().trim().min(1).max(255).regex(SINGLE_LINE_TEXT, SINGLE_LINE_MESSAGE);
/** A milestone's title, as releases name their milestones. */
export const MilestoneTitle = title;
const milestones = z
  .array(title)
  .max(100)
  .refine((m) => new Set(m).size === m.length, 'must not repeat a milestone');
const description = z.string().max(MAX_DESCRIPTION_LENGTH).regex(MULTI_LINE_TEXT, MULTI_LINE_MESSAGE).nullable();
const releaseName = z.string().trim().min(1).max(255).regex(SINGLE_LINE_TEXT, SINGLE_LINE_MESSAGE);

/** Git's rules for a ref name, which a release tag must be. */
const tagName = z
  .string()
  .min(1, 'must not be empty')
  .max(255)
  .refine(
    (t) => !/[\s~^:?*[\\\u0000-\u001f\u007f]|\.\.|@\{|^[/.-]|\/$|\.lock$|\.$|\/\./.test(t),
    'is not a valid tag name',
  );

export const CreateReleaseBody = z
  .object({
    tag_name: tagName,
    name: releaseName.optional(),
    description: description.optional(),
    milestones: milestones.optional(),
  })
  .strict();
export const UpdateReleaseBody = z
  .object({ name: releaseName.optional(), description: description.optional(), milestones: milestones.optional() })
  .strict();
export const CreateLinkBody = z
  .object({
    name: z.string().trim().min(1).max(255).regex(SINGLE_LINE_TEXT, SINGLE_LINE_MESSAGE),
    // WHATWG URL parsing drops CR, LF and tabs inside a URL, so they are refused before it can.
    url: z
      .string()
      .max(2048)
      .regex(SINGLE_LINE_TEXT, SINGLE_LINE_MESSAGE)
      .url()
      .refine((u) => /^(https?|ftp):\/\//i.test(u), 'must be an http, https or ftp URL'),
  })
  .strict();
export const LinkParams = z.object({ link_id: z.coerce.number().int().positive().max(2_147_483_647) });
export const PageQuery = z.object({
  per_page: z.coerce.number().int().min(1).max(100).default(20),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
});
