import { useState } from 'react';
import { Button, Code, Stack, Table, Text, TextInput } from '@mantine/core';
import type { AdminPageProps } from './page-props.js';
import { query } from '../api/http.js';
import type { AuditEntry } from '../api/types.js';
import { DataTable } from '../components/DataTable.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { PageTitle } from '../components/PageTitle.js';
import { dateTime } from '../format.js';
import { useAction, useResource } from '../use-resource.js';

const PAGE = 100;

/** The path's parameters as text: "id=abc", or "–" for a path with none. */
const targetOf = (e: AuditEntry): string =>
  Object.entries(e.target ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ') || '–';

/** Who changed what, and when: every change the admin API made, newest first, older pages on request. */
export function AuditPage({ api }: AdminPageProps) {
  const first = useResource(() => api.get<{ entries: AuditEntry[] }>(`/api/admin/audit${query({ limit: PAGE })}`));
  const [older, setOlder] = useState<AuditEntry[]>([]);
  const [done, setDone] = useState(false);
  const [search, setSearch] = useState('');
  const more = useAction();
  const entries = [...(first.data?.entries ?? []), ...older];

  const loadOlder = async () => {
    const last = entries.at(-1);
    if (!last) return;
    const page = await more.run(() => api.get<{ entries: AuditEntry[] }>(`/api/admin/audit${query({ limit: PAGE, before: last.id })}`));
    if (!page) return;
    setOlder((o) => [...o, ...page.entries]);
    if (page.entries.length < PAGE) setDone(true);
  };
  const reload = () => {
    setOlder([]);
    setDone(false);
    first.reload();
  };

  const q = search.trim().toLowerCase();
  const shown = q === '' ? entries : entries.filter((e) => [e.actor, e.source, e.action, e.method, e.path, targetOf(e), JSON.stringify(e.details ?? '')].some((s) => s.toLowerCase().includes(q)));

  return (
    <Stack data-testid="page-audit">
      <PageTitle
        actions={
          <Button variant="default" onClick={reload} loading={first.loading} data-testid="audit-refresh">
            Refresh
          </Button>
        }
      >
        Audit log
      </PageTitle>
      <TextInput label="Filter" placeholder="Action, path, target, actor" type="search" value={search} onChange={(e) => setSearch(e.currentTarget.value)} maw={420} data-testid="audit-search" />
      <ErrorNotice error={first.error ?? more.error} testId="audit-error" />
      <DataTable columns={['When', 'Who', 'Action', 'Request', 'Target', 'Details']} minWidth={900} testId="audit-table">
        {shown.map((e) => (
          <Table.Tr key={e.id} data-testid="audit-row">
            <Table.Td title={e.at}>{dateTime(e.at)}</Table.Td>
            <Table.Td>
              {e.actor}
              <Text size="xs" c="dimmed">
                {e.source}
              </Text>
            </Table.Td>
            <Table.Td data-testid="audit-action">{e.action}</Table.Td>
            <Table.Td>
              <Text size="xs" ff="monospace">
                {e.method} {e.path}
              </Text>
            </Table.Td>
            <Table.Td>{targetOf(e)}</Table.Td>
            <Table.Td>{e.details === null || e.details === undefined ? '–' : <Code block>{JSON.stringify(e.details, null, 1)}</Code>}</Table.Td>
          </Table.Tr>
        ))}
      </DataTable>
      {shown.length === 0 && !first.loading && (
        <Text size="sm" c="dimmed">
          Nothing recorded{q ? ' matches' : ' yet'}.
        </Text>
      )}
      {!done && (first.data?.entries.length ?? 0) >= PAGE && (
        <Button variant="default" onClick={() => void loadOlder()} loading={more.busy} data-testid="audit-older">
          Older entries
        </Button>
      )}
    </Stack>
  );
}
