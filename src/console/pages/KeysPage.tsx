import { Stack } from '@mantine/core';
import type { AdminPageProps } from './page-props.js';
import type { Key, Plan, Workspace } from '../api/types.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { PageTitle } from '../components/PageTitle.js';
import { useResource } from '../use-resource.js';
import { KeysSection } from './KeysSection.js';
import { WorkspacesSection } from './WorkspacesSection.js';

/** Workspaces and their keys, on one page: a key is made for a workspace, and filtered by one. */
export function KeysPage({ api }: AdminPageProps) {
  const workspaces = useResource(() => api.get<{ workspaces: Workspace[] }>('/api/admin/workspaces'));
  const plans = useResource(() => api.get<{ plans: Plan[] }>('/api/admin/plans'));
  const keys = useResource(() => api.get<{ keys: Key[] }>('/api/admin/keys'));
  const ws = workspaces.data?.workspaces ?? [];
  return (
    <Stack gap="xl" data-testid="page-keys">
      <PageTitle>Workspaces &amp; keys</PageTitle>
      <ErrorNotice error={workspaces.error ?? plans.error ?? keys.error} testId="keys-load-error" />
      <WorkspacesSection api={api} workspaces={ws} plans={plans.data?.plans ?? []} onChanged={workspaces.reload} />
      <KeysSection api={api} workspaces={ws} keys={keys.data?.keys ?? []} onChanged={keys.reload} />
    </Stack>
  );
}
