import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * S3 on this machine: one folder per bucket, keys as relative paths. Implements the calls
 * the ingest workflow makes (HeadObject, ListObjectsV2, CopyObject, PutObject, GetObject)
 * with S3's request and response shapes, so the same ASL runs against it.
 */
export class LocalBuckets {
  constructor(readonly root: string) {}

  folder(bucket: string): string {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw s3Error('InvalidBucketName', bucket);
    return join(this.root, bucket);
  }

  uri(bucket: string): string {
    return pathToFileURL(this.folder(bucket)).href;
  }

  path(bucket: string, key: string): string {
    const base = this.folder(bucket);
    const path = join(base, key);
    // A key never leaves its bucket (no `..`, no absolute keys).
    if (key.length === 0 || relative(base, path).startsWith('..') || key.startsWith('/')) {
      throw s3Error('InvalidArgument', `bad key ${key}`);
    }
    return path;
  }

  async headObject(input: { Bucket: string; Key: string }) {
    const path = this.path(input.Bucket, input.Key);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw s3Error('NoSuchKey', `${input.Bucket}/${input.Key}`);
    return { ContentLength: info.size, ETag: await etagOf(path), LastModified: info.mtime.toISOString() };
  }

  async listObjectsV2(input: {
    Bucket: string;
    Prefix?: string;
    MaxKeys?: number;
    ContinuationToken?: string;
  }) {
    const base = this.folder(input.Bucket);
    const prefix = input.Prefix ?? '';
    const maxKeys = input.MaxKeys ?? 1000;
    const after = input.ContinuationToken ? Buffer.from(input.ContinuationToken, 'base64url').toString() : '';
    // S3 lists keys in UTF-8 binary order.
    const keys = (await walk(base))
      .map((path) => relative(base, path).split(sep).join('/'))
      .filter((key) => key.startsWith(prefix) && key > after && !isPartial(key))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = keys.slice(0, maxKeys);
    const contents = await Promise.all(
      page.map(async (key) => {
        const path = join(base, key);
        const info = await stat(path);
        return {
          Key: key,
          Size: info.size,
          ETag: await etagOf(path),
          LastModified: info.mtime.toISOString(),
        };
      }),
    );
    const truncated = keys.length > page.length;
    return {
      Name: input.Bucket,
      Prefix: prefix,
      MaxKeys: maxKeys,
      KeyCount: page.length,
      IsTruncated: truncated,
      // S3 leaves Contents out of an empty listing.
      ...(page.length > 0 ? { Contents: contents } : {}),
      ...(truncated ? { NextContinuationToken: Buffer.from(page.at(-1)!).toString('base64url') } : {}),
    };
  }

  async copyObject(input: { Bucket: string; Key: string; CopySource: string; CopySourceIfMatch?: string }) {
    const [sourceBucket, ...rest] = decodeURIComponent(input.CopySource).replace(/^\//, '').split('/');
    const source = this.path(sourceBucket!, rest.join('/'));
    const etag = await etagOf(source).catch(() => {
      throw s3Error('NoSuchKey', input.CopySource);
    });
    if (input.CopySourceIfMatch && input.CopySourceIfMatch !== etag)
      throw s3Error('PreconditionFailed', etag);
    const target = this.path(input.Bucket, input.Key);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(source, `${target}.partial`);
    await rename(`${target}.partial`, target);
    return { CopyObjectResult: { ETag: etag } };
  }

  /** Step Functions serialises a JSON Body to its text, as the SDK integration does. */
  async putObject(input: { Bucket: string; Key: string; Body: unknown }) {
    const body = typeof input.Body === 'string' ? input.Body : JSON.stringify(input.Body);
    const target = this.path(input.Bucket, input.Key);
    await mkdir(dirname(target), { recursive: true });
    // Readers see the whole object or none of it, as with S3.
    await writeFile(`${target}.partial`, body);
    await rename(`${target}.partial`, target);
    return { ETag: `"${createHash('md5').update(body).digest('hex')}"` };
  }

  async getObject(input: { Bucket: string; Key: string }) {
    const path = this.path(input.Bucket, input.Key);
    const body = await readFile(path, 'utf8').catch(() => {
      throw s3Error('NoSuchKey', `${input.Bucket}/${input.Key}`);
    });
    return { Body: body, ContentLength: Buffer.byteLength(body), ETag: await etagOf(path) };
  }
}

/** Files being written (by a copy into the bucket) are not objects yet. */
export function isPartial(key: string): boolean {
  return key.endsWith('.partial');
}

/** S3's ETag of a single-part upload: the quoted MD5 of the bytes. */
export async function etagOf(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `"${hash.digest('hex')}"`;
}

async function walk(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = join(folder, entry.name);
      return entry.isDirectory() ? walk(path) : Promise.resolve(entry.isFile() ? [path] : []);
    }),
  );
  return nested.flat();
}

/** Errors named as Step Functions names the S3 SDK integration's errors. */
function s3Error(code: string, message: string): Error {
  const error = new Error(`${code}: ${message}`);
  error.name = `S3.${code}Exception`;
  return error;
}
