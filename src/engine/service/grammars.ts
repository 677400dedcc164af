import type { Llama, LlamaGrammar } from 'node-llama-cpp';
import { invalidRequest } from '../../errors.js';

/**
 * Grammars for `format`: "json" or a JSON schema. Building one parses a GBNF grammar, so the
 * last few are kept, keyed by their JSON text.
 */
export class GrammarCache {
  private readonly cache = new Map<string, Promise<LlamaGrammar>>();

  constructor(private readonly capacity = 32) {}

  get(llama: Llama, format: 'json' | Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(format);
    let grammar = this.cache.get(key);
    if (grammar) {
      this.cache.delete(key);
    } else {
      grammar = this.build(llama, format);
      grammar.catch(() => this.cache.delete(key));
    }
    this.cache.set(key, grammar);
    while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value as string);
    return grammar;
  }

  private async build(llama: Llama, format: 'json' | Record<string, unknown>): Promise<LlamaGrammar> {
    if (format === 'json') return llama.getGrammarFor('json');
    try {
      // The schema's shape is checked by node-llama-cpp; an unsupported one is the client's error.
      return await llama.createGrammarForJsonSchema(format as Parameters<Llama['createGrammarForJsonSchema']>[0]);
    } catch (err) {
      throw invalidRequest(`format: unsupported JSON schema: ${err instanceof Error ? err.message : String(err)}`, 'invalid_format');
    }
  }
}
