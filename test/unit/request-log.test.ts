import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RequestLog, type FlushTimer, type RequestLogEntry } from '../../src/domain/request-log.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';

/** A timer moved by hand: `fire` runs what is due, as the event loop would after `ms`. */
function manualTimer() {
  let due: { run: () => void; ms: number } | undefined;
  const timer: FlushTimer = {
    set: (run, ms) => (due = { run, ms }),
    clear: (handle) => {
      if (handle === due) due = undefined;
    },
  };
  return {
    timer,
    get armed() {
      return due?.ms;
    },
    fire() {
      const d = due;
      due = undefined;
      d?.run();
    },
  };
}

const entry = (n: number, over: Partial<RequestLogEntry> = {}): RequestLogEntry => ({
  at: new Date(Date.UTC(2025, 2, 15, 12, 0, n)),
  workspaceId: 'ws_1',
  keyId: 'k1',
  surface: '/v1',
  route: 'POST /v1/chat/completions',
  model: 'm:latest',
  status: 200,
  promptTokens: n,
  completionTokens: 2 * n,
  credits: 1,
  durationMs: 10.5,
  ttftMs: null,
  ...over,
});

describe('RequestLog', () => {
  let d: Domain;
  const rows = () => d.db.prepare('SELECT prompt_tokens AS n FROM request_log ORDER BY id').pluck().all() as number[];
  beforeEach(() => (d = openDomain()));
  afterEach(() => d.close());

  it('writes nothing on record: a batch goes out when the timer fires, in one transaction', () => {
    const t = manualTimer();
    const log = new RequestLog(d.db, { timer: t.timer, flushMs: 1000, batchRows: 200 });
    log.record(entry(1));
    log.record(entry(2));
    assert.deepEqual(rows(), [], 'the request path does not write');
    assert.equal(t.armed, 1000, 'one timer for the batch');
    t.fire();
    assert.deepEqual(rows(), [1, 2]);
    assert.equal(log.buffered, 0);
    assert.equal(t.armed, undefined, 'nothing left, no timer');
  });

  it('a full batch is written at once, without waiting for the timer, and its timer is cleared', () => {
    const t = manualTimer();
    const log = new RequestLog(d.db, { timer: t.timer, batchRows: 3 });
    log.record(entry(1));
    log.record(entry(2));
    assert.deepEqual(rows(), []);
    log.record(entry(3));
    assert.deepEqual(rows(), [1, 2, 3]);
    assert.equal(t.armed, undefined);
  });

  it('every field is kept as given (times as ISO text, a null ttft and model)', () => {
    const log = new RequestLog(d.db, { timer: manualTimer().timer });
    log.record(entry(4, { model: null, ttftMs: 3.25, workspaceId: null, keyId: null, status: 401 }));
    assert.equal(log.flush(), 1);
    const row = d.db.prepare('SELECT * FROM request_log').get() as Record<string, unknown>;
    assert.deepEqual(
      { ...row, id: undefined },
      {
        id: undefined,
        at: '2025-03-15T12:00:04.000Z',
        workspace_id: null,
        key_id: null,
        surface: '/v1',
        route: 'POST /v1/chat/completions',
        model: null,
        status: 401,
        prompt_tokens: 4,
        completion_tokens: 8,
        credits: 1,
        duration_ms: 10.5,
        ttft_ms: 3.25,
      },
    );
  });

  it('while writes fail, rows are kept for the timer, bounded: the oldest are dropped and counted', () => {
    const t = manualTimer();
    const warnings: Array<Record<string, unknown>> = [];
    const log = new RequestLog(d.db, { timer: t.timer, batchRows: 2, maxBuffered: 4, log: { warn: (_m: string, meta: Record<string, unknown>) => warnings.push(meta) } as never });
    // A real refusal of the database, as a full disk or a broken file would give.
    d.db.exec("CREATE TRIGGER refuse BEFORE INSERT ON request_log BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    log.record(entry(1));
    log.record(entry(2));
    assert.equal(log.buffered, 2, 'the failed batch is kept');
    assert.equal(warnings.length, 1);
    for (let n = 3; n <= 7; n++) log.record(entry(n));
    assert.equal(warnings.length, 1, 'a full batch does not retry on every request while writes fail');
    assert.equal(log.buffered, 4, 'never more than maxBuffered');
    assert.equal(log.dropped, 3);
    assert.equal(t.armed, 1000, 'the timer retries');
    t.fire();
    assert.equal(warnings.length, 2);
    assert.equal(warnings[1]!.dropped_total, 3);
    d.db.exec('DROP TRIGGER refuse');
    t.fire();
    assert.deepEqual(rows(), [4, 5, 6, 7], 'the newest rows, in order');
    log.record(entry(8));
    log.record(entry(9));
    assert.deepEqual(rows(), [4, 5, 6, 7, 8, 9], 'once writes succeed, a full batch goes at once again');
  });

  it('close() writes what is left and stops the timer', () => {
    const t = manualTimer();
    const log = new RequestLog(d.db, { timer: t.timer });
    log.record(entry(1));
    log.close();
    assert.deepEqual(rows(), [1]);
    assert.equal(t.armed, undefined);
  });
});
