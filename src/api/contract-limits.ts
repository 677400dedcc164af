// The operator's request limits (limits.max_messages, limits.max_tokens) live in config, while
// the contract carries the schema bounds the validator enforces. They are written into the
// contract once, at start, so the validator refuses what config refuses and the served document
// states the limits this daemon really has.

type Schema = { maxItems?: number; maximum?: number; properties?: Record<string, Schema>; allOf?: Schema[] };

export interface RequestLimits {
  maxMessages: number;
  maxTokens: number;
}

/** A copy of the contract with the configured limits as the bounds of `messages` and `max_tokens`. */
export function withRequestLimits<T extends Record<string, unknown>>(spec: T, limits: RequestLimits): T {
  const copy = structuredClone(spec);
  const schemas = (copy as { components?: { schemas?: Record<string, Schema> } }).components?.schemas ?? {};
  const maxTokens = schemas.Sampling?.properties?.max_tokens;
  const messages = schemas.ChatRequest?.allOf?.find((s) => s.properties?.messages)?.properties?.messages;
  // A model's default max_tokens is bound the same: a call that leaves it out must not get more
  // than a call may ask for.
  const defaultMaxTokens = schemas.ModelDefaults?.properties?.max_tokens;
  // A contract reshaped without these would silently drop the operator's limits: refuse to start.
  if (maxTokens?.maximum === undefined || messages?.maxItems === undefined || defaultMaxTokens?.maximum === undefined) {
    throw new Error('openapi/hearth.yaml: Sampling.max_tokens.maximum, ChatRequest.messages.maxItems or ModelDefaults.max_tokens.maximum is missing');
  }
  maxTokens.maximum = limits.maxTokens;
  messages.maxItems = limits.maxMessages;
  defaultMaxTokens.maximum = limits.maxTokens;
  return copy;
}
