/** `caxton message send`: send a FIPA-ACL message through the API, optionally waiting for the reply. */
import { type Command, Option } from 'commander';
import { context } from '../context.js';
import { usageError } from '../errors.js';
import { renderFields } from '../output.js';
import { closest, durationOption, parseContent } from '../parse.js';
import { withSpinner } from '../progress.js';
import { ok } from './common.js';

const PERFORMATIVES = [
  'request', 'inform', 'query-if', 'query-ref', 'cfp', 'propose', 'accept-proposal', 'reject-proposal',
  'agree', 'refuse', 'failure', 'not-understood', 'cancel', 'subscribe',
];

interface SendOptions {
  to?: string;
  capability?: string;
  topic?: string;
  performative: string;
  content: unknown;
  conversationId?: string;
  protocol?: string;
  ontology?: string;
  language?: string;
  priority?: string;
  atLeastOnce?: boolean;
  waitReply?: boolean;
  timeout: number;
}

interface SendResult {
  message_id: string;
  conversation_id?: string;
  delivered_to?: string;
  reply?: Record<string, unknown>;
  /** Replies that came before the final one (e.g. the agree before a request's inform). */
  interim?: Record<string, unknown>[];
}

export function registerMessage(program: Command): void {
  const message = program.command('message').alias('messages').description('send FIPA-ACL messages to agents');
  message
    .command('send')
    .description('send a message to an agent (--to), to an agent offering a capability, or to a topic')
    .option('--to <agent>', 'the receiving agent (name or id)')
    .option('--capability <cap>', 'any agent that registered this capability (e.g. arithmetic)')
    .option('--topic <topic>', 'publish to every subscriber of a topic')
    .addOption(
      new Option('--performative <p>', 'FIPA performative (variants such as QUERY_REF or queryRef are accepted)')
        .choices(PERFORMATIVES)
        .argParser(parsePerformative)
        .makeOptionMandatory(),
    )
    .requiredOption('--content <json|text>', 'the content: JSON if it parses as JSON, otherwise the text', (v) => parseContent(v))
    .option('--conversation-id <id>', 'conversation to send in (default: a new one)')
    .option('--protocol <p>', 'interaction protocol, e.g. fipa-request, fipa-query')
    .option('--ontology <o>', 'ontology of the content')
    .option('--language <l>', 'content language, e.g. json')
    .addOption(new Option('--priority <priority>', 'delivery priority').choices(['low', 'normal', 'high', 'critical']))
    .option('--at-least-once', 'durable delivery: kept in the outbox until handled, redelivered if needed')
    .option('--wait-reply', 'wait for the first reply and print it')
    .addOption(new Option('--timeout <duration>', 'how long --wait-reply waits, e.g. 30s (at most 5m)').argParser(durationOption('--timeout')).default(30_000, '30s'))
    .action(async (opts: SendOptions, cmd: Command) => {
      const ctx = context(cmd);
      const targets = [opts.to, opts.capability, opts.topic].filter((t) => t !== undefined);
      if (targets.length !== 1) {
        throw usageError(targets.length === 0 ? 'say where the message goes: --to <agent>, --capability <cap> or --topic <topic>' : 'give only one of --to, --capability and --topic');
      }
      if (opts.atLeastOnce === true && opts.topic !== undefined) throw usageError('--at-least-once applies to --to and --capability, not to --topic');
      if (opts.timeout < 1 || opts.timeout > 300_000) throw usageError('--timeout must be between 1ms and 5m');
      const msg = {
        performative: opts.performative,
        ...(opts.to === undefined ? {} : { receiver: opts.to }),
        ...(opts.capability === undefined ? {} : { capability: opts.capability }),
        ...(opts.topic === undefined ? {} : { topic: opts.topic }),
        content: opts.content,
        ...(opts.conversationId === undefined ? {} : { conversation_id: opts.conversationId }),
        ...(opts.protocol === undefined ? {} : { protocol: opts.protocol }),
        ...(opts.ontology === undefined ? {} : { ontology: opts.ontology }),
        ...(opts.language === undefined ? {} : { language: opts.language }),
        ...(opts.priority === undefined ? {} : { priority: opts.priority }),
        ...(opts.atLeastOnce === true ? { delivery: 'at-least-once' } : {}),
      };
      const wait = opts.waitReply === true;
      const send = () =>
        ctx.client.post<SendResult>('/messages', msg, {
          query: wait ? { wait_reply: true, timeout_ms: opts.timeout } : {},
          timeoutMs: wait ? opts.timeout + 30_000 : 30_000,
        });
      const r = wait ? await withSpinner('waiting for the reply…', send) : await send();
      ctx.print(r, () => {
        const to = opts.to ?? (opts.capability !== undefined ? `capability ${opts.capability}` : `topic ${opts.topic ?? ''}`);
        let text = ok(`message ${r.message_id} sent to ${to}${r.delivered_to === undefined ? '' : ` (${r.delivered_to})`}`) +
          (r.conversation_id === undefined ? '' : `conversation: ${r.conversation_id}\n`);
        for (const m of r.interim ?? []) text += `\n${str(m['performative'])} from ${str(m['sender'])}: ${contentText(m['content'])}`;
        if ((r.interim ?? []).length > 0) text += '\n';
        if (r.reply !== undefined) {
          const rep = r.reply;
          text += '\nreply:\n' + renderFields([
            ['from', str(rep['sender'])],
            ['performative', str(rep['performative'])],
            ['message id', str(rep['message_id'])],
            ['content', contentText(rep['content'])],
          ]);
        }
        return text;
      });
    });
}

/** Accepts the spellings the API accepts (not_understood, NOT-UNDERSTOOD, NotUnderstood), in canonical form. */
export function parsePerformative(value: string): string {
  const p = value.trim().replace(/([a-z])([A-Z])/g, '$1-$2').replace(/_/g, '-').toLowerCase();
  if (PERFORMATIVES.includes(p)) return p;
  const near = closest(p, PERFORMATIVES);
  throw usageError(`--performative: unknown performative "${value}"${near === undefined ? '' : ` (did you mean ${near}?)`}`, `Performatives: ${PERFORMATIVES.join(', ')}.`);
}

function contentText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? '-';
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined ? '-' : JSON.stringify(v);
}
