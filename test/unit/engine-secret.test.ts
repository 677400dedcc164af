// How `hearth engine` takes its secret from its environment (the daemon's hand-off).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINE_SECRET_ENV, MIN_ENGINE_SECRET_LENGTH, takeEngineSecret } from '../../src/engine/engine-secret.js';

describe('takeEngineSecret', () => {
  test('takes the secret and removes it from the environment, so nothing the engine starts inherits it', () => {
    const env: NodeJS.ProcessEnv = { [ENGINE_SECRET_ENV]: 'a'.repeat(43), PATH: '/bin' };
    assert.equal(takeEngineSecret(env), 'a'.repeat(43));
    assert.deepEqual(env, { PATH: '/bin' });
  });

  test('unset or empty: no secret (the engine run by hand serves openly)', () => {
    assert.equal(takeEngineSecret({}), undefined);
    const env: NodeJS.ProcessEnv = { [ENGINE_SECRET_ENV]: '' };
    assert.equal(takeEngineSecret(env), undefined);
    assert.deepEqual(env, {});
  });

  test('a value too short to be a secret is refused, naming the variable, never taken', () => {
    const env: NodeJS.ProcessEnv = { [ENGINE_SECRET_ENV]: 'x'.repeat(MIN_ENGINE_SECRET_LENGTH - 1) };
    assert.throws(() => takeEngineSecret(env), new RegExp(`${ENGINE_SECRET_ENV} must be at least ${MIN_ENGINE_SECRET_LENGTH} characters`));
    assert.deepEqual(env, {}, 'and removed all the same');
  });
});
