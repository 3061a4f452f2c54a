import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { PageQuery, pageCursorOf } from '../../schemas/api-common.ts';
import { DeletedSkill, DeletedSkillVersion, Skill, SkillCreateFields, SkillListQuery, SkillVersion, SKILL_UPLOAD_LIMITS, type SkillUploadLimits } from '../../schemas/api-skill.ts';
import { skillArchive } from '../../skills/skill-archive.ts';
import { SkillUploadCheck, type CheckedSkillUpload } from '../../skills/skill-upload.ts';
import { newId } from '../../store/ids.ts';
import { skillContentId, type SkillStore, type StoredSkillFile } from '../../store/skill-store.ts';
import { BadRequestError, HttpApiError } from '../api-errors.ts';
import type { ApiApp, ApiEnv } from '../api-types.ts';
import { formatZodError } from '../format-zod-error.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { json } from '../openapi-common.ts';
import { receiveMultipartFiles } from '../receive-multipart-upload.ts';
import { contentDisposition } from './file-routes.ts';

export type SkillRouteDeps = {
  /** Skills, their versions and their files' bytes (in the shared store, so workers on other hosts mount them). */
  skills: SkillStore;
  /** Limits of one upload. Default `SKILL_UPLOAD_LIMITS`. */
  limits?: SkillUploadLimits | undefined;
};

const SkillParam = z.object({ skill_id: z.string().min(1) });
const VersionParam = SkillParam.extend({ version: z.string().min(1).meta({ description: 'A version id, or `latest`' }) });
const tags = ['skills'];

/** The multipart body of both uploads, as the document describes it (the route reads it as it streams). */
const uploadBody = (withDisplayName: boolean) => ({
  required: true,
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object' as const,
        required: ['files'],
        properties: {
          files: {
            type: 'array' as const,
            items: { type: 'string' as const, format: 'binary' },
            description: 'One part per file (the SDK names them `files[]`), each with its path as filename: all in one top-level folder holding SKILL.md',
          },
          ...(withDisplayName ? { display_name: { type: 'string' as const, maxLength: 255 } } : {}),
        },
      },
    },
  },
});

/** `client.beta.skills` and `client.beta.skills.versions`: uploads (multipart), retrieve, list, delete, and each version's files as a zip archive. */
export function registerSkillRoutes(app: ApiApp, { skills, limits = SKILL_UPLOAD_LIMITS }: SkillRouteDeps): void {
  // Parts carry headers besides their bytes; past this the body is refused while it streams in.
  const maxBodyBytes = limits.totalBytes + limits.files * 1024 + 64 * 1024;
  const uploadLimit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw new HttpApiError('request_too_large', `request body: larger than the ${maxBodyBytes} bytes a skill upload may take`);
    },
  });

  /** Receives an upload's files into the store under a new version id, and checks them; on any problem nothing is left stored. */
  const receive = async (c: Context<ApiEnv>): Promise<{ versionId: string; checked: CheckedSkillUpload; stored: StoredSkillFile[]; fields: Record<string, string> }> => {
    if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
      throw new BadRequestError('body: send multipart/form-data with one `files[]` part per file of the skill');
    }
    const versionId = newId('skillver');
    const check = new SkillUploadCheck(limits);
    const contentIds: string[] = [];
    const skillMarkdown: Buffer[] = [];
    let sawSkillFile = false;
    try {
      const upload = await receiveMultipartFiles(c.req.raw, {
        isFile: (field) => field === 'files[]' || field === 'files',
        // The file count is checked (and named) first.
        maxParts: limits.files + 16,
        store: async (part, content) => {
          const path = check.addFile(part.filename);
          const contentId = skillContentId(versionId, part.index);
          contentIds.push(contentId);
          const isSkillFile = SkillUploadCheck.isSkillFile(path);
          sawSkillFile ||= isSkillFile;
          return skills.writeContent(contentId, isSkillFile ? keeping(check.meter(path, content), skillMarkdown) : check.meter(path, content));
        },
      });
      const checked = check.finish(sawSkillFile ? utf8(Buffer.concat(skillMarkdown)) : undefined);
      return { versionId, checked, stored: checked.files.map((file, index) => ({ ...file, content_id: skillContentId(versionId, index) })), fields: upload.fields };
    } catch (error) {
      await skills.deleteContent(contentIds);
      throw error;
    }
  };

  /** Records what `receive` took; its bytes go if recording fails. */
  const recorded = async <T>(upload: { stored: StoredSkillFile[] }, record: () => Promise<T>): Promise<T> => {
    try {
      return await record();
    } catch (error) {
      await skills.deleteContent(upload.stored.map((f) => f.content_id));
      throw error;
    }
  };

  const versionOf = (skillId: string, versionId: string, checked: CheckedSkillUpload, createdAt: string): SkillVersion => ({
    type: 'skill_version',
    id: versionId,
    skill_id: skillId,
    name: checked.name,
    description: checked.description,
    created_at: createdAt,
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/skills',
      tags,
      description: `Upload a skill as \`multipart/form-data\`: one \`files[]\` part per file, each named with its path, all in one top-level folder holding \`SKILL.md\` (YAML front matter with \`description\`, and \`name\` unless the folder is named after the skill); optional \`display_name\`. At most ${limits.files} files, ${limits.fileBytes} bytes each, ${limits.totalBytes} bytes in all.`,
      middleware: [uploadLimit] as const,
      // Documented, not validated: a `request.body` would have the router parse the whole form first.
      requestBody: uploadBody(true),
      responses: { 200: json(Skill, 'The new skill, its first version the latest') },
    }),
    async (c) => {
      const upload = await receive(c);
      const fields = SkillCreateFields.safeParse({ display_name: upload.fields['display_name'] });
      if (!fields.success) {
        await skills.deleteContent(upload.stored.map((f) => f.content_id));
        throw new BadRequestError(formatZodError(fields.error, upload.fields));
      }
      const now = new Date().toISOString();
      const id = newId('skill');
      const skill: Skill = {
        type: 'skill',
        id,
        display_name: fields.data.display_name || upload.checked.name,
        latest_version_id: upload.versionId,
        source: { type: 'custom' },
        created_at: now,
        updated_at: now,
      };
      return c.json(await recorded(upload, () => skills.create(skill, versionOf(id, upload.versionId, upload.checked, now), upload.stored)), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/skills', tags, request: { query: SkillListQuery }, responses: { 200: json(pageCursorOf(Skill), 'Skills, newest first') } }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await skills.list({ limit: clampLimit(query.limit), cursor: cursorOf(query.page), source: query.source });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/skills/{skill_id}', tags, request: { params: SkillParam }, responses: { 200: json(Skill, 'The skill') } }),
    async (c) => c.json(await skills.retrieve(c.req.valid('param').skill_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/skills/{skill_id}',
      tags,
      description: 'Deletes the skill and every version. Sessions that mounted it keep their copy; agents that name it cannot start sessions until it is taken out of their skills.',
      request: { params: SkillParam },
      responses: { 200: json(DeletedSkill, 'Deleted') },
    }),
    async (c) => {
      const id = c.req.valid('param').skill_id;
      await skills.delete(id);
      return c.json({ id, type: 'skill_deleted' as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/skills/{skill_id}/versions',
      tags,
      description: 'Upload a new version, as `skills.create` takes its files; its SKILL.md must name the skill as every version does. It becomes the latest: sessions created from now on get it, running ones keep theirs.',
      middleware: [uploadLimit] as const,
      request: { params: SkillParam },
      requestBody: uploadBody(false),
      responses: { 200: json(SkillVersion, 'The new version') },
    }),
    async (c) => {
      const skillId = c.req.valid('param').skill_id;
      // An unknown skill is a 404 before any byte is stored.
      await skills.retrieve(skillId);
      const upload = await receive(c);
      return c.json(await recorded(upload, () => skills.addVersion(skillId, versionOf(skillId, upload.versionId, upload.checked, new Date().toISOString()), upload.stored)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/skills/{skill_id}/versions',
      tags,
      request: { params: SkillParam, query: PageQuery },
      responses: { 200: json(pageCursorOf(SkillVersion), 'Versions, newest first') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await skills.listVersions(c.req.valid('param').skill_id, { limit: clampLimit(query.limit), cursor: cursorOf(query.page) });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/skills/{skill_id}/versions/{version}', tags, request: { params: VersionParam }, responses: { 200: json(SkillVersion, 'The version') } }),
    async (c) => {
      const { skill_id, version } = c.req.valid('param');
      return c.json(await skills.retrieveVersion(skill_id, version), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/skills/{skill_id}/versions/{version}',
      tags,
      description: 'Deletes one version; the newest left becomes the latest. A skill keeps at least one version: delete the skill instead.',
      request: { params: VersionParam },
      responses: { 200: json(DeletedSkillVersion, 'Deleted') },
    }),
    async (c) => {
      const { skill_id, version } = c.req.valid('param');
      const id = await skills.deleteVersion(skill_id, version);
      return c.json({ id, type: 'skill_version_deleted' as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/skills/{skill_id}/versions/{version}/content',
      tags,
      request: { params: VersionParam },
      responses: {
        200: {
          description: "The version's files as a zip archive: each under the skill's folder (`<name>/…`), its bytes as uploaded",
          headers: { 'content-disposition': { required: true, schema: { type: 'string', pattern: '^attachment; ' } } },
          content: { 'application/zip': { schema: z.string().meta({ format: 'binary' }) } },
        },
      },
    }),
    async (c) => {
      const { skill_id, version } = c.req.valid('param');
      const { version: found, files } = await skills.versionFiles(skill_id, version);
      const zip = skillArchive({ name: found.name, date: found.created_at, files: files.map((file) => ({ path: file.path, content: () => skills.readContent(file.content_id) })) });
      return c.body(ReadableStream.from(zip) as ReadableStream<Uint8Array>, 200, { 'content-type': 'application/zip', 'content-disposition': contentDisposition(`${found.name}.zip`) });
    },
  );
}

/** `content` as it passes, with a copy of each chunk kept in `into`. */
async function* keeping(content: AsyncIterable<Uint8Array>, into: Buffer[]): AsyncGenerator<Uint8Array> {
  for await (const chunk of content) {
    into.push(Buffer.from(chunk));
    yield chunk;
  }
}

function utf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BadRequestError('files: SKILL.md is not UTF-8 text');
  }
}
