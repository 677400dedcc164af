import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientConnections, clientOf, receiveTimeouts, RefusalLog } from '../../src/http/connection-limits.js';
import { refusalOf } from '../../src/http/refusals.js';

test('a client is its IPv4 address, or the /64 of its IPv6 address', () => {
  assert.equal(clientOf('192.0.2.7'), '192.0.2.7');
  assert.equal(clientOf('::ffff:192.0.2.7'), '192.0.2.7', 'IPv4-mapped counts as the IPv4 address');
  // Every address of one /64 (privacy addresses) is one client, whatever its spelling.
  const one = ['2001:db8:1:2::1', '2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd', '2001:DB8:1:2:ffff::'];
  assert.deepEqual(new Set(one.map(clientOf)), new Set(['2001:db8:1:2::/64']));
  assert.notEqual(clientOf('2001:db8:1:3::1'), clientOf('2001:db8:1:2::1'));
  assert.equal(clientOf('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(clientOf('::1'), '0:0:0:0::/64');
});

test('connections are counted per client and refused past the bound, until one closes', () => {
  const c = new ClientConnections(2);
  assert.ok(c.admit('a'));
  assert.ok(c.admit('a'));
  assert.equal(c.admit('a'), false, 'the third of a is refused');
  assert.equal(c.count('a'), 2, 'and not counted');
  assert.ok(c.admit('b'), 'another client is not affected');
  c.release('a');
  assert.ok(c.admit('a'));
  c.release('b');
  assert.equal(c.count('b'), 0);
});

test('refusals are logged once per interval, with how many and which clients', () => {
  const lines: Array<[string, unknown]> = [];
  let now = 0;
  const log = new RefusalLog({ warn: ((m: string, meta: unknown) => void lines.push([m, meta])) as never }, 'refused', () => now, 60_000);
  log.note('a');
  assert.deepEqual(lines, [['refused', { refused: 1, clients: ['a'] }]]);
  for (let i = 0; i < 1000; i++) log.note(i % 2 === 0 ? 'b' : 'c');
  assert.equal(lines.length, 1, 'a flood of refusals is not a flood of lines');
  now = 60_000;
  log.note('d');
  assert.deepEqual(lines[1], ['refused', { refused: 1001, clients: ['b', 'c', 'd'] }]);
});

test('receive timeouts: headers within the whole request, checked often enough for the timeout', () => {
  assert.deepEqual(receiveTimeouts(300_000), { requestTimeout: 300_000, headersTimeout: 60_000, connectionsCheckingInterval: 30_000 });
  assert.deepEqual(receiveTimeouts(1_000), { requestTimeout: 1_000, headersTimeout: 1_000, connectionsCheckingInterval: 100 });
  assert.equal(receiveTimeouts(3_600_000).connectionsCheckingInterval, 30_000);
});

test("Node's own refusals map to statuses and codes; socket errors to nothing", () => {
  const of = (code: string, reason?: string) => refusalOf(Object.assign(new Error('x'), { code, reason }), 5000);
  assert.deepEqual([of('ERR_HTTP_REQUEST_TIMEOUT')?.status, of('ERR_HTTP_REQUEST_TIMEOUT')?.code], [408, 'request_timeout']);
  assert.match(of('ERR_HTTP_REQUEST_TIMEOUT')!.message, /limits\.receive_timeout \(5 s\)/);
  assert.deepEqual([of('HPE_HEADER_OVERFLOW')?.status, of('HPE_HEADER_OVERFLOW')?.code], [431, 'headers_too_large']);
  assert.equal(of('HPE_CHUNK_EXTENSIONS_OVERFLOW')?.status, 413);
  const bad = of('HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length');
  assert.deepEqual([bad?.status, bad?.code, bad?.message], [400, 'malformed_request', 'malformed HTTP request: Invalid character in Content-Length']);
  assert.equal(of('ECONNRESET'), undefined);
  assert.equal(of('EPIPE'), undefined);
});
