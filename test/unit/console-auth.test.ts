import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from 'express';
import { originAllowed, sessionCookieOf } from '../../src/api/admin/admin-auth.js';

/** A request as the two helpers read it: its headers, by case-insensitive name. */
const request = (headers: Record<string, string>): Request =>
  ({ get: (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1] }) as unknown as Request;

describe('the session cookie', () => {
  it('is found among other cookies, by its exact name', () => {
    assert.equal(sessionCookieOf(request({ cookie: 'hearth_session=abc' })), 'abc');
    assert.equal(sessionCookieOf(request({ cookie: 'theme=dark; hearth_session=abc-_9 ; other=1' })), 'abc-_9');
    assert.equal(sessionCookieOf(request({ cookie: 'xhearth_session=abc; hearth_session_old=def' })), undefined);
    assert.equal(sessionCookieOf(request({ cookie: 'hearth_session=' })), undefined);
    assert.equal(sessionCookieOf(request({})), undefined);
  });
});

describe('the Origin of a change', () => {
  it('absent (curl, same-origin GET) passes; the host the request was sent to passes, either scheme', () => {
    assert.equal(originAllowed(request({ host: '127.0.0.1:8080' }), ''), true);
    assert.equal(originAllowed(request({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' }), ''), true);
    assert.equal(originAllowed(request({ host: 'Hearth.Lan', origin: 'https://hearth.lan' }), ''), true, 'behind a TLS proxy');
  });

  it("another site, another port, 'null' and a non-http scheme are refused", () => {
    assert.equal(originAllowed(request({ host: '127.0.0.1:8080', origin: 'http://evil.example' }), ''), false);
    assert.equal(originAllowed(request({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:9090' }), ''), false);
    assert.equal(originAllowed(request({ host: '127.0.0.1:8080', origin: 'null' }), ''), false);
    assert.equal(originAllowed(request({ host: '127.0.0.1:8080', origin: 'file://127.0.0.1:8080' }), ''), false);
  });

  it("public_base_url's origin passes whatever Host the proxy sent on", () => {
    assert.equal(originAllowed(request({ host: '127.0.0.1:8080', origin: 'https://ai.example.org' }), 'https://ai.example.org/hearth'), true);
    assert.equal(originAllowed(request({ host: '127.0.0.1:8080', origin: 'https://evil.example.org' }), 'https://ai.example.org/hearth'), false);
  });
});
