// The operator subcommands of `loopbridge`: `conversations list|show|bind|reset|stop`, `usage`, `pairing
// list|approve|deny`. Each parses its arguments, runs its operation where the state is (`operate`: the
// daemon, or the store) and prints aligned columns for a terminal, or the result as JSON with --json.

import { loadConfig, type Config } from '../config/index.js';
import { scrubSecrets, secretValues } from '../config/mask.js';
import type { ConversationDetail, ConversationView } from './conversation-operations.js';
import { ControlError } from './control-protocol.js';
import { operate } from './operator.js';
import type { PairingView } from './pairing-operations.js';
import { indent, table, when } from './table.js';
import type { UsageLine, UsageReport } from './usage-operations.js';

/** A command line that cannot be run as given (exit 2). */
export class OperatorUsageError extends Error {
  override readonly name = 'OperatorUsageError';
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Parsed flags and positional words of one subcommand. */
interface Parsed {
  config: string;
  json: boolean;
  words: string[];
  values: Record<string, string>;
}

function parse(argv: string[], command: string, valueFlags: string[] = []): Parsed {
  const out: Parsed = { config: '', json: false, words: [], values: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('-'))) throw new OperatorUsageError(`loopbridge ${command}: ${name} needs a value`);
      return v;
    };
    if (name === '--config' || name === '-c') out.config = value();
    else if (name === '--json') out.json = true;
    else if (valueFlags.includes(name)) out.values[name] = value();
    else if (a.startsWith('-')) throw new OperatorUsageError(`loopbridge ${command}: unknown option ${a}`);
    else out.words.push(a);
  }
  if (!out.config) throw new OperatorUsageError(`loopbridge ${command}: --config FILE is required`);
  return out;
}

/** Runs an operation and prints it; ControlErrors become a message on stderr and exit 1. */
async function run(config: Config, op: string, args: Record<string, unknown>, json: boolean, print: (result: never) => string, io: Io): Promise<number> {
  try {
    const { result } = await operate(config, op, args);
    io.out(json ? `${JSON.stringify(result, null, 2)}\n` : print(result as never));
    return 0;
  } catch (err) {
    if (!(err instanceof ControlError)) throw err;
    io.err(`${scrubSecrets(err.message, secretValues(config))}\n`);
    return 1;
  }
}

const n = (x: number) => x.toLocaleString('en-US');
const usd = (x: number) => `$${x.toFixed(4)}`;

function stateOf(v: ConversationView): string {
  const queued = v.queued ? `${v.queued} queued` : '';
  if (v.blocked) return [`blocked: ${v.blocked.reason}`, queued].filter(Boolean).join(', ');
  if (v.running) return queued ? `running, ${queued}` : 'running';
  return queued || 'idle';
}

const person = (p?: { user: string; name?: string }) => (p ? (p.name ? `${p.name} (${p.user})` : p.user) : '-');

function listText(result: { conversations: ConversationView[] }): string {
  const convs = result.conversations;
  if (!convs.length) return 'no conversations yet\n';
  return table(
    ['KEY', 'LOOP', 'BINDING', 'STATE', 'LAST ACTIVITY', 'STARTED BY'],
    convs.map((v) => [v.key, v.loopId ?? '-', v.binding ?? '-', stateOf(v), when(v.lastActivityAt), person(v.startedBy)]),
  );
}

const SOURCE: Record<NonNullable<ConversationView['loopSource']>, string> = {
  created: 'created by the bridge',
  binding: 'from the binding',
  operator: 'bound by an operator',
  attach: 'attached by an admin (/attach)',
};

function showText(d: ConversationDetail): string {
  const where = `${d.platform} ${d.direct ? 'direct chat' : 'group'} ${d.chatId}${d.threadId ? `, thread ${d.threadId}` : ''}`;
  const rows: Array<[string, string]> = [
    ['key', d.key],
    ['where', where],
    ['loop', d.loopId ? `${d.loopId} (${SOURCE[d.loopSource ?? 'created']})` : '- (the next message creates one)'],
    ['binding', d.bindingDescription],
    ['state', stateOf(d)],
    ['mode', d.permissionMode],
    ['started by', person(d.startedBy)],
    ['token', d.tokenOwner ? `${d.tokenOwner}'s own (per-user)` : "the bridge's shared token"],
    ['last activity', when(d.lastActivityAt)],
    ['mirror', d.mirror ? 'yes: turns from other clients are shown' : 'no'],
  ];
  if (d.activation) rows.push(['activation', d.activation]);
  if (d.blocked) rows.push(['blocked', `${d.blocked.reason}${d.blocked.loopId ? ` (loop ${d.blocked.loopId})` : ''}${d.blocked.user ? ` until ${d.blocked.user} links a token` : ''}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  let out = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
  if (d.queue.length) {
    out += '\nqueue:\n';
    out += indent(
      table(
        ['#', 'SENDER', 'ACCEPTED', 'CHARS', 'FILES', ''],
        d.queue.map((q, i) => [String(i + 1), q.sender, when(q.acceptedAt), n(q.chars), String(q.files), q.running ? 'running' : '']),
      ),
    );
  }
  return out;
}

export async function conversationsCommand(argv: string[], io: Io = stdio): Promise<number> {
  const [sub, ...rest] = argv;
  const usage = 'usage: loopbridge conversations list [--platform P] [--json] | show KEY [--json] | bind KEY LOOP_ID | reset KEY | stop KEY  --config FILE';
  if (!sub || !['list', 'show', 'bind', 'reset', 'stop'].includes(sub)) throw new OperatorUsageError(usage);
  const p = parse(rest, `conversations ${sub}`, sub === 'list' ? ['--platform'] : []);
  const want = sub === 'list' ? 0 : sub === 'bind' ? 2 : 1;
  if (p.words.length !== want) throw new OperatorUsageError(`loopbridge conversations ${sub}: ${sub === 'bind' ? 'KEY and LOOP_ID are' : want ? 'KEY is' : 'no argument is'} expected\n${usage}`);
  const { config } = loadConfig(p.config);
  const [key, loopId] = p.words;
  switch (sub) {
    case 'list':
      return run(config, 'conversations.list', p.values['--platform'] ? { platform: p.values['--platform'] } : {}, p.json, listText, io);
    case 'show':
      return run(config, 'conversations.show', { key }, p.json, showText, io);
    case 'bind':
      return run(config, 'conversations.bind', { key, loopId }, p.json, (r: ConversationView & { previousLoopId: string | null; title: string }) =>
        `bound ${r.key} to ${r.loopId} (${r.title})${r.previousLoopId && r.previousLoopId !== r.loopId ? `; it was on ${r.previousLoopId}` : ''}. Its next message goes there.\n`, io);
    case 'reset':
      return run(config, 'conversations.reset', { key }, p.json, (r: ConversationView & { previousLoopId: string | null }) =>
        `reset ${r.key}${r.previousLoopId ? ` (it was on ${r.previousLoopId})` : ''}: ${r.loopId ? `its next message goes to ${r.loopId} (${r.binding})` : 'its next message starts a new loop'}.\n`, io);
    default:
      return run(config, 'conversations.stop', { key }, p.json, (r: { key: string; loopId: string; running: boolean }) =>
        `sent a stop to ${r.loopId}${r.running ? ` (the turn running for ${r.key})` : ' (no turn of this conversation was running)'}\n`, io);
  }
}

function usageLines(title: string, other: string, lines: UsageLine[]): string {
  return table(
    [title, 'TURNS', 'INPUT TOKENS', 'OUTPUT TOKENS', 'COST', other, 'LAST'],
    lines.map((l) => [l.key, n(l.turns), n(l.inputTokens), n(l.outputTokens), usd(l.costUsd), n(l.count), when(l.lastAt)]),
  );
}

function usageText(r: UsageReport): string {
  const head = `usage ${r.since ? `since ${r.since}` : 'over everything kept'} (UTC days; ${r.retentionDays} days are kept)\n`;
  if (!r.total.turns) return `${head}no turns counted\n`;
  const t = r.total;
  return (
    `${head}\n${usageLines('CONVERSATION', 'PEOPLE', r.conversations)}\n${usageLines('USER', 'CONVERSATIONS', r.users)}\n` +
    `total: ${n(t.turns)} turns, ${n(t.inputTokens)} input / ${n(t.outputTokens)} output tokens (${n(t.cacheReadTokens)} cache read), ${usd(t.costUsd)}\n`
  );
}

export async function usageCommand(argv: string[], io: Io = stdio): Promise<number> {
  const p = parse(argv, 'usage', ['--since']);
  if (p.words.length) throw new OperatorUsageError('usage: loopbridge usage [--since YYYY-MM-DD] [--json] --config FILE');
  const { config } = loadConfig(p.config);
  return run(config, 'usage.report', p.values['--since'] ? { since: p.values['--since'] } : {}, p.json, usageText, io);
}

function pairingText(r: { pending: PairingView[]; approved: string[] }): string {
  const pending = r.pending.length
    ? table(['CODE', 'USER', 'NAME', 'REQUESTED'], r.pending.map((x) => [x.code ?? '-', x.user, x.displayName ?? '-', when(x.createdAt)]))
    : '(none)\n';
  const approved = r.approved.length ? table(['USER'], r.approved.map((u) => [u])) : '(none)\n';
  return `pending requests:\n${indent(pending)}approved users:\n${indent(approved)}`;
}

export async function pairingCommand(argv: string[], io: Io = stdio): Promise<number> {
  const [sub, ...rest] = argv;
  const usage = 'usage: loopbridge pairing list [--json] | approve CODE | deny CODE  --config FILE';
  if (sub !== 'list' && sub !== 'approve' && sub !== 'deny') throw new OperatorUsageError(usage);
  const p = parse(rest, `pairing ${sub}`);
  const needsCode = sub !== 'list';
  if (p.words.length !== (needsCode ? 1 : 0)) throw new OperatorUsageError(`loopbridge pairing ${sub}${needsCode ? ' CODE' : ''} --config FILE: ${needsCode ? 'CODE is required' : 'no argument is expected'}`);
  const { config } = loadConfig(p.config);
  if (!needsCode) return run(config, 'pairing.list', {}, p.json, pairingText, io);
  return run(config, `pairing.${sub}`, { code: p.words[0] }, p.json, (rec: PairingView) =>
    `${sub === 'approve' ? 'approved' : 'denied'} ${rec.user}${rec.displayName ? ` (${rec.displayName})` : ''}\n`, io);
}
