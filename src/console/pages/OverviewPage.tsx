import { useState, type ReactNode } from 'react';
import { Badge, Button, Card, Group, Progress, SegmentedControl, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import { AreaChart, BarChart } from '@mantine/charts';
import type { AdminPageProps } from './page-props.js';
import type { Overview, Stats } from '../api/types.js';
import { DataTable } from '../components/DataTable.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { PageTitle, SectionTitle } from '../components/PageTitle.js';
import { bucketLabel, bytes, count, relative } from '../format.js';
import { useEvery, useResource } from '../use-resource.js';

const REFRESH_MS = 15_000;

function Tile({ title, testId, children }: { title: string; testId: string; children: ReactNode }) {
  return (
    <Card withBorder data-testid={testId}>
      <Text size="sm" c="dimmed" fw={600} mb={4}>
        {title}
      </Text>
      {children}
    </Card>
  );
}

function Meter({ label, used, total }: { label: string; used: number | null | undefined; total: number | null | undefined }) {
  if (!used || !total) return <Text size="sm">{label}: {bytes(total)}</Text>;
  const pct = Math.round((used / total) * 100);
  return (
    <Stack gap={2}>
      <Text size="sm">
        {label}: {bytes(used)} of {bytes(total)} ({pct}%)
      </Text>
      <Progress value={pct} aria-label={`${label} used`} />
    </Stack>
  );
}

function StatsCharts({ stats }: { stats: Stats }) {
  const data = stats.buckets.map((b) => ({ ...b, at: bucketLabel(b.start) }));
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }}>
      <Card withBorder data-testid="overview-requests-chart">
        <Text fw={600} mb="xs">
          Requests (per {stats.bucket_seconds === 60 ? 'minute' : 'hour'})
        </Text>
        <BarChart
          h={220}
          data={data}
          dataKey="at"
          type="stacked"
          withLegend
          series={[
            { name: 'requests', label: 'Requests', color: 'blue.6' },
            { name: 'errors', label: 'Errors', color: 'red.6' },
          ]}
        />
      </Card>
      <Card withBorder data-testid="overview-credits-chart">
        <Text fw={600} mb="xs">
          Credits charged
        </Text>
        <AreaChart h={220} data={data} dataKey="at" withLegend series={[{ name: 'credits', label: 'Credits', color: 'orange.6' }]} curveType="step" />
      </Card>
    </SimpleGrid>
  );
}

export function OverviewPage({ api }: AdminPageProps) {
  const [window, setWindow] = useState<'hour' | 'day'>('hour');
  const overview = useResource(() => api.get<Overview>('/api/admin/overview'));
  const stats = useResource(() => api.get<Stats>(`/api/admin/stats?window=${window}`), window);
  useEvery(REFRESH_MS, overview.reload);
  useEvery(REFRESH_MS, stats.reload);
  const o = overview.data;

  return (
    <Stack data-testid="page-overview">
      <PageTitle
        actions={
          <Button
            variant="default"
            onClick={() => {
              overview.reload();
              stats.reload();
            }}
            loading={overview.loading || stats.loading}
            data-testid="overview-refresh"
          >
            Refresh
          </Button>
        }
      >
        Overview
      </PageTitle>
      <ErrorNotice error={overview.error} testId="overview-error" />
      {o && (
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          <Tile title="Backend" testId="overview-backend">
            <Group gap="xs">
              <Badge color={o.backend.state === 'up' || o.backend.state === 'ready' ? 'green' : 'red'} data-testid="overview-backend-state">
                {o.backend.state}
              </Badge>
              <Text size="sm">
                {o.backend.kind}
                {o.backend.version ? ` ${o.backend.version}` : ''}
              </Text>
              {o.backend.protected && <Badge variant="light">protected</Badge>}
            </Group>
          </Tile>
          <Tile title="Jobs" testId="overview-jobs">
            <Text size="sm">
              <b data-testid="overview-jobs-running">{o.jobs.running}</b> running, <b data-testid="overview-jobs-queued">{o.jobs.queued}</b> queued
            </Text>
          </Tile>
          <Tile title="Admin token" testId="overview-token">
            <Text size="sm" data-testid="overview-token-age">
              {o.admin_token.age_days === null ? 'age unknown' : `${o.admin_token.age_days} days old`}
              {o.admin_token.created_at ? ` (made ${relative(o.admin_token.created_at)})` : ''}
            </Text>
          </Tile>
          <Tile title="CPU" testId="overview-cpu">
            <Text size="sm">
              {o.system.cpu.model}, {o.system.cpu.cores} cores
            </Text>
            {o.system.cpu.load_percent !== null && <Progress value={o.system.cpu.load_percent} mt={4} aria-label="CPU load" />}
            <Text size="xs" c="dimmed">
              load {o.system.cpu.load_percent === null ? '–' : `${Math.round(o.system.cpu.load_percent)}%`}
            </Text>
          </Tile>
          <Tile title="Memory" testId="overview-memory">
            <Meter label="RAM" used={o.system.memory.used_bytes} total={o.system.memory.total_bytes} />
          </Tile>
          <Tile title="GPUs" testId="overview-gpus">
            {o.system.gpus.length === 0 ? (
              <Text size="sm">none found</Text>
            ) : (
              <Stack gap="xs">
                {o.system.gpus.map((g, i) => (
                  <Meter key={i} label={`${g.vendor ? `${g.vendor} ` : ''}${g.model}`} used={g.vram_used_bytes} total={g.vram_total_bytes} />
                ))}
              </Stack>
            )}
          </Tile>
        </SimpleGrid>
      )}
      {o && (
        <Card withBorder data-testid="overview-models-loaded">
          <Text fw={600} mb="xs">
            Models loaded
          </Text>
          {o.models_loaded.length === 0 ? (
            <Text size="sm">No model is in memory now.</Text>
          ) : (
            <DataTable columns={['Model', 'Size', 'In VRAM', 'Unloads']} minWidth={480} testId="overview-models-table">
              {o.models_loaded.map((m) => (
                <Table.Tr key={m.name}>
                  <Table.Td>{m.name}</Table.Td>
                  <Table.Td>{bytes(m.size_bytes)}</Table.Td>
                  <Table.Td>{bytes(m.size_vram_bytes)}</Table.Td>
                  <Table.Td>{m.expires_at ? relative(m.expires_at) : '–'}</Table.Td>
                </Table.Tr>
              ))}
            </DataTable>
          )}
        </Card>
      )}
      <Group justify="space-between">
        <SectionTitle>Traffic</SectionTitle>
        <SegmentedControl
          value={window}
          onChange={(v) => setWindow(v as 'hour' | 'day')}
          data={[
            { value: 'hour', label: 'Last hour' },
            { value: 'day', label: 'Last day' },
          ]}
          aria-label="Time window"
          data-testid="overview-window"
        />
      </Group>
      <ErrorNotice error={stats.error} testId="overview-stats-error" />
      {stats.data && (
        <>
          <Text size="sm" data-testid="overview-totals">
            {count(stats.data.buckets.reduce((a, b) => a + b.requests, 0))} requests, {count(stats.data.buckets.reduce((a, b) => a + b.errors, 0))} errors,{' '}
            {count(stats.data.buckets.reduce((a, b) => a + b.credits, 0))} credits in the last {stats.data.window}
          </Text>
          <StatsCharts stats={stats.data} />
        </>
      )}
    </Stack>
  );
}
