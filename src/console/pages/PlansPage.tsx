import { useState } from 'react';
import { Button, Checkbox, NumberInput, Select, Stack, Table, Text } from '@mantine/core';
import type { AdminPageProps } from './page-props.js';
import type { AdminClient } from '../api/admin.js';
import { segment } from '../api/http.js';
import { SCOPES, type EndpointCost, type Plan } from '../api/types.js';
import { DataTable } from '../components/DataTable.js';
import { ErrorNotice } from '../components/ErrorNotice.js';
import { FormModal } from '../components/FormModal.js';
import { PageTitle, SectionTitle } from '../components/PageTitle.js';
import { count } from '../format.js';
import { useAction, useResource } from '../use-resource.js';

function EditPlan({ api, plan, onClose, onSaved }: { api: AdminClient; plan: Plan; onClose: () => void; onSaved: () => void }) {
  const [credits, setCredits] = useState<string | number>(plan.monthly_credits ?? '');
  const [rpm, setRpm] = useState<string | number>(plan.rpm);
  const [concurrent, setConcurrent] = useState<string | number>(plan.max_concurrent);
  const [weight, setWeight] = useState<string | number>(plan.weight);
  const [scopes, setScopes] = useState<string[]>(plan.scopes);
  const save = useAction();
  const submit = async () => {
    const body = { monthly_credits: credits === '' ? null : Number(credits), rpm: Number(rpm), max_concurrent: Number(concurrent), weight: Number(weight), scopes };
    if (await save.run(() => api.patch<Plan>(`/api/admin/plans/${segment(plan.id)}`, body))) onSaved();
  };
  return (
    <FormModal title={`Plan ${plan.title}`} testId="plan-edit" action={save} submitLabel="Save" onSubmit={() => void submit()} onClose={onClose}>
      <NumberInput label="Monthly credits" description="Empty: unlimited" min={0} allowDecimal={false} value={credits} onChange={setCredits} data-testid="plan-edit-credits" />
      <NumberInput label="Requests per minute" min={1} max={100000} allowDecimal={false} required value={rpm} onChange={setRpm} data-testid="plan-edit-rpm" />
      <NumberInput label="Concurrent inference calls" min={1} max={10000} allowDecimal={false} required value={concurrent} onChange={setConcurrent} data-testid="plan-edit-concurrent" />
      <NumberInput label="Weight" description="Share of the backend while calls wait" min={1} max={100} required value={weight} onChange={setWeight} data-testid="plan-edit-weight" />
      <Checkbox.Group label="Scopes" value={scopes} onChange={setScopes} data-testid="plan-edit-scopes">
        <Stack gap={4} mt={4}>
          {SCOPES.map((s) => (
            <Checkbox key={s} value={s} label={s} />
          ))}
        </Stack>
      </Checkbox.Group>
    </FormModal>
  );
}

// Select needs a value for "no scope" (null in the API): any key may call the endpoint.
const NO_SCOPE = 'none';
const SCOPE_CHOICES = [{ value: NO_SCOPE, label: 'none (any key)' }, ...SCOPES.map((s) => ({ value: s, label: s }))];

/** One endpoint's cost and scope, saved on its own. */
function EndpointRow({ api, endpoint, onSaved }: { api: AdminClient; endpoint: EndpointCost; onSaved: () => void }) {
  const [credits, setCredits] = useState<string | number>(endpoint.credits);
  const [scope, setScope] = useState(endpoint.scope ?? NO_SCOPE);
  const save = useAction();
  const changed = Number(credits) !== endpoint.credits || scope !== (endpoint.scope ?? NO_SCOPE);
  const submit = async () => {
    if (await save.run(() => api.put<EndpointCost>('/api/admin/endpoints', { endpoint: endpoint.endpoint, credits: Number(credits), scope: scope === NO_SCOPE ? null : scope }))) onSaved();
  };
  return (
    <Table.Tr data-testid={`endpoint-row-${endpoint.endpoint}`}>
      <Table.Td>
        <Text size="sm" ff="monospace">
          {endpoint.endpoint}
        </Text>
        <ErrorNotice error={save.error} testId="endpoint-error" />
      </Table.Td>
      <Table.Td>
        <Select aria-label={`Scope of ${endpoint.endpoint}`} data={SCOPE_CHOICES} value={scope} onChange={(v) => setScope(v ?? NO_SCOPE)} allowDeselect={false} data-testid="endpoint-scope" />
      </Table.Td>
      <Table.Td>
        <NumberInput aria-label={`Credits of ${endpoint.endpoint}`} min={0} allowDecimal={false} value={credits} onChange={setCredits} w={100} data-testid="endpoint-credits" />
      </Table.Td>
      <Table.Td>
        <Button size="xs" disabled={!changed || credits === ''} loading={save.busy} onClick={() => void submit()} aria-label={`Save ${endpoint.endpoint}`} data-testid="endpoint-save">
          Save
        </Button>
      </Table.Td>
    </Table.Tr>
  );
}

/** The plan catalog and the endpoint → scope → credits table, both editable. */
export function PlansPage({ api }: AdminPageProps) {
  const plans = useResource(() => api.get<{ plans: Plan[] }>('/api/admin/plans'));
  const endpoints = useResource(() => api.get<{ endpoints: EndpointCost[] }>('/api/admin/endpoints'));
  const [editing, setEditing] = useState<Plan>();
  return (
    <Stack gap="xl" data-testid="page-plans">
      <PageTitle>Plans &amp; endpoint costs</PageTitle>
      <Stack>
        <SectionTitle>Plans</SectionTitle>
        <ErrorNotice error={plans.error} testId="plans-error" />
        <DataTable columns={['Plan', 'Monthly credits', 'Requests / min', 'Concurrent', 'Weight', 'Scopes']} actions minWidth={760} testId="plans-table">
          {(plans.data?.plans ?? []).map((p) => (
            <Table.Tr key={p.id} data-testid={`plan-row-${p.id}`}>
              <Table.Td>
                <Text size="sm" fw={600}>
                  {p.title}
                </Text>
                <Text size="xs" c="dimmed">
                  {p.id}: {p.description}
                </Text>
              </Table.Td>
              <Table.Td>{p.monthly_credits === null ? 'unlimited' : count(p.monthly_credits)}</Table.Td>
              <Table.Td>{count(p.rpm)}</Table.Td>
              <Table.Td>{count(p.max_concurrent)}</Table.Td>
              <Table.Td>{p.weight}</Table.Td>
              <Table.Td>{p.scopes.join(', ')}</Table.Td>
              <Table.Td>
                <Button size="xs" variant="default" onClick={() => setEditing(p)} aria-label={`Edit plan ${p.title}`} data-testid="plan-edit-open">
                  Edit
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </DataTable>
      </Stack>
      <Stack>
        <SectionTitle>Endpoint costs</SectionTitle>
        <Text size="sm" c="dimmed">
          Credits each call costs, and the scope a key needs for it.
        </Text>
        <ErrorNotice error={endpoints.error} testId="endpoints-error" />
        <DataTable columns={['Endpoint', 'Scope', 'Credits']} actions minWidth={600} testId="endpoints-table">
          {(endpoints.data?.endpoints ?? []).map((e) => (
            <EndpointRow key={`${e.endpoint}:${e.credits}:${e.scope ?? ''}`} api={api} endpoint={e} onSaved={endpoints.reload} />
          ))}
        </DataTable>
      </Stack>
      {editing && (
        <EditPlan
          api={api}
          plan={editing}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            plans.reload();
          }}
        />
      )}
    </Stack>
  );
}
