import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { Badge, Button, Card, Code, Grid, Group, NumberInput, Paper, PasswordInput, Select, Stack, Tabs, Text, Textarea } from '@mantine/core';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { useAction } from '../use-resource.js';
import { PageTitle } from '../components/PageTitle.js';
import { listModels, streamChat, type Answer, type ChatMessage, type ChatRequest } from './chat-stream.js';
import { curlSnippet, openaiSnippet } from './snippets.js';

interface Turn {
  model: string;
  user: string;
  answer: string;
  stats?: Answer;
  error?: unknown;
}

// The key lives in this tab's memory only, so that moving between console pages keeps it;
// a reload or "Forget key" drops it. It is never written to storage or a URL.
let keptKey = '';

function KeyForm({ onKey }: { onKey: (key: string, models: string[]) => void }) {
  const [key, setKey] = useState('');
  const checking = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const models = await checking.run(() => listModels(key.trim()));
    if (models) onKey(key.trim(), models);
  };
  return (
    <Paper maw={560} p="lg" withBorder>
      <form onSubmit={(e) => void submit(e)} data-testid="pg-key-form">
        <Stack>
          <Text size="sm">
            Chat with the models of your workspace, on its credits. Paste a workspace API key; it stays in this page's memory and is sent only to this Hearth.
          </Text>
          <PasswordInput label="Workspace API key" value={key} onChange={(e) => setKey(e.currentTarget.value)} autoComplete="off" required data-testid="pg-key" />
          <ErrorNotice error={checking.error} title="The key was not accepted" testId="pg-key-error" />
          <Button type="submit" loading={checking.busy} disabled={key.trim() === ''} data-testid="pg-key-submit">
            Use this key
          </Button>
        </Stack>
      </form>
    </Paper>
  );
}

function Stats({ a }: { a: Answer }) {
  const parts = [
    a.promptTokens !== null ? `${a.promptTokens} prompt + ${a.completionTokens ?? 0} completion tokens` : null,
    a.firstTokenMs !== null ? `first token ${Math.round(a.firstTokenMs)} ms` : null,
    a.tokensPerSecond !== null ? `${a.tokensPerSecond.toFixed(1)} tokens/s` : null,
    `${(a.totalMs / 1000).toFixed(2)} s`,
    a.stopped ? 'stopped' : a.finishReason ? `finish: ${a.finishReason}` : null,
  ].filter(Boolean);
  return (
    <Text size="xs" c="dimmed" data-testid="pg-stats">
      {parts.join(' · ')}
    </Text>
  );
}

function Snippets({ body }: { body: ChatRequest }) {
  const origin = window.location.origin;
  return (
    <Card withBorder data-testid="pg-snippets">
      <Text fw={600} mb="xs">
        The same request from your code
      </Text>
      <Text size="xs" c="dimmed" mb="xs">
        Set <Code>HEARTH_API_KEY</Code> to your key first.
      </Text>
      <Tabs defaultValue="curl">
        <Tabs.List>
          <Tabs.Tab value="curl" data-testid="pg-snippet-curl-tab">
            curl
          </Tabs.Tab>
          <Tabs.Tab value="openai" data-testid="pg-snippet-openai-tab">
            openai (JavaScript)
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="curl" pt="xs">
          <Code block data-testid="pg-snippet-curl">
            {curlSnippet(origin, body)}
          </Code>
        </Tabs.Panel>
        <Tabs.Panel value="openai" pt="xs">
          <Code block data-testid="pg-snippet-openai">
            {openaiSnippet(origin, body)}
          </Code>
        </Tabs.Panel>
      </Tabs>
    </Card>
  );
}

/** Streaming chat with a workspace key on /v1: no admin session needed. */
export function PlaygroundPage() {
  const [key, setKey] = useState(keptKey);
  const [models, setModels] = useState<string[]>([]);
  const [modelsError, setModelsError] = useState<unknown>();
  const [model, setModel] = useState<string | null>(null);
  const [system, setSystem] = useState('');
  const [temperature, setTemperature] = useState<string | number>(0.7);
  const [maxTokens, setMaxTokens] = useState<string | number>(256);
  const [input, setInput] = useState('');
  const [turns, setTurns] = useState<Turn[]>([]);
  const [sent, setSent] = useState<ChatRequest>();
  const [running, setRunning] = useState<AbortController>();
  const end = useRef<HTMLDivElement>(null);

  const acceptKey = (k: string, list: string[]) => {
    keptKey = k;
    setKey(k);
    setModels(list);
    setModel((m) => (m && list.includes(m) ? m : (list[0] ?? null)));
  };
  const forget = () => {
    running?.abort();
    keptKey = '';
    setKey('');
    setModels([]);
    setTurns([]);
    setSent(undefined);
  };

  // A key kept from an earlier visit to this page: list its models again.
  useEffect(() => {
    if (keptKey === '' || models.length > 0) return;
    listModels(keptKey).then(
      (list) => acceptKey(keptKey, list),
      (e: unknown) => setModelsError(e),
    );
  }, []);
  // Braces: scrollIntoView answers a promise in newer browsers, and an effect may return only its clean-up.
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'nearest' });
  }, [turns]);

  const send = async () => {
    const text = input.trim();
    if (!model || text === '' || running) return;
    const history: ChatMessage[] = turns.filter((t) => t.stats && !t.error).flatMap((t) => [
      { role: 'user' as const, content: t.user },
      { role: 'assistant' as const, content: t.answer },
    ]);
    const body: ChatRequest = {
      model,
      messages: [...(system.trim() ? [{ role: 'system' as const, content: system.trim() }] : []), ...history, { role: 'user', content: text }],
      stream: true,
      stream_options: { include_usage: true },
      ...(temperature === '' ? {} : { temperature: Number(temperature) }),
      ...(maxTokens === '' ? {} : { max_tokens: Number(maxTokens) }),
    };
    const controller = new AbortController();
    const index = turns.length;
    const update = (change: Partial<Turn>) => setTurns((old) => old.map((t, i) => (i === index ? { ...t, ...change } : t)));
    setTurns((old) => [...old, { model, user: text, answer: '' }]);
    setInput('');
    setSent(body);
    setRunning(controller);
    try {
      const stats = await streamChat(key, body, controller.signal, (soFar) => update({ answer: soFar }));
      update({ answer: stats.content, stats });
    } catch (e) {
      update({ error: e });
    } finally {
      setRunning(undefined);
    }
  };

  const onInputKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a new line (as in most chat boxes).
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <Stack data-testid="page-playground">
      <PageTitle>Playground</PageTitle>
      {key === '' ? (
        <KeyForm onKey={acceptKey} />
      ) : (
        <Grid>
          <Grid.Col span={{ base: 12, md: 4 }}>
            <Card withBorder>
              <Stack>
                <ErrorNotice error={modelsError} title="The key's models could not be listed" testId="pg-models-error" />
                <Select label="Model" data={models} value={model} onChange={setModel} searchable allowDeselect={false} nothingFoundMessage="No model" data-testid="pg-model" />
                <Textarea label="System prompt" value={system} onChange={(e) => setSystem(e.currentTarget.value)} autosize minRows={2} maxRows={8} data-testid="pg-system" />
                <NumberInput label="Temperature" min={0} max={2} step={0.1} decimalScale={2} value={temperature} onChange={setTemperature} data-testid="pg-temperature" />
                <NumberInput label="Max tokens" min={1} max={16384} allowDecimal={false} value={maxTokens} onChange={setMaxTokens} data-testid="pg-max-tokens" />
                <Group>
                  <Button variant="default" onClick={() => setTurns([])} disabled={!!running || turns.length === 0} data-testid="pg-clear">
                    Clear chat
                  </Button>
                  <Button variant="default" color="red" onClick={forget} data-testid="pg-forget-key">
                    Forget key
                  </Button>
                </Group>
              </Stack>
            </Card>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 8 }}>
            <Stack>
              <Stack gap="sm" aria-live="polite" data-testid="pg-conversation">
                {turns.length === 0 && (
                  <Text size="sm" c="dimmed">
                    Ask something below.
                  </Text>
                )}
                {turns.map((t, i) => (
                  <Stack key={i} gap={4}>
                    <Paper p="sm" bg="var(--mantine-color-default-hover)" data-testid="pg-user-message">
                      <Badge size="xs" variant="light" mb={4}>
                        you
                      </Badge>
                      <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
                        {t.user}
                      </Text>
                    </Paper>
                    <Paper p="sm" withBorder data-testid="pg-answer">
                      <Badge size="xs" variant="light" color="gray" mb={4}>
                        {t.model}
                      </Badge>
                      <Text size="sm" style={{ whiteSpace: 'pre-wrap' }} data-testid="pg-answer-text">
                        {t.answer}
                      </Text>
                      {t.stats && <Stats a={t.stats} />}
                      <ErrorNotice error={t.error} title="No answer" testId="pg-answer-error" />
                    </Paper>
                  </Stack>
                ))}
                <div ref={end} />
              </Stack>
              <Textarea
                label="Message"
                description="Enter sends, Shift+Enter starts a new line"
                value={input}
                onChange={(e) => setInput(e.currentTarget.value)}
                onKeyDown={onInputKey}
                autosize
                minRows={2}
                maxRows={10}
                data-testid="pg-input"
              />
              <Group justify="end">
                {running ? (
                  <Button color="red" onClick={() => running.abort()} data-testid="pg-stop">
                    Stop
                  </Button>
                ) : (
                  <Button onClick={() => void send()} disabled={!model || input.trim() === ''} data-testid="pg-send">
                    Send
                  </Button>
                )}
              </Group>
              {sent && <Snippets body={sent} />}
            </Stack>
          </Grid.Col>
        </Grid>
      )}
    </Stack>
  );
}
