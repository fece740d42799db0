// The console adapter runs the adapter contract, reading its output the way a script would (--markers).

import { PassThrough } from 'node:stream';
import { ConsoleAdapter } from '../../adapters/console/console-adapter.js';
import { describeAdapterContract, type PlatformRun } from './adapter-contract.js';

let output = '';
let runs = 0;

/** Final texts printed so far; a reprint of the same message id replaces it (the terminal's "edit"). */
function printedReplies(): string[] {
  const byId = new Map<string, string>();
  const re = /^--- reply (\S+)(?: to \S+)? ---\n([\s\S]*?)\n\n(?=--- reply |$)/gm;
  for (const m of output.matchAll(re)) {
    byId.delete(m[1]);
    byId.set(m[1], m[2]);
  }
  return [...byId.values()];
}

describeAdapterContract({
  name: 'console',
  user: 'console:you',
  skips: {
    'own messages ignored': 'a terminal has only the person typing; the bot never reads its own output',
    'mention gating': 'the console is one direct conversation; group gating runs on platforms with groups (test/core/intake.test.ts, Telegram)',
    'dedupe on redelivery': 'a terminal never redelivers; redelivery of console input is exercised by test/e2e/kill-restart.test.ts (the same input re-fed to a restarted daemon)',
    'rate budget respected': 'a terminal has no rate budget',
    'privilege in groups': 'the console is one direct conversation with its operator; group privilege runs on platforms with groups (test/core/privilege.test.ts, Telegram)',
    'no freeze after platform failures': 'writing to a terminal does not fail; failed platform calls are exercised in test/core/freeze.test.ts and by every platform with a fake',
    'steering by reply': 'a terminal cannot reply to one message; /steer is how a person steers there (the steering case)',
  },
  async open(): Promise<PlatformRun> {
    const input = new PassThrough();
    const out = new PassThrough();
    out.on('data', (d: Buffer) => (output += d.toString()));
    const session = `contract${++runs}`;
    let line = 0;
    const adapter = new ConsoleAdapter({ input, output: out, interactive: false, markers: true, session, user: 'you' });
    return {
      adapter,
      async say(text) {
        input.write(`${text}\n`);
        return `${session}-${++line}`;
      },
      async botTexts() {
        return printedReplies();
      },
      async allow() {
        input.write('allow\n');
        line++;
      },
      async close() {
        input.end();
      },
    };
  },
});
