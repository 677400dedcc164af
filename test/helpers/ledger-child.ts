// A second process on the same database file, for the ledger's multi-process tests.
// argv: <db path> <mode> <workspace id> <key id> <fixed clock ISO> [count]
//   mode 'race':  prints "ready", waits for a line on stdin, then makes `count` reservations of
//                 1 credit as fast as it can, settles each one that succeeds, and prints a JSON
//                 summary {ok, refused, other}.
//   mode 'crash': settles one reservation of 7 credits, reserves another of 11 and prints
//                 "reserved <id>", then waits to be killed.
import { createInterface } from 'node:readline';
import { openDatabase } from '../../src/db/database.js';
import { ManualClock } from '../../src/domain/clock.js';
import { Ledger } from '../../src/domain/ledger.js';
import { HearthError } from '../../src/errors.js';

const [path, mode, workspaceId, keyId, now, countArg] = process.argv.slice(2) as [string, string, string, string, string, string | undefined];
const db = openDatabase(path);
const ledger = new Ledger(db, { clock: new ManualClock(now), timeZone: 'UTC' });

if (mode === 'race') {
  const count = Number(countArg ?? 20);
  const lines = createInterface({ input: process.stdin });
  process.stdout.write('ready\n');
  lines.once('line', () => {
    let ok = 0;
    let refused = 0;
    const other: string[] = [];
    for (let i = 0; i < count; i++) {
      try {
        const r = ledger.reserve({ workspaceId, keyId, endpoint: 'POST /chat', credits: 1, requestId: `${process.pid}-${i}` });
        ledger.settle(r);
        ok++;
      } catch (err) {
        if (err instanceof HearthError && err.kind === 'insufficient_quota' && err.code === 'credits_exhausted') refused++;
        else other.push(String(err));
      }
    }
    lines.close();
    db.close();
    process.stdout.write(`${JSON.stringify({ ok, refused, other })}\n`, () => process.exit(0));
  });
} else if (mode === 'crash') {
  const done = ledger.reserve({ workspaceId, keyId, endpoint: 'POST /finetune/datasets', credits: 7, requestId: 'settled-before-crash' });
  ledger.settle(done);
  const open = ledger.reserve({ workspaceId, keyId, endpoint: 'POST /finetune/jobs/:id/start', credits: 11, requestId: 'in-flight-at-crash' });
  process.stdout.write(`reserved ${open.id}\n`);
  setInterval(() => {}, 60_000); // stay alive until SIGKILL
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
