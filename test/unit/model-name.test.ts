import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HearthError } from '../../src/errors.js';
import { checkModelName, formatModelName, parseModelName, requireModelName, type ModelName } from '../../src/engine/store/model-name.js';

const valid: Array<[string, ModelName]> = [
  ['llama3', { namespace: 'library', model: 'llama3', tag: 'latest' }],
  ['llama3:8b', { namespace: 'library', model: 'llama3', tag: '8b' }],
  ['me/llama3', { namespace: 'me', model: 'llama3', tag: 'latest' }],
  ['me/llama3:8b', { namespace: 'me', model: 'llama3', tag: '8b' }],
  ['registry.ollama.ai/library/llama3:8b', { namespace: 'library', model: 'llama3', tag: '8b' }],
  ['REGISTRY.ollama.ai/Me/Llama3', { namespace: 'me', model: 'llama3', tag: 'latest' }],
  ['Llama3:8B', { namespace: 'library', model: 'llama3', tag: '8b' }],
  ['qwen2.5:0.5b-instruct-q4_K_M', { namespace: 'library', model: 'qwen2.5', tag: '0.5b-instruct-q4_k_m' }],
  ['0model:1', { namespace: 'library', model: '0model', tag: '1' }],
  ['a.b_c-d', { namespace: 'library', model: 'a.b_c-d', tag: 'latest' }],
  ['x', { namespace: 'library', model: 'x', tag: 'latest' }],
  [`${'n'.repeat(80)}/${'m'.repeat(80)}:${'t'.repeat(80)}`, { namespace: 'n'.repeat(80), model: 'm'.repeat(80), tag: 't'.repeat(80) }],
];

// [input, fragment of the reason the message must give]
const invalid: Array<[string, string]> = [
  ['', 'empty'],
  ['../x', 'namespace may not be ".."'],
  ['..', 'model may not be ".."'],
  ['.', 'model may not be "."'],
  ['./x', 'namespace may not be "."'],
  ['a/../../b', 'too many'],
  ['a/..', 'model may not be ".."'],
  ['x:..', 'tag may not be ".."'],
  ['/etc/passwd', 'only the host'],
  ['/x', 'namespace is empty'],
  ['a/', 'model is empty'],
  ['a//b', 'only the host'],
  ['evil.example/library/x', 'only the host'],
  ['registry.ollama.ai/../x', 'namespace may not be ".."'],
  ['registry.ollama.ai:443/library/x', 'tag contains the character "/"'],
  ['a/b/c/d', 'too many'],
  ['x:../../y', 'tag contains the character "/"'],
  ['a\\b', 'character "\\"'],
  ['..\\..\\windows', 'character "\\"'],
  ['%2e%2e', 'character "%"'],
  ['%2e%2e/x', 'character "%"'],
  ['a b', 'character U+0020'],
  ['a\0b', 'character U+0000'],
  ['a\nb', 'character U+000A'],
  ['caf\u00e9', 'character U+00E9'],
  ['\u212Aelvin', 'character U+212A'],
  ['.hidden', 'must start with a letter or digit'],
  ['-rf', 'must start with a letter or digit'],
  ['_x', 'must start with a letter or digit'],
  ['x:-tag', 'must start with a letter or digit'],
  ['a:b:c', 'more than one ":"'],
  ['a:', 'tag is empty'],
  [':b', 'model is empty'],
  ['m'.repeat(81), 'longer than 80'],
  [`${'n'.repeat(81)}/m`, 'namespace is longer than 80'],
  [`m:${'t'.repeat(81)}`, 'tag is longer than 80'],
  ['m'.repeat(100_000), 'too long'],
];

describe('parseModelName', () => {
  for (const [input, expected] of valid) {
    it(`accepts ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      assert.deepEqual(parseModelName(input), expected);
    });
  }

  for (const [input, reason] of invalid) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      assert.throws(
        () => parseModelName(input),
        (err: unknown) => {
          assert.ok(err instanceof HearthError);
          assert.equal(err.kind, 'invalid_request');
          assert.equal(err.status, 400);
          assert.equal(err.code, 'invalid_model_name');
          assert.match(err.message, /^invalid model name ".*": /s);
          assert.ok(err.message.includes(reason), `"${err.message}" should say "${reason}"`);
          // The echoed name is bounded even for hostile input.
          assert.ok(err.message.length < 300);
          return true;
        },
      );
    });
  }

  it('quotes the offending name in the message', () => {
    assert.throws(() => parseModelName('../etc'), { message: 'invalid model name "../etc": namespace may not be ".."' });
  });

  it('rejects a value that is not a string at runtime', () => {
    assert.throws(() => parseModelName(42 as unknown as string), { code: 'invalid_model_name' });
  });
});

describe('formatModelName', () => {
  it('omits the default namespace', () => {
    assert.equal(formatModelName({ namespace: 'library', model: 'llama3', tag: 'latest' }), 'llama3:latest');
  });

  it('keeps other namespaces', () => {
    assert.equal(formatModelName({ namespace: 'me', model: 'llama3', tag: '8b' }), 'me/llama3:8b');
  });

  it('round-trips through parseModelName', () => {
    for (const [input, expected] of valid) {
      assert.deepEqual(parseModelName(formatModelName(parseModelName(input))), expected);
    }
  });
});

describe('checkModelName', () => {
  it('accepts a valid object', () => {
    assert.deepEqual(checkModelName({ namespace: 'me', model: 'x', tag: '1' }), { namespace: 'me', model: 'x', tag: '1' });
  });

  it('rejects hand-built objects whose parts would escape or alias a path', () => {
    const bad: ModelName[] = [
      { namespace: '..', model: 'x', tag: 'latest' },
      { namespace: 'library', model: 'a/b', tag: 'latest' },
      { namespace: 'library', model: 'x', tag: '../../y' },
      { namespace: 'library', model: 'X', tag: 'latest' },
      { namespace: '', model: 'x', tag: 'latest' },
    ];
    for (const name of bad) assert.throws(() => checkModelName(name), { code: 'invalid_model_name' });
  });
});

describe('requireModelName', () => {
  it('returns a valid name as written', () => {
    assert.equal(requireModelName('Library/Hearth-Demo:latest', 'model'), 'Library/Hearth-Demo:latest');
  });

  it('refuses what the backend would refuse with a 400 naming the field', () => {
    for (const raw of ['a/../../x:latest', '../x', 'a/../x', 'x:../y', 'x y', '', 42]) {
      assert.throws(
        () => requireModelName(raw, 'model'),
        (err: unknown) => err instanceof HearthError && err.status === 400 && err.code === 'invalid_model_name' && /^model[: ]/.test(err.message),
        String(raw),
      );
    }
  });
});
