import { Alert } from '@mantine/core';
import { ApiError } from '../api/http.js';

/** What went wrong, as the daemon said it (message and machine-readable code); nothing when there is no error. */
export function ErrorNotice({ error, title = 'The request failed', testId }: { error: unknown; title?: string; testId?: string }) {
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError && error.code ? ` (${error.code})` : '';
  return (
    <Alert color="red" title={title} role="alert" data-testid={testId ?? 'error'}>
      {message}
      {code}
    </Alert>
  );
}
