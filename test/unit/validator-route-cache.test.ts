import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { cacheValidatorRouteMatchers } from '../../src/api/validator-route-cache.js';

describe('validator route matcher cache', () => {
  it('compiles each route template once for the validator', () => {
    const size = cacheValidatorRouteMatchers();
    assert.equal(cacheValidatorRouteMatchers(), size, 'installed once');
    const fromValidator = createRequire(createRequire(import.meta.url).resolve('express-openapi-validator'));
    const { pathToRegexp } = fromValidator('path-to-regexp') as { pathToRegexp: (p: string, o?: object) => { regexp: RegExp; keys: Array<{ name: string }> } };
    const before = size();
    const a = pathToRegexp('/api/v1/finetune/jobs/:id', { sensitive: false, strict: false });
    const b = pathToRegexp('/api/v1/finetune/jobs/:id', { sensitive: false, strict: false });
    assert.equal(a, b);
    assert.equal(size(), before + 1);
    assert.deepEqual(a.keys.map((k) => k.name), ['id']);
    assert.deepEqual(a.regexp.exec('/api/v1/finetune/jobs/abc')?.slice(1), ['abc']);
    assert.notEqual(pathToRegexp('/api/v1/finetune/jobs/:id', { sensitive: true, strict: false }), a, 'other options, other entry');
  });
});
