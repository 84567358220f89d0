/**
 * Backups in S3 (or an S3-compatible store) through the AWS SDK v3: objects are written with
 * lib-storage's Upload (multipart above 5 MiB, so a 1 GiB database streams through without being held
 * in memory). Credentials and the region come from the SDK's default chain (AWS_* environment
 * variables, ~/.aws/credentials and config, instance roles); the endpoint from `backup.s3.endpoint` or
 * AWS_ENDPOINT_URL_S3 (which the SDK reads itself).
 */
import { Readable } from 'node:stream';
import { CaxtonError } from '../../errors.js';
import type { BackupStore, S3Options } from './store.js';

// The SDK warns once per process that its releases after January 2027 need Node 22 (a
// NodeVersionSupportWarning through process.emitWarning). Caxton runs on Node 20 on purpose, and the
// warning tells an operator nothing they can act on: the SDK's own switch turns off that warning,
// and only that one. An operator who set the variable keeps their value.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const { S3Client, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
const { Upload } = await import('@aws-sdk/lib-storage');
type Client = InstanceType<typeof S3Client>;

/** s3://bucket/prefix → bucket and prefix (no leading or trailing slash). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  const bucket = m?.[1] ?? '';
  // S3's own rule (3 to 63 characters, lower case, digits, dots, hyphens): said here rather than as the store's error.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new CaxtonError('CAXTON_ERR_BACKUP_DESTINATION', `${url}: "${bucket}" is not an S3 bucket name (3 to 63 characters: a-z 0-9 . -); expected s3://bucket/prefix`, { location: url });
  }
  return { bucket, prefix: (m?.[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

export class S3Store implements BackupStore {
  readonly url: string;
  readonly #client: Client;
  readonly #bucket: string;
  readonly #prefix: string;

  private constructor(url: string, client: Client, bucket: string, prefix: string) {
    this.url = url;
    this.#client = client;
    this.#bucket = bucket;
    this.#prefix = prefix;
  }

  static open(url: string, o: S3Options): S3Store {
    const { bucket, prefix } = parseS3Url(url);
    const client = new S3Client({
      ...(o.endpoint === undefined || o.endpoint === '' ? {} : { endpoint: o.endpoint }),
      ...(o.region === undefined || o.region === '' ? {} : { region: o.region }),
      ...(o.forcePathStyle === true ? { forcePathStyle: true } : {}),
    });
    return new S3Store(`s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`, client, bucket, prefix);
  }

  #key(key: string): string {
    return this.#prefix === '' ? key : `${this.#prefix}/${key}`;
  }

  async put(key: string, body: Readable): Promise<void> {
    try {
      await new Upload({ client: this.#client, params: { Bucket: this.#bucket, Key: this.#key(key), Body: body } }).done();
    } catch (e) {
      throw this.#error('write', key, e);
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const r = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
      if (!(r.Body instanceof Readable)) throw new Error('the SDK returned no stream');
      return r.Body;
    } catch (e) {
      throw this.#error('read', key, e);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
      return true;
    } catch (e) {
      if (notFound(e)) return false;
      throw this.#error('read', key, e);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const full = this.#key(prefix);
    const strip = this.#prefix === '' ? 0 : this.#prefix.length + 1;
    const out: string[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: full === '' ? undefined : full, ContinuationToken: token }));
        for (const o of r.Contents ?? []) if (o.Key !== undefined) out.push(o.Key.slice(strip));
        token = r.IsTruncated === true ? r.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (e) {
      throw this.#error('list', prefix, e);
    }
    return out.sort();
  }

  async remove(prefix: string): Promise<void> {
    const keys = await this.list(prefix.endsWith('/') ? prefix : `${prefix}/`);
    try {
      // DeleteObjects takes at most 1,000 keys.
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000).map((k) => ({ Key: this.#key(k) }));
        await this.#client.send(new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: batch, Quiet: true } }));
      }
    } catch (e) {
      throw this.#error('delete', prefix, e);
    }
  }

  #error(op: string, key: string, e: unknown): CaxtonError {
    if (e instanceof CaxtonError) return e;
    const where = `${this.url}/${key}`;
    if (notFound(e)) return new CaxtonError('CAXTON_ERR_BACKUP_NOT_FOUND', `${where} does not exist`, { file: key, location: this.url }, { cause: e });
    const err = e as Error & { name?: string };
    return new CaxtonError('CAXTON_ERR_BACKUP_DESTINATION', `S3 ${op} of ${where} failed: ${err.name ?? 'Error'}: ${err.message}`, { location: this.url }, { cause: e });
  }
}

function notFound(e: unknown): boolean {
  const x = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  // A missing bucket is a wrong destination, not a missing backup.
  if (x.name === 'NoSuchBucket') return false;
  return x.name === 'NoSuchKey' || x.name === 'NotFound' || x.$metadata?.httpStatusCode === 404;
}
