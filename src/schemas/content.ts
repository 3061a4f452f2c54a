import { z } from 'zod';

/** Content blocks a user may send (`user.message`), as the Managed Agents API spells them. */
export const TextBlock = z.object({ type: z.literal('text'), text: z.string() });

export const ImageBlock = z.object({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.object({ type: z.literal('base64'), data: z.string(), media_type: z.string() }),
    z.object({ type: z.literal('url'), url: z.string().url() }),
    z.object({ type: z.literal('file'), file_id: z.string() }),
  ]),
});

export const DocumentBlock = z.object({
  type: z.literal('document'),
  source: z.discriminatedUnion('type', [
    z.object({ type: z.literal('base64'), data: z.string(), media_type: z.string() }),
    z.object({ type: z.literal('text'), data: z.string(), media_type: z.literal('text/plain') }),
    z.object({ type: z.literal('url'), url: z.string().url() }),
    z.object({ type: z.literal('file'), file_id: z.string() }),
  ]),
  title: z.string().nullish(),
  context: z.string().nullish(),
});

export const RedactedBlock = z.object({ type: z.literal('redacted') });

export const UserContentBlock = z.discriminatedUnion('type', [TextBlock, ImageBlock, DocumentBlock, RedactedBlock]);
export type UserContentBlock = z.infer<typeof UserContentBlock>;
