/**
 * A local S3-compatible server (s3rver, from npm) on loopback for one test, with its buckets made,
 * and what a Caxton node or CLI needs to reach it: the AWS credentials s3rver accepts (in the
 * environment, as the SDK's default chain reads them) and the endpoint with path-style addressing.
 */
import { createRequire } from 'node:module';
import { tempDir } from './tmp.js';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (o: { port: number; address: string; silent: boolean; directory: string; configureBuckets?: { name: string }[] }) => S3rverInstance;

export interface LocalS3 {
  readonly endpoint: string;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION for s3rver. */
  readonly env: Record<string, string>;
  /** `server start` arguments that point backup.s3 at it. */
  readonly serverArgs: readonly string[];
  /** CLI flags for verify, restore and list --from. */
  readonly cliArgs: readonly string[];
  /** The directory s3rver keeps objects in (bucket/key... on disk). */
  readonly directory: string;
  stop(): Promise<void>;
}

export async function startLocalS3(buckets: readonly string[]): Promise<LocalS3> {
  // s3rver ships no type declarations: the two methods used here are typed above.
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const dir = tempDir('caxton-s3-');
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir.path, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    serverArgs: ['--set', `backup.s3.endpoint=${endpoint}`, '--set', 'backup.s3.force_path_style=true'],
    cliArgs: ['--s3-endpoint', endpoint, '--s3-force-path-style'],
    directory: dir.path,
    async stop() {
      await server.close();
      dir.cleanup();
    },
  };
}
