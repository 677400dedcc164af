import { useState, type FormEvent } from 'react';
import { Button, Card, Checkbox, Group, NumberInput, Select, SimpleGrid, Stack, Text } from '@mantine/core';
import type { AdminClient } from '../api/admin.js';
import { segment } from '../api/http.js';
import type { AdminModel, Dataset, Job, Workspace } from '../api/types.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { useAction } from '../use-resource.js';

// "Server default" stands for leaving trainer out: the daemon's finetune.trainer.
const SERVER_DEFAULT = 'default';

/** A job for a workspace: the /api/v1 create body plus the workspace, then (by default) start. */
export function NewJobForm(props: { api: AdminClient; workspaces: Workspace[]; datasets: Dataset[]; models: AdminModel[]; onCreated: (job: Job) => void }) {
  const { api } = props;
  const [workspace, setWorkspace] = useState<string | null>(null);
  const [datasetId, setDatasetId] = useState<string | null>(null);
  const [baseModel, setBaseModel] = useState<string | null>(null);
  const [trainer, setTrainer] = useState(SERVER_DEFAULT);
  const [epochs, setEpochs] = useState<string | number>(3);
  const [learningRate, setLearningRate] = useState<string | number>(0.0001);
  const [contextSize, setContextSize] = useState<string | number>(256);
  const [output, setOutput] = useState('lora');
  const [seed, setSeed] = useState<string | number>(42);
  const [startNow, setStartNow] = useState(true);
  const create = useAction();

  const datasets = props.datasets.filter((d) => d.workspace_id === workspace);
  // A workspace may train on the operator's models and its own.
  const bases = props.models.filter((m) => m.on_backend !== false && m.is_active !== false && (m.workspace_id === null || m.workspace_id === workspace));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = {
      workspace,
      datasetId,
      baseModel,
      ...(trainer === SERVER_DEFAULT ? {} : { trainer }),
      epochs: Number(epochs),
      learningRate: Number(learningRate),
      contextSize: Number(contextSize),
      output,
      seed: Number(seed),
    };
    const job = await create.run(() => api.post<Job>('/api/admin/finetune/jobs', body));
    if (!job) return;
    // A job that could not start (the queue is full, say) exists all the same: it is shown, with the refusal.
    if (startNow) await create.run(() => api.post<unknown>(`/api/admin/finetune/jobs/${segment(job.id)}/start`));
    props.onCreated(job);
  };

  return (
    <Card withBorder>
      <form onSubmit={(e) => void submit(e)} data-testid="job-create-form">
        <Stack>
          <Text fw={600}>New fine-tune job</Text>
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            <Select
              label="Workspace"
              data={props.workspaces.map((w) => ({ value: w.id, label: w.name }))}
              value={workspace}
              onChange={(v) => {
                setWorkspace(v);
                setDatasetId(null);
              }}
              searchable
              required
              data-testid="job-create-workspace"
            />
            <Select
              label="Dataset"
              data={datasets.map((d) => ({ value: d.id, label: `${d.title} (${d.record_count} records)` }))}
              value={datasetId}
              onChange={setDatasetId}
              disabled={!workspace}
              required
              data-testid="job-create-dataset"
            />
            <Select label="Base model" data={bases.map((m) => m.id)} value={baseModel} onChange={setBaseModel} searchable required data-testid="job-create-base" />
            <Select
              label="Trainer"
              data={[
                { value: SERVER_DEFAULT, label: "Server's default" },
                { value: 'llamacpp', label: 'llamacpp' },
                { value: 'peft', label: 'peft' },
              ]}
              value={trainer}
              onChange={(v) => setTrainer(v ?? SERVER_DEFAULT)}
              allowDeselect={false}
              data-testid="job-create-trainer"
            />
            <NumberInput label="Epochs" min={1} max={1000} allowDecimal={false} value={epochs} onChange={setEpochs} data-testid="job-create-epochs" />
            <NumberInput label="Learning rate" min={0} max={0.1} step={0.0001} decimalScale={6} value={learningRate} onChange={setLearningRate} data-testid="job-create-lr" />
            <NumberInput label="Context size" min={256} max={32768} step={256} allowDecimal={false} value={contextSize} onChange={setContextSize} data-testid="job-create-context" />
            <Select label="Output" data={['lora', 'full']} value={output} onChange={(v) => setOutput(v ?? 'lora')} allowDeselect={false} data-testid="job-create-output" />
            <NumberInput label="Seed" allowDecimal={false} value={seed} onChange={setSeed} data-testid="job-create-seed" />
          </SimpleGrid>
          <Group justify="space-between">
            <Checkbox label="Start it now" checked={startNow} onChange={(e) => setStartNow(e.currentTarget.checked)} data-testid="job-create-start" />
            <Button type="submit" loading={create.busy} disabled={!workspace || !datasetId || !baseModel} data-testid="job-create-submit">
              Create job
            </Button>
          </Group>
          <ErrorNotice error={create.error} testId="job-create-error" />
        </Stack>
      </form>
    </Card>
  );
}
