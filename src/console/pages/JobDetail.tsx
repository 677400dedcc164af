import { useEffect, useRef, useState } from 'react';
import { Alert, Badge, Button, Card, Checkbox, Code, Group, Progress, ScrollArea, Stack, Text, TextInput } from '@mantine/core';
import { LineChart } from '@mantine/charts';
import type { AdminClient } from '../api/admin.js';
import { isFinal, lossCurve } from '../api/finetune.js';
import { segment } from '../api/http.js';
import type { Job, RegisteredJob } from '../api/types.js';
import { ConfirmModal } from '../components/ConfirmModal.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { FormModal } from '../components/FormModal.js';
import { SectionTitle } from '../components/PageTitle.js';
import { dateTime } from '../format.js';
import { useAction, useResource } from '../use-resource.js';
import { useJobEvents } from './use-job-events.js';

export const STATE_COLOR: Record<string, string> = { created: 'gray', pending: 'yellow', running: 'blue', succeeded: 'green', failed: 'red', cancelled: 'gray' };

function Register({ api, job, onClose, onDone }: { api: AdminClient; job: Job; onClose: () => void; onDone: (r: RegisteredJob) => void }) {
  const [name, setName] = useState(`${job.base_model.split(':')[0]}-ft`);
  const [overwrite, setOverwrite] = useState(false);
  const run = useAction();
  const submit = async () => {
    const r = await run.run(() => api.post<RegisteredJob>(`/api/admin/finetune/jobs/${segment(job.id)}/register`, { modelName: name.trim(), overwrite }));
    if (r) onDone(r);
  };
  return (
    <FormModal title="Register the result as a model" testId="job-register" action={run} submitLabel="Register" submitDisabled={name.trim() === ''} onSubmit={() => void submit()} onClose={onClose}>
      <TextInput label="Model name" value={name} onChange={(e) => setName(e.currentTarget.value)} required maxLength={200} data-testid="job-register-name" />
      <Checkbox label="Replace this workspace's model of that name" checked={overwrite} onChange={(e) => setOverwrite(e.currentTarget.checked)} data-testid="job-register-overwrite" />
    </FormModal>
  );
}

/** One job: its state, live log and loss curve (streamed), and what can be done with it. */
export function JobDetail({ api, jobId, onChanged }: { api: AdminClient; jobId: string; onChanged: () => void }) {
  const loaded = useResource(() => api.get<Job>(`/api/admin/finetune/jobs/${segment(jobId)}`), jobId);
  const job = loaded.data;
  const events = useJobEvents(jobId, job ? isFinal(job.state) : false);
  const [registering, setRegistering] = useState(false);
  const [registered, setRegistered] = useState<RegisteredJob>();
  const [cancelling, setCancelling] = useState(false);
  const act = useAction();
  const logView = useRef<HTMLDivElement>(null);

  // A state event means the job record changed (started, finished): read it again for its
  // history, error and output, and let the list know.
  const { reload } = loaded;
  useEffect(() => {
    if (events.state === undefined) return;
    reload();
    onChanged();
  }, [events.state, reload, onChanged]);
  // The log follows its end, inside its own box (the page does not jump).
  useEffect(() => {
    const view = logView.current;
    if (view) view.scrollTop = view.scrollHeight;
  }, [events.lines.length]);

  const post = async (what: 'start' | 'cancel') => {
    const done = await act.run(() => api.post<unknown>(`/api/admin/finetune/jobs/${segment(jobId)}/${what}`));
    if (done) {
      setCancelling(false);
      reload();
      onChanged();
    }
  };

  if (!job) return <ErrorNotice error={loaded.error} testId="job-error" />;
  const state = events.state && !isFinal(job.state) ? events.state : job.state;
  const progress = events.progress ?? job.progress;
  const curve = lossCurve(job.loss_history, events.live);
  const pct = progress && progress.total_steps > 0 ? Math.round((progress.step / progress.total_steps) * 100) : null;

  return (
    <Card withBorder data-testid="job-detail">
      <Stack>
        <Group justify="space-between">
          <SectionTitle>Job <Code>{job.id}</Code></SectionTitle>
          <Badge color={STATE_COLOR[state] ?? 'gray'} size="lg" data-testid="job-state">
            {state}
          </Badge>
        </Group>
        <Text size="sm">
          {job.trainer} on <b>{job.base_model}</b> with dataset {job.dataset_id} ({job.hyperparameters.epochs} epochs, learning rate {job.hyperparameters.learning_rate}, {job.hyperparameters.output}), created {dateTime(job.created_at)}
          {job.model_name ? `; registered as ${job.model_name}` : ''}
        </Text>
        {pct !== null && progress && (
          <Stack gap={2}>
            <Progress value={pct} aria-label="Training progress" data-testid="job-progress" />
            <Text size="xs" c="dimmed">
              step {progress.step} of {progress.total_steps}, epoch {progress.epoch.toFixed(2)}
              {progress.loss !== null ? `, loss ${progress.loss.toFixed(4)}` : ''}
              {progress.tokens_per_s ? `, ${Math.round(progress.tokens_per_s)} tokens/s` : ''}
              {progress.eta_s ? `, about ${Math.ceil(progress.eta_s / 60)} min left` : ''}
            </Text>
          </Stack>
        )}
        {job.error && (
          <Alert color="red" title="The job failed" data-testid="job-failure">
            <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
              {job.error}
            </Text>
          </Alert>
        )}
        <Group>
          {job.state === 'created' && (
            <Button onClick={() => void post('start')} loading={act.busy} data-testid="job-start">
              Start
            </Button>
          )}
          {!isFinal(job.state) && (
            <Button color="red" variant="light" onClick={() => setCancelling(true)} data-testid="job-cancel">
              Cancel
            </Button>
          )}
          {job.state === 'succeeded' && (
            <Button onClick={() => setRegistering(true)} data-testid="job-register-open">
              {job.model_name ? 'Register again' : 'Register'}
            </Button>
          )}
        </Group>
        <ErrorNotice error={act.error} testId="job-action-error" />
        {registered && (
          <Alert color={registered.warnings.length > 0 ? 'yellow' : 'green'} title={`Registered as ${registered.model_name ?? ''}`} data-testid="job-registered">
            <Text size="sm">
              First answer: “{registered.smoke.reply}” ({registered.smoke.completion_tokens} tokens, {registered.smoke.finish_reason})
            </Text>
            {registered.warnings.map((w) => (
              <Text size="sm" key={w}>
                {w}
              </Text>
            ))}
          </Alert>
        )}
        <div data-testid="job-loss-chart">
          <Text fw={600} mb="xs">
            Loss
          </Text>
          {curve.length === 0 ? (
            <Text size="sm" c="dimmed">
              No loss reported yet.
            </Text>
          ) : (
            <LineChart
              h={220}
              data={curve.map((p) => ({ step: p.step, loss: p.loss, eval: p.eval_loss }))}
              dataKey="step"
              withLegend
              connectNulls
              series={[
                { name: 'loss', label: 'Training loss', color: 'orange.6' },
                ...(curve.some((p) => p.eval_loss !== null) ? [{ name: 'eval', label: 'Eval loss', color: 'blue.6' }] : []),
              ]}
              curveType="linear"
            />
          )}
        </div>
        <div>
          <Group justify="space-between" mb="xs">
            <Text fw={600}>Log</Text>
            <Badge variant="dot" color={events.connected ? 'green' : 'gray'} data-testid="job-log-live">
              {events.connected ? 'live' : 'not streaming'}
            </Badge>
          </Group>
          <ScrollArea h={260} type="auto" viewportRef={logView} bd="1px solid var(--mantine-color-default-border)" p="xs" tabIndex={0} aria-label="Training log">
            <pre style={{ margin: 0, fontSize: 12, whiteSpace: 'pre-wrap' }} data-testid="job-log">
              {events.lines.join('\n')}
            </pre>
          </ScrollArea>
        </div>
      </Stack>
      {registering && (
        <Register
          api={api}
          job={job}
          onClose={() => setRegistering(false)}
          onDone={(r) => {
            setRegistering(false);
            setRegistered(r);
            reload();
            onChanged();
          }}
        />
      )}
      <ConfirmModal
        opened={cancelling}
        title="Cancel job"
        confirmLabel="Cancel job"
        busy={act.busy}
        error={act.error}
        onConfirm={() => void post('cancel')}
        onClose={() => setCancelling(false)}
        testId="job-cancel-dialog"
      >
        The trainer is stopped and the job ends as cancelled.
      </ConfirmModal>
    </Card>
  );
}
