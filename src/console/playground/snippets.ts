import type { ChatRequest } from './chat-stream.js';

// What was just sent, as a command and as code. The key is always the variable HEARTH_API_KEY,
// never the key itself: a snippet gets pasted into chats and tickets.

/** A JSON body inside single quotes for a POSIX shell ('...' with each ' written as '\''). */
const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export function curlSnippet(origin: string, body: ChatRequest): string {
  return [
    `curl -N ${origin}/v1/chat/completions \\`,
    `  -H "Authorization: Bearer $HEARTH_API_KEY" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d ${shellQuote(JSON.stringify(body, null, 2))}`,
  ].join('\n');
}

export function openaiSnippet(origin: string, body: ChatRequest): string {
  return [
    `import OpenAI from 'openai';`,
    ``,
    `const client = new OpenAI({ baseURL: '${origin}/v1', apiKey: process.env.HEARTH_API_KEY });`,
    ``,
    `const stream = await client.chat.completions.create(${JSON.stringify(body, null, 2)});`,
    `for await (const chunk of stream) {`,
    `  process.stdout.write(chunk.choices[0]?.delta?.content ?? '');`,
    `  if (chunk.usage) console.log('\\n', chunk.usage);`,
    `}`,
  ].join('\n');
}
