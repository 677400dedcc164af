// A streamed chat on /api/v1/chat/stream as the fairness tests time it: when it was sent, when
// its first token came (it had a backend slot from then), when it ended, and what it was served.

const MODEL = 'hearth-demo';

export interface StreamCall {
  workspace: string;
  status: number;
  sent: number;
  /** When its first token arrived: the call had a slot. */
  firstToken?: number;
  end?: number;
  usage?: { prompt_tokens: number; completion_tokens: number };
  error?: { code: string };
  retryAfter?: string | null;
}

/** A streamed chat, timed on this process's monotonic clock; resolves when the stream ends. */
export async function streamChat(url: string, key: string, workspace: string, maxTokens: number, signal?: AbortSignal, onToken?: (c: StreamCall) => void): Promise<StreamCall> {
  const call: StreamCall = { workspace, status: 0, sent: performance.now() };
  const res = await fetch(`${url}/api/v1/chat/stream`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Tell me everything.' }], max_tokens: maxTokens }),
    signal,
  });
  call.status = res.status;
  if (res.status !== 200) {
    call.retryAfter = res.headers.get('retry-after');
    call.error = ((await res.json()) as { error: { code: string } }).error;
    call.end = performance.now();
    return call;
  }
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith('data: {')) continue;
      const data = JSON.parse(event.slice(6)) as { token?: string; done?: boolean; usage?: StreamCall['usage'] };
      if (data.token !== undefined && call.firstToken === undefined) {
        call.firstToken = performance.now();
        onToken?.(call);
      }
      if (data.done) call.usage = data.usage;
    }
  }
  call.end = performance.now();
  return call;
}
