import { useState, type FormEvent } from 'react';
import { Button, Card, Group, NumberInput, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import type { AdminClient } from '../api/admin.js';
import { segment } from '../api/http.js';
import type { Plan, Workspace } from '../api/types.js';
import { DataTable } from '../components/DataTable.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { FormModal } from '../components/FormModal.js';
import { SectionTitle } from '../components/PageTitle.js';
import { count, dateTime } from '../format.js';
import { useAction } from '../use-resource.js';

/** A budget field's value as the API takes it: empty is null (the plan's monthly credits). */
const budgetOf = (v: string | number): number | null => (v === '' ? null : Number(v));

function BudgetInput({ value, onChange, testId }: { value: string | number; onChange: (v: string | number) => void; testId: string }) {
  return (
    <NumberInput
      label="Monthly credits"
      description="Empty: the plan's budget"
      min={0}
      allowDecimal={false}
      value={value}
      onChange={onChange}
      data-testid={testId}
    />
  );
}

function EditWorkspace({ api, workspace, plans, onClose, onSaved }: { api: AdminClient; workspace: Workspace; plans: Plan[]; onClose: () => void; onSaved: () => void }) {
  const [plan, setPlan] = useState(workspace.plan);
  const [budget, setBudget] = useState<string | number>(workspace.monthly_credits ?? '');
  const save = useAction();
  const submit = async () => {
    const done = await save.run(() => api.patch(`/api/admin/workspaces/${segment(workspace.id)}`, { plan, monthly_credits: budgetOf(budget) }));
    if (done) onSaved();
  };
  return (
    <FormModal title={`Workspace ${workspace.name}`} testId="workspace-edit" action={save} submitLabel="Save" onSubmit={() => void submit()} onClose={onClose}>
      <Select label="Plan" data={plans.map((p) => ({ value: p.id, label: p.title }))} value={plan} onChange={(v) => v && setPlan(v)} allowDeselect={false} data-testid="workspace-edit-plan" />
      <BudgetInput value={budget} onChange={setBudget} testId="workspace-edit-budget" />
    </FormModal>
  );
}

/** The workspaces: create one, change its plan or budget. */
export function WorkspacesSection({ api, workspaces, plans, onChanged }: { api: AdminClient; workspaces: Workspace[]; plans: Plan[]; onChanged: () => void }) {
  const [name, setName] = useState('');
  const [plan, setPlan] = useState<string | null>(null);
  const [budget, setBudget] = useState<string | number>('');
  const [editing, setEditing] = useState<Workspace>();
  const create = useAction();
  const planTitle = (id: string) => plans.find((p) => p.id === id)?.title ?? id;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const made = await create.run(() => api.post<Workspace>('/api/admin/workspaces', { name: name.trim(), plan, monthly_credits: budgetOf(budget) }));
    if (made) {
      setName('');
      setBudget('');
      onChanged();
    }
  };

  return (
    <Stack data-testid="workspaces-section">
      <SectionTitle>Workspaces</SectionTitle>
      <Card withBorder>
        <form onSubmit={(e) => void submit(e)} data-testid="workspace-create-form">
          <Group align="end">
            <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required maxLength={64} data-testid="workspace-create-name" />
            <Select label="Plan" data={plans.map((p) => ({ value: p.id, label: p.title }))} value={plan} onChange={setPlan} required data-testid="workspace-create-plan" />
            <BudgetInput value={budget} onChange={setBudget} testId="workspace-create-budget" />
            <Button type="submit" loading={create.busy} disabled={name.trim() === '' || !plan} data-testid="workspace-create-submit">
              Create workspace
            </Button>
          </Group>
        </form>
        <ErrorNotice error={create.error} testId="workspace-create-error" />
      </Card>
      <DataTable columns={['Name', 'Id', 'Plan', 'Monthly credits', 'Created']} actions minWidth={560} testId="workspaces-table">
        {workspaces.map((w) => (
          <Table.Tr key={w.id} data-testid={`workspace-row-${w.name}`}>
            <Table.Td>{w.name}</Table.Td>
            <Table.Td>
              <Text size="xs" ff="monospace">
                {w.id}
              </Text>
            </Table.Td>
            <Table.Td>{planTitle(w.plan)}</Table.Td>
            <Table.Td>{w.monthly_credits === null ? "plan's" : count(w.monthly_credits)}</Table.Td>
            <Table.Td>{dateTime(w.created_at)}</Table.Td>
            <Table.Td>
              <Button size="xs" variant="default" onClick={() => setEditing(w)} aria-label={`Edit workspace ${w.name}`} data-testid="workspace-edit-open">
                Edit
              </Button>
            </Table.Td>
          </Table.Tr>
        ))}
      </DataTable>
      {editing && (
        <EditWorkspace
          api={api}
          workspace={editing}
          plans={plans}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            onChanged();
          }}
        />
      )}
    </Stack>
  );
}
