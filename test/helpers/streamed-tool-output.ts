import { ToolCallParser, type ParsedOutput, type ToolCallSyntax } from '../../src/engine/service/tool-calls.js';

/**
 * Feeds `text` to a ToolCallParser in pieces of `size` characters, as a model writes it, and joins
 * what comes out: the content, each piece of content as it was released, and the calls.
 */
export function streamedToolOutput(text: string, syntax: ToolCallSyntax | string, size: number): ParsedOutput & { pieces: string[] } {
  const parser = new ToolCallParser(syntax);
  const out = { content: '', calls: [] as ParsedOutput['calls'], pieces: [] as string[] };
  const take = (p: ParsedOutput) => {
    out.content += p.content;
    if (p.content) out.pieces.push(p.content);
    out.calls.push(...p.calls);
  };
  for (let i = 0; i < text.length; i += size) take(parser.push(text.slice(i, i + size)));
  take(parser.finish());
  return out;
}
