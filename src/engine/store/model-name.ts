// Model names as Ollama spells them ("llama3", "llama3:8b", "me/llama3:8b"). Each part of a
// name becomes a path component under the manifests directory, so this parser is the
// security boundary against path traversal: it accepts only a strict character set and
// rejects everything else rather than trying to clean it up.
import { invalidRequest } from '../../errors.js';

export interface ModelName {
  readonly namespace: string;
  readonly model: string;
  readonly tag: string;
}

export const DEFAULT_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';
/** The only host a name may carry; Ollama clients send it on pull/push-style names. */
export const DEFAULT_HOST = 'registry.ollama.ai';
export const MAX_PART_LENGTH = 80;

type PartKind = 'namespace' | 'model' | 'tag';

// Leading character restricted so no part can be ".", "..", a dotfile or an option-like "-x".
const PART_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/** Why `part` is not a valid name part, or undefined when it is. */
export function namePartProblem(part: string, kind: PartKind): string | undefined {
  if (part.length === 0) return `${kind} is empty`;
  if (part.length > MAX_PART_LENGTH) return `${kind} is longer than ${MAX_PART_LENGTH} characters`;
  if (part === '.' || part === '..') return `${kind} may not be "${part}"`;
  const bad = /[^a-z0-9._-]/.exec(part);
  if (bad) return `${kind} contains the character ${describeChar(bad[0])}`;
  if (!PART_PATTERN.test(part)) return `${kind} must start with a letter or digit`;
  return undefined;
}

export function isValidNamePart(part: string): boolean {
  return namePartProblem(part, 'model') === undefined;
}

export function parseModelName(input: string): ModelName {
  if (typeof input !== 'string') throw invalidRequest('invalid model name: expected a string', 'invalid_model_name');
  const fail = (why: string) => invalidRequest(`invalid model name ${quote(input)}: ${why}`, 'invalid_model_name');
  if (input.length === 0) throw fail('name is empty');
  // Bound the work done on hostile input before splitting; a valid name is far shorter.
  if (input.length > 4 * (MAX_PART_LENGTH + 1) + DEFAULT_HOST.length) throw fail('name is too long');

  // Checked before lower-casing: toLowerCase maps some non-ASCII letters (the Kelvin sign)
  // to ASCII ones, and a name should mean exactly what its bytes say.
  const bad = /[^A-Za-z0-9._:/-]/.exec(input);
  if (bad) throw fail(`name contains the character ${describeChar(bad[0])}`);

  const lower = input.toLowerCase();
  const colonParts = lower.split(':');
  if (colonParts.length > 2) throw fail('name contains more than one ":"');
  const [path = '', tag = DEFAULT_TAG] = colonParts;
  if (colonParts.length === 2 && tag === '') throw fail('tag is empty');

  const segments = path.split('/');
  let namespace = DEFAULT_NAMESPACE;
  let model: string;
  if (segments.length === 1) {
    model = segments[0] ?? '';
  } else if (segments.length === 2) {
    [namespace = '', model = ''] = segments;
  } else if (segments.length === 3) {
    const [host = '', ns = '', m = ''] = segments;
    if (host !== DEFAULT_HOST) throw fail(`only the host ${DEFAULT_HOST} may be given`);
    namespace = ns;
    model = m;
  } else {
    throw fail('name has too many "/"-separated parts');
  }

  for (const [part, kind] of [[namespace, 'namespace'], [model, 'model'], [tag, 'tag']] as const) {
    const problem = namePartProblem(part, kind);
    if (problem) throw fail(problem);
  }
  return { namespace, model, tag };
}

/**
 * Re-validates a ModelName that did not come from parseModelName (an object literal built by
 * a caller), so paths are only ever derived from checked parts.
 */
export function checkModelName(name: ModelName): ModelName {
  const { namespace, model, tag } = name;
  for (const [part, kind] of [[namespace, 'namespace'], [model, 'model'], [tag, 'tag']] as const) {
    const problem = typeof part === 'string' ? namePartProblem(part, kind) : `${kind} is not a string`;
    if (problem) {
      const shown = `${String(namespace)}/${String(model)}:${String(tag)}`;
      throw invalidRequest(`invalid model name ${quote(shown)}: ${problem}`, 'invalid_model_name');
    }
  }
  return { namespace, model, tag };
}

/**
 * A model name from a client, for a store other than the model store itself (model metadata, a
 * fine-tune registration): checked as the backend will read it, so nothing is kept under a name
 * the backend would refuse (`a/../../x:latest`), and returned as written, as Ollama lists it.
 * 400 invalid_model_name naming `field` otherwise.
 */
export function requireModelName(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw invalidRequest(`${field} is required`, 'invalid_model_name');
  try {
    checkModelName(parseModelName(raw));
    return raw;
  } catch (err) {
    throw invalidRequest(`${field}: ${err instanceof Error ? err.message : String(err)}`, 'invalid_model_name');
  }
}

/** "model:tag" for the default namespace, "namespace/model:tag" otherwise. */
export function formatModelName(name: ModelName): string {
  const base = name.namespace === DEFAULT_NAMESPACE ? name.model : `${name.namespace}/${name.model}`;
  return `${base}:${name.tag}`;
}

export function sameModelName(a: ModelName, b: ModelName): boolean {
  return a.namespace === b.namespace && a.model === b.model && a.tag === b.tag;
}

// JSON quoting escapes NUL and control characters so the message is safe to log; the
// truncation keeps a megabyte-long hostile name from being echoed back whole.
function quote(input: string): string {
  const shown = input.length > 100 ? `${input.slice(0, 100)}…` : input;
  return JSON.stringify(shown);
}

function describeChar(ch: string): string {
  return /^[\x21-\x7e]$/.test(ch) ? `"${ch}"` : `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}
