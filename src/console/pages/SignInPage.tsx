import { useState, type FormEvent } from 'react';
import { Alert, Button, Code, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { signIn } from '../api/admin.js';
import type { Session } from '../api/types.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { useAction } from '../use-resource.js';

/**
 * The admin token, traded for a session cookie. The token lives in this field's state until the
 * answer comes and is then cleared; it is never put in storage or a URL.
 */
export function SignInPage({ ended, onSignedIn }: { ended: boolean; onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const signing = useAction();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const session = await signing.run(() => signIn(token.trim()));
    if (!session) return;
    setToken('');
    onSignedIn(session);
  };

  return (
    <Paper maw={480} mx="auto" mt="xl" p="lg" withBorder>
      <form onSubmit={(e) => void submit(e)} data-testid="signin-form">
        <Stack>
          <Title order={1} size="h2" id="page-title" tabIndex={-1}>
            Sign in
          </Title>
          {ended && (
            <Alert color="yellow" data-testid="session-ended">
              Your session has ended. Sign in again.
            </Alert>
          )}
          <Text size="sm">
            Paste the admin token: <Code>hearth init</Code> printed it, and it is kept in <Code>&lt;data_dir&gt;/admin-token</Code>. The console keeps only a session cookie, not the token.
          </Text>
          <PasswordInput label="Admin token" value={token} onChange={(e) => setToken(e.currentTarget.value)} autoComplete="off" required data-testid="signin-token" />
          <ErrorNotice error={signing.error} title="Not signed in" testId="signin-error" />
          <Button type="submit" loading={signing.busy} disabled={token.trim() === ''} data-testid="signin-submit">
            Sign in
          </Button>
        </Stack>
      </form>
    </Paper>
  );
}
