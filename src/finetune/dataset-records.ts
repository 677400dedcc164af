import { invalidRequest } from '../errors.js';

// What a fine-tuning dataset may hold, and its one stored form. Clients send records in any of
// three common shapes; every record is stored as a chat (a list of messages), which is what the
// trainers render with the base model's chat template. One shape per dataset keeps a dataset's
// meaning plain; its first record decides.

export type DatasetFormat = 'chat' | 'prompt_completion' | 'instruction';
export type TrainingRole = 'system' | 'user' | 'assistant';

export interface TrainingMessage {
  role: TrainingRole;
  content: string;
}

/** A record as stored: a chat that ends with what the model should learn to say. */
export interface TrainingRecord {
  messages: TrainingMessage[];
}

export interface DatasetLimits {
  /** Bytes of the stored JSON lines. */
  maxBytes: number;
  maxRecords: number;
}

export interface ParsedDataset {
  format: DatasetFormat;
  /** Records in the dataset. */
  count: number;
  /** The stored file: one JSON record per line. */
  jsonl: string;
  bytes: number;
  /** See estimateTokens(). */
  tokenEstimate: number;
}

const ROLES: readonly TrainingRole[] = ['system', 'user', 'assistant'];
/** A chat may be long, but a record of more messages than this is a mistake, not a dialogue. */
const MAX_MESSAGES_PER_RECORD = 1024;

/**
 * Tokens a record will take, without a tokenizer (datasets are model-agnostic and parsed before
 * any model is chosen): about 4 bytes of UTF-8 per token for English text with BPE vocabularies,
 * plus 4 tokens of template per message. An estimate for planning; jobs count real tokens.
 */
export function estimateTokens(record: TrainingRecord): number {
  return record.messages.reduce((sum, m) => sum + Math.ceil(Buffer.byteLength(m.content, 'utf8') / 4) + 4, 0);
}

type Where = string;

function fail(where: Where, problem: string): never {
  throw invalidRequest(`${where}: ${problem}`, 'invalid_dataset');
}

function text(value: unknown, where: Where, field: string, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (value === undefined || value === null) fail(where, `"${field}" is missing`);
  if (typeof value !== 'string') fail(where, `"${field}" must be a string`);
  if (value.trim() === '') {
    if (!required) return undefined;
    fail(where, `"${field}" is empty`);
  }
  return value;
}

function formatOf(raw: Record<string, unknown>, where: Where): DatasetFormat {
  if ('messages' in raw) return 'chat';
  if ('prompt' in raw || 'completion' in raw) return 'prompt_completion';
  if ('instruction' in raw || 'output' in raw) return 'instruction';
  fail(where, 'is not a chat ({"messages": [...]}), a prompt/completion ({"prompt", "completion"}) or an instruction record ({"instruction", "input", "output"})');
}

const allowedFields: Record<DatasetFormat, readonly string[]> = {
  chat: ['messages'],
  prompt_completion: ['prompt', 'completion'],
  instruction: ['instruction', 'input', 'output'],
};

/** Checks one record and returns it as a chat; `where` names it in errors ("record 3", "line 7"). */
export function normalizeRecord(raw: unknown, where: Where, expected?: DatasetFormat): { format: DatasetFormat; record: TrainingRecord } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'must be a JSON object');
  const r = raw as Record<string, unknown>;
  const format = formatOf(r, where);
  if (expected !== undefined && format !== expected) {
    fail(where, `is a ${format.replace('_', '/')} record but the dataset's first record is ${expected.replace('_', '/')}: one format per dataset`);
  }
  const unknown = Object.keys(r).filter((k) => !allowedFields[format].includes(k));
  if (unknown.length > 0) fail(where, `unknown field "${unknown[0]}" in a ${format.replace('_', '/')} record`);

  if (format === 'prompt_completion') {
    const prompt = text(r.prompt, where, 'prompt', true) as string;
    const completion = text(r.completion, where, 'completion', true) as string;
    return { format, record: { messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: completion }] } };
  }
  if (format === 'instruction') {
    const instruction = text(r.instruction, where, 'instruction', true) as string;
    const input = text(r.input, where, 'input', false);
    const output = text(r.output, where, 'output', true) as string;
    const prompt = input === undefined ? instruction : `${instruction}\n\n${input}`;
    return { format, record: { messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: output }] } };
  }

  const messages = r.messages;
  if (!Array.isArray(messages)) fail(where, '"messages" must be an array');
  if (messages.length === 0) fail(where, '"messages" is empty');
  if (messages.length > MAX_MESSAGES_PER_RECORD) fail(where, `"messages" has ${messages.length} entries, more than ${MAX_MESSAGES_PER_RECORD}`);
  const out: TrainingMessage[] = messages.map((m: unknown, i) => {
    const at = `${where}, messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) fail(at, 'must be an object with "role" and "content"');
    const { role, content, ...rest } = m as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) fail(at, `unknown field "${extra[0]}"`);
    if (role === undefined) fail(at, '"role" is missing');
    if (typeof role !== 'string' || !ROLES.includes(role as TrainingRole)) fail(at, `"role" must be one of ${ROLES.join(', ')}`);
    return { role: role as TrainingRole, content: text(content, at, 'content', true) as string };
  });
  if (!out.some((m) => m.role === 'user')) fail(where, 'has no "user" message');
  if (!out.some((m) => m.role === 'assistant')) fail(where, 'has no "assistant" message: nothing to learn');
  return { format, record: { messages: out } };
}

/**
 * Parses a dataset sent as `records` (an array) or `jsonl` (one JSON object per line; blank
 * lines are skipped). Errors name the record (1-based, with its array index) or the line, and
 * the field. Nothing is stored here; the caller stores the returned lines.
 *
 * One pass, holding as little at once as it can: a dataset may be tens of megabytes, and the
 * request's parsed body is already in memory. JSON lines are read where they stand in the string
 * (no array of lines), each record becomes its stored line at once, and `records` is consumed:
 * each entry is dropped from the caller's array once its line is made, so the request's copy of
 * a record can be collected while the rest are checked. The limits stop the pass at the first
 * record past them.
 */
export function parseDataset(input: { records?: unknown; jsonl?: unknown }, limits: DatasetLimits): ParsedDataset {
  const hasRecords = input.records !== undefined;
  const hasJsonl = input.jsonl !== undefined;
  if (hasRecords === hasJsonl) throw invalidRequest('send the dataset as either "records" (an array) or "jsonl" (a string), not both and not neither', 'invalid_dataset');

  let format: DatasetFormat | undefined;
  const lines: string[] = [];
  let bytes = 0;
  let tokenEstimate = 0;
  const take = (raw: unknown, where: Where) => {
    if (lines.length >= limits.maxRecords) fail(where, `the dataset has more than ${limits.maxRecords} records (finetune.max_dataset_records)`);
    const parsed = normalizeRecord(raw, where, format);
    format ??= parsed.format;
    const line = JSON.stringify(parsed.record);
    bytes += Buffer.byteLength(line, 'utf8') + 1;
    if (bytes > limits.maxBytes) fail(where, `the dataset exceeds ${limits.maxBytes} bytes (finetune.max_dataset_bytes)`);
    lines.push(line);
    tokenEstimate += estimateTokens(parsed.record);
  };

  if (hasRecords) {
    const records = input.records;
    if (!Array.isArray(records)) throw invalidRequest('"records" must be an array of records', 'invalid_dataset');
    for (let i = 0; i < records.length; i++) {
      take(records[i], `record ${i + 1} (records[${i}])`);
      records[i] = undefined;
    }
  } else {
    const text = input.jsonl;
    if (typeof text !== 'string') throw invalidRequest('"jsonl" must be a string of JSON lines', 'invalid_dataset');
    for (let start = 0, n = 1; start < text.length; n++) {
      const newline = text.indexOf('\n', start);
      const end = newline === -1 ? text.length : newline;
      const line = text.slice(start, end).trim();
      start = end + 1;
      if (line === '') continue;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (err) {
        fail(`jsonl line ${n}`, `invalid JSON (${(err as Error).message})`);
      }
      take(raw, `jsonl line ${n}`);
    }
  }
  if (lines.length === 0) throw invalidRequest('the dataset has no records: send at least one', 'invalid_dataset');
  return { format: format as DatasetFormat, count: lines.length, jsonl: lines.join('\n') + '\n', bytes, tokenEstimate };
}
