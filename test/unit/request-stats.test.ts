import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { daysOf } from '../../src/domain/days.js';
import { RequestLog, type RequestLogEntry } from '../../src/domain/request-log.js';
import { bucketRange, fillBuckets, RequestStats } from '../../src/domain/request-stats.js';
import { csvField, toCsv } from '../../src/views/csv.js';
import { dailyUsageCsv } from '../../src/views/request-stats.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';

const noTimer = { set: () => undefined, clear: () => undefined };

const entry = (at: string, over: Partial<RequestLogEntry> = {}): RequestLogEntry => ({
  at: new Date(at),
  workspaceId: 'ws_a',
  keyId: 'ka',
  surface: '/api/v1',
  route: 'POST /api/v1/chat',
  model: 'm:latest',
  status: 200,
  promptTokens: 10,
  completionTokens: 5,
  credits: 1,
  durationMs: 1,
  ttftMs: null,
  ...over,
});

describe('stats buckets', () => {
  it('the last hour is 60 minutes aligned to the minute, the last one holding now', () => {
    const r = bucketRange('hour', new Date('2025-03-15T12:34:56.789Z'));
    assert.equal(r.count, 60);
    assert.equal(r.bucketMs, 60_000);
    assert.equal(new Date(r.first).toISOString(), '2025-03-15T11:35:00.000Z');
    assert.equal(new Date(r.first + (r.count - 1) * r.bucketMs).toISOString(), '2025-03-15T12:34:00.000Z');
    const d = bucketRange('day', new Date('2025-03-15T12:34:56.789Z'));
    assert.equal(d.count, 24);
    assert.equal(new Date(d.first).toISOString(), '2025-03-14T13:00:00.000Z');
  });

  it('fills the buckets no row names with zeros, oldest first', () => {
    const range = { first: Date.parse('2025-03-15T12:00:00Z'), bucketMs: 60_000, count: 3 };
    const filled = fillBuckets([{ bucket: 1, requests: 2, errors: 1, credits: 3, promptTokens: 4, completionTokens: 5 }], range);
    assert.deepEqual(
      filled.map((b) => [b.start.toISOString(), b.requests, b.errors, b.credits, b.promptTokens, b.completionTokens]),
      [
        ['2025-03-15T12:00:00.000Z', 0, 0, 0, 0, 0],
        ['2025-03-15T12:01:00.000Z', 2, 1, 3, 4, 5],
        ['2025-03-15T12:02:00.000Z', 0, 0, 0, 0, 0],
      ],
    );
  });
});

describe('RequestStats on the request log', () => {
  let d: Domain;
  let log: RequestLog;
  let stats: RequestStats;
  beforeEach(() => {
    d = openDomain({ now: '2025-03-15T12:34:56.000Z', timeZone: 'Europe/Berlin' });
    log = new RequestLog(d.db, { timer: noTimer });
    stats = new RequestStats(d.db, log, d.clock, 'Europe/Berlin');
  });
  afterEach(() => d.close());

  it('groups the window by minute: edges, errors, sums; rows outside it and unflushed rows alike', () => {
    log.record(entry('2025-03-15T11:34:59.999Z')); // just before the hour's first bucket
    log.record(entry('2025-03-15T11:35:00.000Z')); // its first instant
    log.record(entry('2025-03-15T12:34:00.000Z', { status: 500, credits: 0, promptTokens: 1, completionTokens: 0 }));
    log.record(entry('2025-03-15T12:34:56.000Z', { status: 429, credits: 0 }));
    log.record(entry('2025-03-15T12:34:59.999Z', { status: 499 }));
    const buckets = stats.window('hour');
    assert.equal(log.buffered, 0, 'reading writes what was gathered first');
    assert.equal(buckets.length, 60);
    assert.deepEqual(
      buckets.filter((b) => b.requests > 0).map((b) => ({ ...b, start: b.start.toISOString() })),
      [
        { start: '2025-03-15T11:35:00.000Z', requests: 1, errors: 0, credits: 1, promptTokens: 10, completionTokens: 5 },
        { start: '2025-03-15T12:34:00.000Z', requests: 3, errors: 3, credits: 1, promptTokens: 21, completionTokens: 10 },
      ],
    );
    const day = stats.window('day');
    assert.equal(day.length, 24);
    assert.deepEqual(
      day.filter((b) => b.requests > 0).map((b) => [b.start.toISOString(), b.requests]),
      [
        ['2025-03-15T11:00:00.000Z', 2],
        ['2025-03-15T12:00:00.000Z', 3],
      ],
    );
  });

  it('daily usage: days of the zone, one row per day, workspace, key and model; keyless requests are nobody’s', () => {
    // 23:30 UTC on the 14th is already the 15th in Berlin (UTC+1 in March before the change).
    log.record(entry('2025-03-14T23:30:00.000Z'));
    log.record(entry('2025-03-14T22:59:59.999Z'));
    log.record(entry('2025-03-15T10:00:00.000Z', { model: null, route: 'GET /api/v1/usage', credits: 0, promptTokens: 0, completionTokens: 0 }));
    log.record(entry('2025-03-15T10:00:00.000Z', { workspaceId: 'ws_b', keyId: 'kb', credits: 2 }));
    log.record(entry('2025-03-15T10:00:01.000Z', { workspaceId: null, keyId: null, status: 401 }));
    // The last instant of March in Berlin (CEST, UTC+2) and the first of April.
    log.record(entry('2025-03-31T21:59:59.999Z'));
    log.record(entry('2025-03-31T22:00:00.000Z'));
    const { period, rows } = stats.daily();
    assert.equal(period, '2025-03');
    assert.deepEqual(
      rows.map((r) => [r.day, r.workspaceId, r.keyId, r.model, r.requests, r.credits]),
      [
        ['2025-03-14', 'ws_a', 'ka', 'm:latest', 1, 1],
        ['2025-03-15', 'ws_a', 'ka', null, 1, 0],
        ['2025-03-15', 'ws_a', 'ka', 'm:latest', 1, 1],
        ['2025-03-15', 'ws_b', 'kb', 'm:latest', 1, 2],
        ['2025-03-31', 'ws_a', 'ka', 'm:latest', 1, 1],
      ],
    );
    assert.deepEqual(
      stats.daily({ workspaceId: 'ws_b' }).rows.map((r) => r.workspaceId),
      ['ws_b'],
    );
    assert.deepEqual(
      stats.daily({ period: '2025-04' }).rows.map((r) => [r.day, r.requests]),
      [['2025-04-01', 1]],
    );
  });
});

describe('days of a period', () => {
  it('has every calendar day, each from its local midnight, the spring-forward day 23 hours long', () => {
    const days = daysOf('2025-03', 'Europe/Berlin');
    assert.equal(days.length, 31);
    assert.equal(days[0]!.day, '2025-03-01');
    assert.equal(days[0]!.start.toISOString(), '2025-02-28T23:00:00.000Z');
    const change = days.find((d) => d.day === '2025-03-30')!;
    assert.equal(change.end.getTime() - change.start.getTime(), 23 * 3_600_000);
    assert.equal(days[30]!.end.toISOString(), '2025-03-31T22:00:00.000Z');
    for (let i = 1; i < days.length; i++) assert.equal(days[i]!.start.getTime(), days[i - 1]!.end.getTime(), 'no gap, no overlap');
  });

  it('a zone with a half-hour offset and a UTC month', () => {
    assert.equal(daysOf('2025-02', 'Asia/Kolkata')[0]!.start.toISOString(), '2025-01-31T18:30:00.000Z');
    const utc = daysOf('2024-02', 'UTC');
    assert.equal(utc.length, 29);
    assert.equal(utc[28]!.day, '2024-02-29');
  });
});

describe('CSV (RFC 4180)', () => {
  it('quotes a field with a comma, a quote, CR or LF, doubling quotes; null is empty', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField(12), '12');
    assert.equal(csvField(null), '');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('cr\r'), '"cr\r"');
    assert.equal(csvField(''), '');
  });

  it('ends every record with CRLF, the header first', () => {
    assert.equal(toCsv(['a', 'b'], [[1, null], ['x,y', 'z']]), 'a,b\r\n1,\r\n"x,y",z\r\n');
    assert.equal(
      dailyUsageCsv([{ day: '2025-03-15', workspaceId: 'ws_a', keyId: null, model: 'team/m:v1', requests: 2, promptTokens: 3, completionTokens: 4, credits: 5 }]),
      'day,workspace_id,key_id,model,requests,prompt_tokens,completion_tokens,credits\r\n2025-03-15,ws_a,,team/m:v1,2,3,4,5\r\n',
    );
  });
});
