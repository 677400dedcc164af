import { useMemo, useState } from 'react';
import { Anchor, Card, Group, Progress, SegmentedControl, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import { BarChart } from '@mantine/charts';
import type { AdminPageProps } from './page-props.js';
import { query } from '../api/http.js';
import type { DailyUsageRow, Key, UsageReport, Workspace } from '../api/types.js';
import { DataTable } from '../components/DataTable.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { PageTitle, SectionTitle } from '../components/PageTitle.js';
import { count, currentPeriod } from '../format.js';
import { useResource } from '../use-resource.js';

type GroupBy = 'workspace' | 'key' | 'model';
type Metric = 'credits' | 'requests' | 'tokens';
const GROUPINGS: Array<{ value: GroupBy; label: string }> = [
  { value: 'workspace', label: 'By workspace' },
  { value: 'key', label: 'By key' },
  { value: 'model', label: 'By model' },
];
const METRICS: Array<{ value: Metric; label: string }> = [
  { value: 'credits', label: 'Credits' },
  { value: 'requests', label: 'Requests' },
  { value: 'tokens', label: 'Tokens' },
];

// A stacked bar per day, one colour per group; past this many groups the smallest are summed as "other".
const MAX_SERIES = 8;
const COLORS = ['orange.6', 'blue.6', 'teal.6', 'grape.6', 'yellow.6', 'cyan.6', 'pink.6', 'lime.6', 'gray.6'];

const valueOf = (r: DailyUsageRow, m: Metric) => (m === 'tokens' ? r.prompt_tokens + r.completion_tokens : r[m]);

/** Days × groups for the chart: {day, [group]: value}, the largest groups first. */
function chartData(rows: DailyUsageRow[], groupOf: (r: DailyUsageRow) => string, metric: Metric) {
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(groupOf(r), (totals.get(groupOf(r)) ?? 0) + valueOf(r, metric));
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([g]) => g);
  const kept = new Set(ranked.slice(0, MAX_SERIES));
  const series = ranked.length > MAX_SERIES ? [...kept, 'other'] : [...kept];
  const days = new Map<string, Record<string, number | string>>();
  for (const r of rows) {
    const day = days.get(r.day) ?? { day: r.day };
    const g = kept.has(groupOf(r)) ? groupOf(r) : 'other';
    day[g] = ((day[g] as number | undefined) ?? 0) + valueOf(r, metric);
    days.set(r.day, day);
  }
  return { data: [...days.values()].sort((a, b) => String(a.day).localeCompare(String(b.day))), series: series.map((name, i) => ({ name, color: COLORS[i % COLORS.length]! })) };
}

function Budgets({ reports }: { reports: UsageReport[] }) {
  return (
    <DataTable columns={['Workspace', 'Plan', 'Budget', 'Used', 'Left']} minWidth={560} testId="usage-budgets">
      {reports.map((r) => (
        <Table.Tr key={r.workspace.id} data-testid={`usage-budget-${r.workspace.name}`}>
          <Table.Td>{r.workspace.name}</Table.Td>
          <Table.Td>{r.plan.title}</Table.Td>
          <Table.Td>{r.credits.limit === null ? 'unlimited' : count(r.credits.limit)}</Table.Td>
          <Table.Td>
            {count(r.credits.used)}
            {r.credits.limit ? <Progress value={Math.min(100, (r.credits.used / r.credits.limit) * 100)} aria-label={`Share of ${r.workspace.name}'s budget used`} mt={4} /> : null}
          </Table.Td>
          <Table.Td data-testid="usage-budget-left">{r.credits.remaining === null ? 'unlimited' : count(r.credits.remaining)}</Table.Td>
        </Table.Tr>
      ))}
    </DataTable>
  );
}

/** Usage per day by workspace, key or model, as a chart and a table, with the period's budgets. */
export function UsagePage({ api }: AdminPageProps) {
  const [period, setPeriod] = useState(currentPeriod());
  const [workspace, setWorkspace] = useState<string | null>(null);
  const [groupBy, setGroupBy] = useState<GroupBy>('workspace');
  const [metric, setMetric] = useState<Metric>('credits');
  const validPeriod = /^\d{4}-\d{2}$/.test(period) ? period : undefined;
  const filter = query({ period: validPeriod, workspace });
  const daily = useResource(() => api.get<{ period: string; rows: DailyUsageRow[] }>(`/api/admin/usage/daily${filter}`), filter);
  const budgets = useResource(() => api.get<{ usage: UsageReport[] }>(`/api/admin/usage${query({ period: validPeriod })}`), validPeriod ?? '');
  const workspaces = useResource(() => api.get<{ workspaces: Workspace[] }>('/api/admin/workspaces'));
  const keys = useResource(() => api.get<{ keys: Key[] }>('/api/admin/keys'));

  const wsName = useMemo(() => new Map((workspaces.data?.workspaces ?? []).map((w) => [w.id, w.name])), [workspaces.data]);
  const keyName = useMemo(() => new Map((keys.data?.keys ?? []).map((k) => [k.id, k.name])), [keys.data]);
  const rows = daily.data?.rows ?? [];
  const groupOf = (r: DailyUsageRow): string =>
    groupBy === 'workspace' ? (wsName.get(r.workspace_id) ?? r.workspace_id) : groupBy === 'key' ? (r.key_id ? (keyName.get(r.key_id) ?? r.key_id) : 'no key') : (r.model ?? 'no model');
  const chart = chartData(rows, groupOf, metric);

  return (
    <Stack data-testid="page-usage">
      <PageTitle>Usage</PageTitle>
      <Card withBorder>
        <Group align="end">
          <TextInput type="month" label="Period" value={period} onChange={(e) => setPeriod(e.currentTarget.value)} error={validPeriod ? undefined : 'A month: YYYY-MM'} data-testid="usage-period" />
          <Select
            label="Workspace"
            placeholder="All"
            data={(workspaces.data?.workspaces ?? []).map((w) => ({ value: w.id, label: w.name }))}
            value={workspace}
            onChange={setWorkspace}
            clearable
            searchable
            data-testid="usage-workspace"
          />
          <Anchor href={`/api/admin/usage/daily${query({ period: validPeriod, workspace, format: 'csv' })}`} download={`hearth-usage-${validPeriod ?? 'period'}.csv`} data-testid="usage-csv">
            Export CSV
          </Anchor>
        </Group>
      </Card>
      <ErrorNotice error={daily.error} testId="usage-error" />
      <Group justify="space-between">
        <SegmentedControl value={groupBy} onChange={(v) => setGroupBy(v as GroupBy)} data={GROUPINGS} aria-label="Group by" data-testid="usage-group-by" />
        <SegmentedControl value={metric} onChange={(v) => setMetric(v as Metric)} data={METRICS} aria-label="Measure" data-testid="usage-metric" />
      </Group>
      <Card withBorder data-testid="usage-chart">
        {rows.length === 0 ? (
          <Text size="sm" c="dimmed" data-testid="usage-empty">
            Nothing used in this period{workspace ? ' by this workspace' : ''}.
          </Text>
        ) : (
          <BarChart h={260} data={chart.data} dataKey="day" type="stacked" withLegend series={chart.series} />
        )}
      </Card>
      <DataTable columns={['Day', 'Workspace', 'Key', 'Model', 'Requests', 'Prompt tokens', 'Completion tokens', 'Credits']} minWidth={760} testId="usage-table">
        {rows.map((r, i) => (
          <Table.Tr key={i}>
            <Table.Td>{r.day}</Table.Td>
            <Table.Td>{wsName.get(r.workspace_id) ?? r.workspace_id}</Table.Td>
            <Table.Td>{r.key_id ? (keyName.get(r.key_id) ?? r.key_id) : '–'}</Table.Td>
            <Table.Td>{r.model ?? '–'}</Table.Td>
            <Table.Td>{count(r.requests)}</Table.Td>
            <Table.Td>{count(r.prompt_tokens)}</Table.Td>
            <Table.Td>{count(r.completion_tokens)}</Table.Td>
            <Table.Td>{count(r.credits)}</Table.Td>
          </Table.Tr>
        ))}
      </DataTable>
      <SectionTitle>Budgets in {budgets.data?.usage[0]?.period.id ?? validPeriod ?? 'this period'}</SectionTitle>
      <ErrorNotice error={budgets.error} testId="usage-budgets-error" />
      <Budgets reports={budgets.data?.usage ?? []} />
    </Stack>
  );
}
