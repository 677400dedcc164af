// Who may read GET /metrics (src/metrics/access.ts), and the metrics token's file
// (src/metrics/metrics-token.ts) in a temp dir.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Request, Response } from 'express';
import { HearthError } from '../../src/errors.js';
import { SignInLockout } from '../../src/gateway/sign-in-lockout.js';
import { metricsAccess } from '../../src/metrics/access.js';
import { loadMetricsToken, METRICS_TOKEN_FILE } from '../../src/metrics/metrics-token.js';

const ADMIN = 'hth_admin_0123456789abcdefghijklmnopqrstuv';
const METRICS = 'hth_metrics_0123456789abcdefghijklmnopqrstuv';

/** A request as the check reads it: its headers (lower-case names) and the address it came from. */
const request = (headers: Record<string, string>, remoteAddress = '198.51.100.7'): Request =>
  ({ headers, get: (name: string) => headers[name.toLowerCase()], socket: { remoteAddress } }) as unknown as Request;

/** 'ok' when the check lets the request through, else the code it refuses it with. */
function outcome(check: ReturnType<typeof metricsAccess>, req: Request): string {
  let passed = false;
  try {
    void check(req, {} as Response, () => (passed = true));
  } catch (err) {
    assert.ok(err instanceof HearthError, String(err));
    return err.code ?? err.kind;
  }
  assert.ok(passed, 'neither refused nor passed');
  return 'ok';
}

function access(openOnLoopback = false) {
  const lockout = new SignInLockout({ attempts: 3, delayMs: 60_000, maxDelayMs: 600_000, now: () => 0 });
  return { lockout, check: metricsAccess({ adminToken: ADMIN, metricsToken: METRICS, openOnLoopback, lockout }) };
}
const bearer = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });

describe('GET /metrics access', () => {
  it('the metrics token and the admin token pass; none, a workspace key or another token are refused', () => {
    const { check } = access();
    assert.equal(outcome(check, request(bearer(METRICS))), 'ok');
    assert.equal(outcome(check, request({ authorization: `bearer ${ADMIN}` })), 'ok', 'the scheme in any case');
    assert.equal(outcome(check, request({})), 'missing_metrics_token');
    assert.equal(outcome(check, request(bearer('hth_sk_a_workspace_key'))), 'invalid_metrics_token');
    assert.equal(outcome(check, request({ 'x-api-key': METRICS })), 'missing_metrics_token', 'only as a Bearer token');
  });

  it('wrong tokens count toward the admin lock-out; the admin token clears the count, the metrics token does not', () => {
    const { check, lockout } = access();
    const client = '198.51.100.7';
    for (let i = 0; i < 2; i++) assert.equal(outcome(check, request(bearer(`wrong-${i}`), client)), 'invalid_metrics_token');
    // Whoever holds the metrics token (Prometheus's config) cannot reset the count between guesses.
    assert.equal(outcome(check, request(bearer(METRICS), client)), 'ok');
    assert.equal(outcome(check, request(bearer('wrong-2'), client)), 'invalid_metrics_token');
    assert.equal(outcome(check, request(bearer(METRICS), client)), 'too_many_attempts', 'the address must wait: no token of it is looked at');
    assert.equal(outcome(check, request(bearer(METRICS), '203.0.113.9')), 'ok', 'another address is not held');
    assert.throws(() => lockout.check(client), /too many wrong admin tokens/, 'one count with the admin API');

    const fresh = access();
    for (let i = 0; i < 2; i++) outcome(fresh.check, request(bearer(`wrong-${i}`), client));
    assert.equal(outcome(fresh.check, request(bearer(ADMIN), client)), 'ok');
    for (let i = 0; i < 2; i++) assert.equal(outcome(fresh.check, request(bearer(`wrong-${i}`), client)), 'invalid_metrics_token', 'the count started again');
  });

  it('open_on_loopback: a local scraper needs no token; a forwarded request or a remote one still does', () => {
    const { check } = access(true);
    for (const local of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(outcome(check, request({}, local)), 'ok', local);
    assert.equal(outcome(check, request({}, '198.51.100.7')), 'missing_metrics_token');
    assert.equal(outcome(check, request({}, '::ffff:198.51.100.7')), 'missing_metrics_token');
    // A reverse proxy on this machine connects from loopback on behalf of anyone.
    for (const h of ['x-forwarded-for', 'forwarded', 'x-real-ip']) assert.equal(outcome(check, request({ [h]: '203.0.113.9' }, '127.0.0.1')), 'missing_metrics_token', h);
    assert.equal(outcome(check, request(bearer('wrong'), '127.0.0.1')), 'invalid_metrics_token', 'a token sent is checked');
    assert.equal(outcome(access(false).check, request({}, '127.0.0.1')), 'missing_metrics_token', 'off by default');
  });
});

describe('the metrics token file', () => {
  const dirs: string[] = [];
  const dir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'hearth-metrics-token-'));
    dirs.push(d);
    return d;
  };
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const refusal = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof HearthError, String(err));
      return err.message;
    }
    assert.fail('expected a refusal');
  };

  it('by default: made in the data dir on the first start (mode 0600), the same one after', async () => {
    const data = await dir();
    const first = await loadMetricsToken(data, '');
    assert.equal(first.created, true);
    assert.equal(first.path, join(data, METRICS_TOKEN_FILE));
    assert.match(first.token, /^hth_metrics_[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(first.path)).mode & 0o777, 0o600);
    assert.equal((await readFile(first.path, 'utf8')).trim(), first.token);
    await chmod(first.path, 0o644);
    const again = await loadMetricsToken(data, '');
    assert.deepEqual([again.created, again.token], [false, first.token]);
    assert.equal((await stat(first.path)).mode & 0o777, 0o600, 'its mode put back');
  });

  it("metrics.token_file: the operator's token; a missing, world-readable or empty file is refused, naming the key", async () => {
    const d = await dir();
    const file = join(d, 'prometheus-token');
    await writeFile(file, 'a1b2c3d4e5f6a7b8c9d0e1f2\n', { mode: 0o640 });
    assert.deepEqual(await loadMetricsToken(d, file), { token: 'a1b2c3d4e5f6a7b8c9d0e1f2', path: file, created: false });
    assert.match(await refusal(loadMetricsToken(d, join(d, 'nope'))), /^metrics\.token_file: cannot read .*nope \(ENOENT\)/);
    await chmod(file, 0o644);
    assert.match(await refusal(loadMetricsToken(d, file)), /^metrics\.token_file: .* is readable by every user: chmod o-r/);
    await writeFile(file, 'short\n', { mode: 0o600 });
    await chmod(file, 0o600);
    assert.match(await refusal(loadMetricsToken(d, file)), /^metrics\.token_file: .* must hold one token of at least 16 characters/);
  });
});
