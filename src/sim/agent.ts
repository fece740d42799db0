// The default keyword agent: a deterministic turn driven by the message text (see README.md), and
// the wrapper that turns a scripted step list into the same generator shape.
import type { ScriptStep, StepOutcome } from './options.js';
import { hostileMarkdown, longReply } from './agent-texts.js';

/** A turn's behaviour: yields steps, receives each step's outcome (choices) back. */
export type TurnAgent = Generator<ScriptStep, void, StepOutcome | undefined>;

export const KEYWORDS = ['long', 'tools', 'permission', 'question', 'error', 'slow', 'markdown'] as const;
export type Keyword = (typeof KEYWORDS)[number];

/** The keyword that appears first in the text (whole word, case-insensitive), if any. */
export function findKeyword(text: string): Keyword | null {
  let best: { k: Keyword; at: number } | null = null;
  for (const k of KEYWORDS) {
    const m = new RegExp(`\\b${k}\\b`, 'i').exec(text);
    if (m && (!best || m.index < best.at)) best = { k, at: m.index };
  }
  return best?.k ?? null;
}

/** Splits text into deterministic chunks of ~20–60 chars (never inside a surrogate pair). */
export function chunkText(text: string): string[] {
  const cps = Array.from(text);
  const sizes = [24, 41, 57, 33, 48, 20, 60, 37];
  const out: string[] = [];
  for (let i = 0, n = 0; i < cps.length; n++) {
    const size = sizes[n % sizes.length]!;
    out.push(cps.slice(i, i + size).join(''));
    i += size;
  }
  return out;
}

function* say(text: string, delayMs: number): Generator<ScriptStep, void, StepOutcome | undefined> {
  for (const c of chunkText(text)) yield { delta: c, delayMs };
}

export function* scriptedAgent(steps: ScriptStep[]): TurnAgent {
  for (const s of steps) yield s;
}

export const QUESTION_SET = [
  {
    question: 'Which language should the example use?',
    header: 'Language',
    options: [
      { label: 'TypeScript', description: 'Typed JavaScript' },
      { label: 'Python', description: 'Batteries included' },
      { label: 'Go', description: 'Small and fast' },
    ],
    multiSelect: false,
  },
  {
    question: 'Which extras do you want?',
    header: 'Extras',
    options: [
      { label: 'Tests', description: 'Unit tests with the example' },
      { label: 'Docs', description: 'A README section' },
      { label: 'CI', description: 'A workflow file' },
    ],
    multiSelect: true,
  },
];

/** The default agent for a message (no script set). `deltaDelayMs` spaces the deltas; each tool runs `toolMs`. */
export function* defaultAgent(content: string, deltaDelayMs: number, toolMs = 0): TurnAgent {
  const d = deltaDelayMs;
  switch (findKeyword(content)) {
    case 'long':
      yield* say(longReply(), d);
      return;
    case 'tools':
      yield* say('Let me look around the project first.', d);
      yield { tool: { name: 'Bash', input: { command: 'ls -la', description: 'List files' }, runMs: toolMs }, delayMs: d };
      yield* say('The listing shows a `src` folder. ', d);
      yield { tool: { name: 'Read', input: { file_path: '/workspace/README.md' }, runMs: toolMs }, delayMs: d };
      yield* say('I read the README: the project builds with `npm run build` and tests with `npm test`.', d);
      return;
    case 'permission': {
      yield* say('I need to run a command for this.', d);
      const o = yield { permission: { tool: 'Bash', input: { command: 'rm -rf ./build' } }, delayMs: d };
      yield* say(
        o?.allowed
          ? ' I ran `rm -rf ./build`; the build folder is gone.'
          : ` Permission ${o?.timedOut ? 'timed out' : 'was denied'}, so I did not run \`rm -rf ./build\`.`,
        d,
      );
      return;
    }
    case 'question': {
      yield* say('Before I start, two questions.', d);
      const o = yield { question: { questions: QUESTION_SET }, delayMs: d };
      if (!o?.answers) {
        yield* say(' The question timed out, so I picked TypeScript with tests.', d);
        return;
      }
      const lines = Object.entries(o.answers).map(([q, a]) => `- ${q} → ${typeof a === 'string' ? a : JSON.stringify(a)}`);
      yield* say(lines.length ? ` You answered:\n${lines.join('\n')}` : ' You dismissed the questions.', d);
      return;
    }
    case 'error':
      yield* say('Starting, then failing on purpose.', d);
      yield { error: 'simulated agent failure', delayMs: d };
      return;
    case 'slow': {
      const m = /\bslow\s+(\d+)/i.exec(content);
      const secs = m ? Math.max(1, Math.min(3600, Number(m[1]))) : 60;
      for (let i = 1; i <= secs; i++) yield { delta: `tick ${i}/${secs}\n`, delayMs: 1000 };
      return;
    }
    case 'markdown':
      yield* say(hostileMarkdown(), d);
      return;
    default: {
      const quoted = Array.from(content).slice(0, 200).join('').replace(/\s+/g, ' ');
      yield* say(
        `**Echo:** ${quoted}\n\nI received your message. Things you can ask for:\n` +
          '- `long` for a long answer\n- `tools` for tool calls\n- `permission` or `question` for choices\n',
        d,
      );
    }
  }
}
