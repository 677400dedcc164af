// Turns a model's output into text and tool calls, as Ollama does for a model whose template
// renders tools. The model writes a call the way its template renders past calls, in one of two
// shapes (ToolCallSyntax): after a tag, a JSON object {"name": …, "arguments": {…}} (Ollama (Go)
// templates, e.g. "<tool_call>{…}"), or the chat wrapper's opener, the name, a params prefix and
// the arguments (GGUF Jinja templates through node-llama-cpp, e.g. "<function=NAME>{…}"). Pure:
// the chat routes feed it the text as it is generated.

/**
 * How a model writes a call. `object`: `tag` then a JSON object; the bare "{" tag (no tag in the
 * template) makes only output that starts with an object a call. `named`: `open` (the first
 * call) or `next` (each later one), the function's name, `paramsPrefix`, then the arguments as a
 * JSON object (or a string holding one).
 */
export type ToolCallSyntax = { kind: 'object'; tag: string } | { kind: 'named'; open: string; next: string; paramsPrefix: string };

export interface ToolCall {
  function: { name: string; arguments: Record<string, unknown> };
}

export interface ParsedOutput {
  /** Text that is not part of a call, ready to send. */
  content: string;
  calls: ToolCall[];
}

/**
 * Index just past the JSON object or string that starts `text` at 0, or -1 while it is
 * incomplete (or `text` starts with neither).
 */
function endOfValue(text: string): number {
  if (text[0] !== '{' && text[0] !== '"') return -1;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A call's arguments: an object, or a JSON string holding one (as some templates write them). */
function argumentsOf(v: unknown): Record<string, unknown> | undefined {
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  return isObject(v) ? v : undefined;
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** The call a JSON object describes: `name` and `arguments` (or `parameters`, as Llama 3 writes it). */
export function toolCallOf(json: string): ToolCall | undefined {
  const v = parseJson(json)?.value;
  if (!isObject(v) || typeof v['name'] !== 'string' || v['name'] === '') return undefined;
  const args = argumentsOf(v['arguments'] ?? v['parameters'] ?? {});
  return args && { function: { name: v['name'], arguments: args } };
}

/** Length of the longest end of `text` that begins `tag`: text that may yet become the tag. */
function partialTagAtEnd(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) if (text.endsWith(tag.slice(0, n))) return n;
  return 0;
}

/** What a function's name may hold between a named call's opener and its params prefix. */
const NAME = /^[\w.:-]+$/;
/** A name longer than this is not one: the text is released instead of held. */
const MAX_NAME = 256;

/** Where a call has to be matched: what is being read. */
type Reading = { kind: 'call' } | { kind: 'arguments'; name: string };

/**
 * Streaming parser. Text that cannot be part of a call is released at once; text that may be
 * (a partial opener, an unfinished call) is held until it is decided, so a stream never shows a
 * call's raw text. After a call, text up to the next call (closing tags, separators) is dropped,
 * as Ollama drops it.
 */
export class ToolCallParser {
  private readonly syntax: ToolCallSyntax;
  private buffer = '';
  /** Inside a call: what was consumed to open it (released if it is no call after all). */
  private reading: Reading | undefined;
  private opened = '';
  private afterCall = false;
  /** Bare-object format and the output did not start with an object: nothing more is parsed. */
  private plain = false;

  /** A string is an Ollama template's tag (`object` syntax). */
  constructor(syntax: ToolCallSyntax | string) {
    this.syntax = typeof syntax === 'string' ? { kind: 'object', tag: syntax } : syntax;
  }

  push(text: string): ParsedOutput {
    this.buffer += text;
    return this.drain(false);
  }

  /** The output is complete: whatever is held is decided now. */
  finish(): ParsedOutput {
    return this.drain(true);
  }

  private get bare(): boolean {
    return this.syntax.kind === 'object' && this.syntax.tag === '{';
  }

  /** What opens a call now, and whether it is consumed (an object's "{" is part of the call). */
  private get opener(): { text: string; consumed: boolean } {
    const s = this.syntax;
    if (s.kind === 'named') return { text: this.afterCall ? s.next : s.open, consumed: true };
    return this.afterCall ? { text: '{', consumed: false } : { text: s.tag, consumed: true };
  }

  private drain(final: boolean): ParsedOutput {
    const out: ParsedOutput = { content: '', calls: [] };
    for (;;) {
      if (this.plain) {
        out.content += this.buffer;
        this.buffer = '';
        return out;
      }
      if (this.reading === undefined) {
        if (this.bare && !this.afterCall) {
          const start = this.buffer.trimStart();
          if (start === '' && !final) return out;
          if (start.startsWith('{')) {
            this.open('');
            continue;
          }
          this.plain = true;
          continue;
        }
        const { text: tag, consumed } = this.opener;
        const at = this.buffer.indexOf(tag);
        if (at >= 0) {
          // Between calls only closing text is expected: it is dropped.
          if (!this.afterCall) out.content += this.buffer.slice(0, at);
          this.buffer = this.buffer.slice(consumed ? at + tag.length : at);
          this.open(consumed && !this.afterCall ? tag : '');
          continue;
        }
        const held = final ? 0 : partialTagAtEnd(this.buffer, tag);
        if (!this.afterCall) out.content += this.buffer.slice(0, this.buffer.length - held);
        this.buffer = this.buffer.slice(this.buffer.length - held);
        return out;
      }
      const decided = this.syntax.kind === 'named' ? this.readNamed(this.syntax.paramsPrefix, final) : this.readObject(final);
      if (decided === 'wait') return out;
      if (decided === 'no') this.notACall(out);
      else {
        out.calls.push(decided);
        this.reading = undefined;
        this.afterCall = true;
      }
    }
  }

  private open(opened: string): void {
    this.reading = { kind: 'call' };
    this.opened = opened;
  }

  /** A JSON object {"name", "arguments"} after the tag. */
  private readObject(final: boolean): ToolCall | 'wait' | 'no' {
    const start = this.buffer.trimStart();
    if (start === '') return final ? 'no' : 'wait';
    if (!start.startsWith('{')) return 'no';
    const end = endOfValue(start);
    if (end < 0) return final ? 'no' : 'wait';
    const call = toolCallOf(start.slice(0, end));
    if (!call) return 'no';
    this.buffer = start.slice(end);
    return call;
  }

  /** The name up to the params prefix, then the arguments. */
  private readNamed(paramsPrefix: string, final: boolean): ToolCall | 'wait' | 'no' {
    const reading = this.reading as Reading;
    if (reading.kind === 'call') {
      const at = this.buffer.indexOf(paramsPrefix);
      const name = (at < 0 ? this.buffer.slice(0, this.buffer.length - partialTagAtEnd(this.buffer, paramsPrefix)) : this.buffer.slice(0, at)).trim();
      if (name.length > MAX_NAME || (name !== '' && !NAME.test(name))) return 'no';
      if (at < 0) return final ? 'no' : 'wait';
      if (name === '') return 'no';
      // The name is decided: it moves from the buffer to what was opened.
      this.opened += this.buffer.slice(0, at + paramsPrefix.length);
      this.buffer = this.buffer.slice(at + paramsPrefix.length);
      this.reading = { kind: 'arguments', name };
    }
    const name = (this.reading as { name: string }).name;
    const start = this.buffer.trimStart();
    if (start === '') return final ? 'no' : 'wait';
    const end = endOfValue(start);
    if (end < 0) return final || (start[0] !== '{' && start[0] !== '"') ? 'no' : 'wait';
    const parsed = parseJson(start.slice(0, end));
    const args = parsed && argumentsOf(parsed.value);
    if (!args) return 'no';
    this.buffer = start.slice(end);
    return { function: { name, arguments: args } };
  }

  /** What looked like a call is text after all: it is released as it was written. */
  private notACall(out: ParsedOutput): void {
    this.reading = undefined;
    if (this.afterCall) {
      // Trailing text after a call is dropped, whatever it is.
      this.buffer = '';
      return;
    }
    // The rest is scanned again: a real call may follow.
    out.content += this.opened;
    if (this.bare) this.plain = true;
  }
}

/** A whole output at once. */
export function parseToolCalls(text: string, syntax: ToolCallSyntax | string): ParsedOutput {
  const parser = new ToolCallParser(syntax);
  const a = parser.push(text);
  const b = parser.finish();
  return { content: a.content + b.content, calls: [...a.calls, ...b.calls] };
}
