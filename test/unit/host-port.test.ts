// The one HOST:PORT reader and writer, used by the config's listen keys, the --listen flags and
// the engine command line the daemon writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHostPort, parseHostPort } from '../../src/config/host-port.js';

test('HOST:PORT with an IPv4 address, a name or a bracketed IPv6 address; port 0 to 65535', () => {
  const cases: Array<[string, string, number]> = [
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['0.0.0.0:0', '0.0.0.0', 0],
    ['localhost:65535', 'localhost', 65535],
    ['hearth.lan:11435', 'hearth.lan', 11435],
    ['[::1]:8080', '::1', 8080],
    ['[::]:11435', '::', 11435],
    ['[fe80::1]:1', 'fe80::1', 1],
  ];
  for (const [text, host, port] of cases) {
    const parsed = parseHostPort(text);
    assert.deepEqual(parsed, { host, port }, text);
    assert.ok(Object.isFrozen(parsed), text);
    assert.equal(formatHostPort({ host, port }), text, 'written back as it was read');
  }
});

test('anything else is refused: no port, a bare port, a port past 65535, IPv6 without brackets, a bad host', () => {
  for (const bad of ['127.0.0.1', '8080', ':8080', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:123456', '::1:8080', '[::1]', '[nope]:80', '[127.0.0.1]:80', '-host:80', 'a b:80', '127.0.0.1:80x', '']) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
});
