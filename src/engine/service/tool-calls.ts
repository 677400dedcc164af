// Turns a model's output into text and tool calls, as Ollama does for a model whose template
// renders tools. The model writes a call the way its template renders past calls: a tag (the
// template's `toolCallTag`, e.g. "<tool_call>") followed by a JSON object
// {"name": …, "arguments": {…}}. Pure: the chat routes feed it the text as it is generated.

export interface ToolCall {
  function: { name: string; arguments: Record<string, unknown> };
}

export interface ParsedOutput {
  /** Text that is not part of a call, ready to send. */
  content: string;
  calls: ToolCall[];
}

/** Index just past the JSON object that starts `text` at 0, or -1 while it is incomplete. */
function endOfObject(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The call a JSON object describes: `name` and `arguments` (or `parameters`, as Llama 3 writes it). */
export function toolCallOf(json: string): ToolCall | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isObject(v) || typeof v['name'] !== 'string' || v['name'] === '') return undefined;
  let args = v['arguments'] ?? v['parameters'] ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return undefined;
    }
  }
  if (!isObject(args)) return undefined;
  return { function: { name: v['name'], arguments: args } };
}

/** Length of the longest end of `text` that begins `tag`: text that may yet become the tag. */
function partialTagAtEnd(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) if (text.endsWith(tag.slice(0, n))) return n;
  return 0;
}

/**
 * Streaming parser. Text that cannot be part of a call is released at once; text that may be
 * (a partial tag, an unfinished object) is held until it is decided, so a stream never shows a
 * call's raw text. After a call, text up to the next object (a closing tag) is dropped, as
 * Ollama drops it. With the bare "{" tag (no tag in the template), only output that starts with
 * an object is a call: anything else is plain text.
 */
export class ToolCallParser {
  private buffer = '';
  private inCall = false;
  private afterCall = false;
  /** Bare-object format and the output did not start with an object: nothing more is parsed. */
  private plain = false;

  constructor(private readonly tag: string) {}

  push(text: string): ParsedOutput {
    this.buffer += text;
    return this.drain(false);
  }

  /** The output is complete: whatever is held is decided now. */
  finish(): ParsedOutput {
    return this.drain(true);
  }

  private get bare(): boolean {
    return this.tag === '{';
  }

  private drain(final: boolean): ParsedOutput {
    const out: ParsedOutput = { content: '', calls: [] };
    for (;;) {
      if (this.plain) {
        out.content += this.buffer;
        this.buffer = '';
        return out;
      }
      if (!this.inCall) {
        if (this.afterCall) {
          // Between calls only a closing tag or whitespace is expected: skip to the next object.
          const next = this.buffer.indexOf('{');
          if (next < 0) {
            if (final) this.buffer = '';
            return out;
          }
          this.buffer = this.buffer.slice(next);
          this.inCall = true;
          continue;
        }
        if (this.bare) {
          const start = this.buffer.trimStart();
          if (start === '' && !final) return out;
          if (start.startsWith('{')) {
            this.inCall = true;
            continue;
          }
          this.plain = true;
          continue;
        }
        const at = this.buffer.indexOf(this.tag);
        if (at >= 0) {
          out.content += this.buffer.slice(0, at);
          this.buffer = this.buffer.slice(at + this.tag.length);
          this.inCall = true;
          continue;
        }
        const held = final ? 0 : partialTagAtEnd(this.buffer, this.tag);
        out.content += this.buffer.slice(0, this.buffer.length - held);
        this.buffer = this.buffer.slice(this.buffer.length - held);
        return out;
      }
      // In a call: an object must follow (after whitespace).
      const start = this.buffer.trimStart();
      const opened = this.afterCall || this.bare ? '' : this.tag;
      if (start === '') {
        if (final) {
          out.content += opened + this.buffer;
          this.buffer = '';
        }
        return out;
      }
      if (!start.startsWith('{')) {
        this.notACall(out, opened);
        continue;
      }
      const end = endOfObject(start);
      if (end < 0) {
        if (final) this.notACall(out, opened);
        else return out;
        continue;
      }
      const call = toolCallOf(start.slice(0, end));
      if (!call) {
        this.notACall(out, opened);
        continue;
      }
      out.calls.push(call);
      this.buffer = start.slice(end);
      this.inCall = false;
      this.afterCall = true;
    }
  }

  /** What looked like a call is text after all: it is released as it was written. */
  private notACall(out: ParsedOutput, opened: string): void {
    if (this.afterCall) {
      // Trailing text after a call is dropped, whatever it is.
      this.buffer = '';
      this.inCall = false;
      return;
    }
    // The rest is scanned again: a real call may follow.
    out.content += opened;
    this.inCall = false;
    if (this.bare) this.plain = true;
  }
}

/** A whole output at once. */
export function parseToolCalls(text: string, tag: string): ParsedOutput {
  const parser = new ToolCallParser(tag);
  const a = parser.push(text);
  const b = parser.finish();
  return { content: a.content + b.content, calls: [...a.calls, ...b.calls] };
}
