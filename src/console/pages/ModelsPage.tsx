import { useMemo, useState, type FormEvent } from 'react';
import { Badge, Button, Card, Group, NumberInput, Select, SimpleGrid, Stack, Switch, Table, Text, TextInput, Textarea } from '@mantine/core';
import type { AdminPageProps } from './page-props.js';
import type { AdminClient } from '../api/admin.js';
import { segment } from '../api/http.js';
import type { AdminModel, ModelDefaults, Workspace } from '../api/types.js';
import { ConfirmModal } from '../components/ConfirmModal.js';
import { DataTable } from '../components/DataTable.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { FormModal } from '../components/FormModal.js';
import { PageTitle } from '../components/PageTitle.js';
import { bytes } from '../format.js';
import { useAction, useResource } from '../use-resource.js';

// Select needs a value for the operator's own models (workspace null in the API).
const OPERATOR = 'operator';
const PARAMS = [
  { key: 'temperature', label: 'Temperature', min: 0, max: 2, decimals: true },
  { key: 'top_p', label: 'Top p', min: 0, max: 1, decimals: true },
  { key: 'top_k', label: 'Top k', min: 1, max: 1000, decimals: false },
  { key: 'max_tokens', label: 'Max tokens', min: 1, max: 16384, decimals: false },
  { key: 'seed', label: 'Seed', min: 0, max: 4294967295, decimals: false },
] as const;
type Param = (typeof PARAMS)[number]['key'];

function EditModel({ api, model, workspaces, onClose, onSaved }: { api: AdminClient; model: AdminModel; workspaces: Workspace[]; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(model.name ?? '');
  const [description, setDescription] = useState(model.description ?? '');
  const [active, setActive] = useState(model.is_active !== false);
  const [owner, setOwner] = useState(model.workspace_id ?? OPERATOR);
  const [params, setParams] = useState<Record<Param, string | number>>(() => Object.fromEntries(PARAMS.map((p) => [p.key, model.parameters[p.key] ?? ''])) as Record<Param, string | number>);
  const save = useAction();
  const submit = async () => {
    // Only the defaults that are filled in; an empty field leaves that parameter to the caller.
    const parameters: ModelDefaults = { ...(model.parameters.stop !== undefined ? { stop: model.parameters.stop } : {}) };
    for (const p of PARAMS) if (params[p.key] !== '') parameters[p.key] = Number(params[p.key]);
    const body = { name, description, is_active: active, parameters, workspace: owner === OPERATOR ? null : owner };
    if (await save.run(() => api.put<AdminModel>(`/api/admin/models/${segment(model.id)}`, body))) onSaved();
  };
  return (
    <FormModal title={`Model ${model.id}`} size="lg" testId="model-edit" action={save} submitLabel="Save" onSubmit={() => void submit()} onClose={onClose}>
      <TextInput label="Display name" value={name} onChange={(e) => setName(e.currentTarget.value)} maxLength={200} data-testid="model-edit-name" />
      <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} maxLength={2000} autosize minRows={2} data-testid="model-edit-description" />
      <Switch label="Active (callable)" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} data-testid="model-edit-active" />
      <Select
        label="Owner"
        data={[{ value: OPERATOR, label: 'Operator (every workspace)' }, ...workspaces.map((w) => ({ value: w.id, label: w.name }))]}
        value={owner}
        onChange={(v) => setOwner(v ?? OPERATOR)}
        allowDeselect={false}
        data-testid="model-edit-owner"
      />
      <Text size="sm" fw={500}>
        Default parameters (empty: the caller's or the backend's)
      </Text>
      <SimpleGrid cols={{ base: 1, xs: 2 }}>
        {PARAMS.map((p) => (
          <NumberInput
            key={p.key}
            label={p.label}
            min={p.min}
            max={p.max}
            allowDecimal={p.decimals}
            value={params[p.key]}
            onChange={(v) => setParams((old) => ({ ...old, [p.key]: v }))}
            data-testid={`model-edit-${p.key}`}
          />
        ))}
      </SimpleGrid>
    </FormModal>
  );
}

function ImportModel({ api, models, onImported }: { api: AdminClient; models: AdminModel[]; onImported: () => void }) {
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [adapterFor, setAdapterFor] = useState<string | null>(null);
  const run = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const made = await run.run(() => api.post<AdminModel>('/api/admin/models/import', { path: path.trim(), name: name.trim(), ...(adapterFor ? { adapter_for: adapterFor } : {}) }));
    if (made) {
      setPath('');
      setName('');
      setAdapterFor(null);
      onImported();
    }
  };
  return (
    <Card withBorder>
      <form onSubmit={(e) => void submit(e)} data-testid="model-import-form">
        <Stack>
          <Text fw={600}>Import a GGUF file from this server</Text>
          <Group align="end">
            <TextInput label="Path on the server" placeholder="/srv/models/model.gguf" value={path} onChange={(e) => setPath(e.currentTarget.value)} required style={{ flex: 2, minWidth: 220 }} data-testid="model-import-path" />
            <TextInput label="Model name" placeholder="my-model" value={name} onChange={(e) => setName(e.currentTarget.value)} required style={{ flex: 1, minWidth: 160 }} data-testid="model-import-name" />
            <Select
              label="LoRA adapter for"
              placeholder="Not an adapter"
              data={models.filter((m) => m.on_backend !== false).map((m) => m.id)}
              value={adapterFor}
              onChange={setAdapterFor}
              clearable
              searchable
              data-testid="model-import-adapter-for"
            />
            <Button type="submit" loading={run.busy} disabled={!path.trim().startsWith('/') || name.trim() === ''} data-testid="model-import-submit">
              Import
            </Button>
          </Group>
          <ErrorNotice error={run.error} testId="model-import-error" />
        </Stack>
      </form>
    </Card>
  );
}

/** The backend's models with who owns them and what is set for them: import, delete, metadata. */
export function ModelsPage({ api }: AdminPageProps) {
  const models = useResource(() => api.get<{ models: AdminModel[] }>('/api/admin/models'));
  const workspaces = useResource(() => api.get<{ workspaces: Workspace[] }>('/api/admin/workspaces'));
  const [editing, setEditing] = useState<AdminModel>();
  const [deleting, setDeleting] = useState<AdminModel>();
  const remove = useAction();
  const wsName = useMemo(() => new Map((workspaces.data?.workspaces ?? []).map((w) => [w.id, w.name])), [workspaces.data]);
  const list = models.data?.models ?? [];

  const confirmDelete = async () => {
    if (!deleting) return;
    const model = deleting;
    const done = await remove.run(async () => {
      await api.delete(`/api/admin/models/${segment(model.id)}`);
      return true;
    });
    if (done) {
      setDeleting(undefined);
      models.reload();
    }
  };

  return (
    <Stack data-testid="page-models">
      <PageTitle>Models</PageTitle>
      <ImportModel api={api} models={list} onImported={models.reload} />
      <ErrorNotice error={models.error} testId="models-error" />
      <DataTable columns={['Model', 'Owner', 'Family', 'Size', 'State', 'Defaults']} actions minWidth={900} testId="models-table">
        {list.map((m) => (
          <Table.Tr key={m.id} data-testid={`model-row-${m.id}`}>
            <Table.Td>
              <Text size="sm" fw={600} ff="monospace">
                {m.id}
              </Text>
              {(m.name || m.description) && (
                <Text size="xs" c="dimmed">
                  {[m.name, m.description].filter(Boolean).join(': ')}
                </Text>
              )}
            </Table.Td>
            <Table.Td>{m.workspace_id ? (wsName.get(m.workspace_id) ?? m.workspace_id) : 'operator'}</Table.Td>
            <Table.Td>{m.family ?? '–'}</Table.Td>
            <Table.Td>{bytes(m.size_bytes)}</Table.Td>
            <Table.Td>
              <Group gap={4}>
                {m.is_active === false ? <Badge color="gray">inactive</Badge> : <Badge color="green">active</Badge>}
                {m.on_backend === false && (
                  <Badge color="yellow" variant="light">
                    not on backend
                  </Badge>
                )}
              </Group>
            </Table.Td>
            <Table.Td>
              <Text size="xs" ff="monospace">
                {Object.entries(m.parameters)
                  .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
                  .join(' ') || '–'}
              </Text>
            </Table.Td>
            <Table.Td>
              <Group gap={4} wrap="nowrap">
                <Button size="xs" variant="default" onClick={() => setEditing(m)} aria-label={`Edit model ${m.id}`} data-testid="model-edit-open">
                  Edit
                </Button>
                {m.on_backend !== false && (
                  <Button size="xs" color="red" variant="light" onClick={() => setDeleting(m)} aria-label={`Delete model ${m.id}`} data-testid="model-delete">
                    Delete
                  </Button>
                )}
              </Group>
            </Table.Td>
          </Table.Tr>
        ))}
      </DataTable>
      {editing && (
        <EditModel
          api={api}
          model={editing}
          workspaces={workspaces.data?.workspaces ?? []}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            models.reload();
          }}
        />
      )}
      <ConfirmModal
        opened={deleting !== undefined}
        title="Delete model"
        confirmLabel="Delete"
        busy={remove.busy}
        error={remove.error}
        onConfirm={() => void confirmDelete()}
        onClose={() => {
          remove.clear();
          setDeleting(undefined);
        }}
        testId="model-delete-dialog"
      >
        {`The backend removes ${deleting?.id ?? ''} and its files; calls naming it fail from now on.`}
      </ConfirmModal>
    </Stack>
  );
}
