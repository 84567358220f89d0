/** `caxton key create|list|set-role|revoke`: API keys (admin only). */
import { type Command, Option } from 'commander';
import type { KeyView } from '../api-types.js';
import { context } from '../context.js';
import { countFooter, formatAge, renderTable } from '../output.js';
import { ok } from './common.js';
import { destructive } from '../destructive.js';

export const ROLES = ['viewer', 'developer', 'operator', 'admin'] as const;

export function registerKey(program: Command): void {
  const key = program.command('key').alias('keys').description('API keys and their roles (needs an admin key)');
  key
    .command('create')
    .description('create an API key; it is printed once, store it now')
    .requiredOption('--name <name>', 'what the key is for, e.g. ci-deployer')
    .addOption(new Option('--role <role>', 'viewer (read), developer (deploy, send), operator (control, send) or admin').choices(ROLES).makeOptionMandatory())
    .action(async (opts: { name: string; role: string }, cmd: Command) => {
      const ctx = context(cmd);
      const k = await ctx.client.post<KeyView>('/keys', { name: opts.name, role: opts.role });
      ctx.print(k, () =>
        ok(`key ${k.name} created with role ${k.role} (id ${k.id})`) +
          `${k.key ?? ''}\n` +
          'This is the only time the key is shown: store it now (use it with --api-key or CAXTON_API_KEY).\n',
      );
    });
  key
    .command('list')
    .alias('ls')
    .description('list API keys (never the keys themselves)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<{ keys: KeyView[] }>('/keys');
      ctx.print(r, () => renderTable(['ID', 'NAME', 'ROLE', 'CREATED'], r.keys.map((k) => [k.id, k.name, k.role, formatAge(k.created_at)])) + countFooter(r.keys.length, 'key') + '\n');
    });
  key
    .command('set-role')
    .description('give an API key another role (on a cluster, every node applies it)')
    .argument('<id>', 'the key\'s id (from `caxton key list`)')
    .addOption(new Option('--role <role>', 'viewer, developer, operator or admin').choices(ROLES).makeOptionMandatory())
    .action(async (id: string, opts: { role: string }, cmd: Command) => {
      const ctx = context(cmd);
      const k = await ctx.client.patch<KeyView>(`/keys/${encodeURIComponent(id)}`, { role: opts.role });
      ctx.print(k, () => ok(`key ${k.name} (id ${k.id}) now has role ${k.role}`));
    });
  destructive(key.command('revoke'))
    .description('revoke an API key at once')
    .argument('<id>', 'the key\'s id (from `caxton key list`)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.delete<{ id: string; revoked: boolean }>(`/keys/${encodeURIComponent(id)}`);
      ctx.print(r, () => ok(`key ${r.id} revoked`));
    });
}
