import { useMemo, useState } from 'react';
import { Badge, Button, Card, Group, Progress, Select, Stack, Table, Text } from '@mantine/core';
import type { AdminPageProps } from './page-props.js';
import { query } from '../api/http.js';
import type { AdminModel, Dataset, Job, Workspace } from '../api/types.js';
import { DataTable } from '../components/DataTable.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { PageTitle, SectionTitle } from '../components/PageTitle.js';
import { bytes, count, dateTime } from '../format.js';
import { useResource } from '../use-resource.js';
import { JobDetail, STATE_COLOR } from './JobDetail.js';
import { NewJobForm } from './NewJobForm.js';

const STATES = ['created', 'pending', 'running', 'succeeded', 'failed', 'cancelled'];

/** Datasets and jobs of every workspace; one job opened below with its live log and loss curve. */
export function FinetunePage({ api }: AdminPageProps) {
  const [workspace, setWorkspace] = useState<string | null>(null);
  const [state, setState] = useState<string | null>(null);
  const [open, setOpen] = useState<string>();
  const workspaces = useResource(() => api.get<{ workspaces: Workspace[] }>('/api/admin/workspaces'));
  const models = useResource(() => api.get<{ models: AdminModel[] }>('/api/admin/models'));
  // Every workspace's datasets: the new-job form picks among the chosen workspace's, the table shows the filter's.
  const datasets = useResource(() => api.get<{ datasets: Dataset[] }>('/api/admin/finetune/datasets'));
  const allDatasets = datasets.data?.datasets ?? [];
  const jobFilter = query({ workspace, state });
  const jobs = useResource(() => api.get<{ jobs: Job[] }>(`/api/admin/finetune/jobs${jobFilter}`), jobFilter);
  const wsName = useMemo(() => new Map((workspaces.data?.workspaces ?? []).map((w) => [w.id, w.name])), [workspaces.data]);
  const { reload: reloadJobs } = jobs;

  return (
    <Stack data-testid="page-finetune">
      <PageTitle>Fine-tuning</PageTitle>
      <Card withBorder>
        <Group align="end">
          <Select label="Workspace" placeholder="All" data={(workspaces.data?.workspaces ?? []).map((w) => ({ value: w.id, label: w.name }))} value={workspace} onChange={setWorkspace} clearable searchable data-testid="ft-filter-workspace" />
          <Select label="Job state" placeholder="Any" data={STATES} value={state} onChange={setState} clearable data-testid="ft-filter-state" />
          <Button variant="default" onClick={reloadJobs} loading={jobs.loading} data-testid="ft-refresh">
            Refresh
          </Button>
        </Group>
      </Card>
      <NewJobForm
        api={api}
        workspaces={workspaces.data?.workspaces ?? []}
        datasets={allDatasets}
        models={models.data?.models ?? []}
        onCreated={(job) => {
          setOpen(job.id);
          reloadJobs();
        }}
      />
      <SectionTitle>Jobs</SectionTitle>
      <ErrorNotice error={jobs.error} testId="ft-jobs-error" />
      <DataTable columns={['Job', 'Workspace', 'Base', 'State', 'Progress', 'Created', 'Model']} minWidth={820} testId="jobs-table" highlightOnHover>
        {(jobs.data?.jobs ?? []).map((j) => (
          <Table.Tr key={j.id} data-testid={`job-row-${j.id}`} bg={j.id === open ? 'var(--mantine-primary-color-light)' : undefined}>
            <Table.Td>
              <Button size="compact-sm" variant="subtle" onClick={() => setOpen(j.id)} aria-label={`Open job ${j.id}`} aria-pressed={j.id === open} data-testid="job-open">
                {j.id}
              </Button>
            </Table.Td>
            <Table.Td>{wsName.get(j.workspace_id) ?? j.workspace_id}</Table.Td>
            <Table.Td>{j.base_model}</Table.Td>
            <Table.Td>
              <Badge color={STATE_COLOR[j.state] ?? 'gray'} variant="light">
                {j.state}
              </Badge>
            </Table.Td>
            <Table.Td>{j.progress && j.progress.total_steps > 0 ? <Progress value={(j.progress.step / j.progress.total_steps) * 100} aria-label={`Progress of ${j.id}`} w={100} /> : '–'}</Table.Td>
            <Table.Td>{dateTime(j.created_at)}</Table.Td>
            <Table.Td>{j.model_name ?? '–'}</Table.Td>
          </Table.Tr>
        ))}
      </DataTable>
      {(jobs.data?.jobs.length ?? 0) === 0 && (
        <Text size="sm" c="dimmed">
          No job{workspace || state ? ' matches' : ' yet'}.
        </Text>
      )}
      {open && <JobDetail key={open} api={api} jobId={open} onChanged={reloadJobs} />}
      <SectionTitle>Datasets</SectionTitle>
      <ErrorNotice error={datasets.error} testId="ft-datasets-error" />
      <DataTable columns={['Dataset', 'Workspace', 'Format', 'Records', 'Tokens (est.)', 'Size', 'Uploaded']} minWidth={760} testId="datasets-table">
        {allDatasets.filter((d) => !workspace || d.workspace_id === workspace).map((d) => (
          <Table.Tr key={d.id} data-testid={`dataset-row-${d.id}`}>
            <Table.Td>
              <Text size="sm">{d.title}</Text>
              <Text size="xs" c="dimmed" ff="monospace">
                {d.id}
              </Text>
            </Table.Td>
            <Table.Td>{wsName.get(d.workspace_id) ?? d.workspace_id}</Table.Td>
            <Table.Td>{d.format}</Table.Td>
            <Table.Td>{count(d.record_count)}</Table.Td>
            <Table.Td>{count(d.token_estimate)}</Table.Td>
            <Table.Td>{bytes(d.bytes)}</Table.Td>
            <Table.Td>{dateTime(d.created_at)}</Table.Td>
          </Table.Tr>
        ))}
      </DataTable>
    </Stack>
  );
}
