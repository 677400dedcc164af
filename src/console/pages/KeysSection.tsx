import { useMemo, useState } from 'react';
import { Badge, Button, Card, Group, MultiSelect, Select, Stack, Switch, Table, Text, TextInput } from '@mantine/core';
import type { AdminClient } from '../api/admin.js';
import { segment } from '../api/http.js';
import { SCOPES, type Key, type NewKey, type Workspace } from '../api/types.js';
import { ConfirmModal } from '../components/ConfirmModal.js';
import { DataTable } from '../components/DataTable.js';
import { FormModal } from '../components/FormModal.js';
import { SectionTitle } from '../components/PageTitle.js';
import { SecretModal } from '../components/SecretModal.js';
import { dateTime, fromLocalInput, relative, toLocalInput } from '../format.js';
import { useAction } from '../use-resource.js';

function statusOf(k: Key, now: number): 'revoked' | 'expired' | 'active' {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && new Date(k.expires_at).getTime() <= now) return 'expired';
  return 'active';
}

const STATUS_COLOR = { active: 'green', expired: 'gray', revoked: 'red' } as const;

function ExpiryInput({ value, onChange, testId }: { value: string; onChange: (v: string) => void; testId: string }) {
  return <TextInput type="datetime-local" label="Expires" description="Empty: never (your time zone)" value={value} onChange={(e) => onChange(e.currentTarget.value)} data-testid={testId} />;
}

function CreateKey({ api, workspaces, onClose, onCreated }: { api: AdminClient; workspaces: Workspace[]; onClose: () => void; onCreated: (k: NewKey) => void }) {
  const [workspace, setWorkspace] = useState<string | null>(workspaces[0]?.id ?? null);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>([]);
  const [expires, setExpires] = useState('');
  const create = useAction();
  const submit = async () => {
    const expiresAt = fromLocalInput(expires);
    const made = await create.run(() =>
      api.post<NewKey>('/api/admin/keys', { workspace, name: name.trim(), ...(scopes.length > 0 ? { scopes } : {}), ...(expiresAt ? { expires_at: expiresAt } : {}) }),
    );
    if (made) onCreated(made);
  };
  return (
    <FormModal title="New API key" testId="key-create" action={create} submitLabel="Create key" submitDisabled={!workspace || name.trim() === ''} onSubmit={() => void submit()} onClose={onClose}>
      <Select label="Workspace" data={workspaces.map((w) => ({ value: w.id, label: w.name }))} value={workspace} onChange={setWorkspace} searchable required data-testid="key-create-workspace" />
      <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required maxLength={64} data-testid="key-create-name" />
      <MultiSelect label="Scopes" description="Empty: every scope of the workspace's plan" data={[...SCOPES]} value={scopes} onChange={setScopes} clearable data-testid="key-create-scopes" />
      <ExpiryInput value={expires} onChange={setExpires} testId="key-create-expires" />
    </FormModal>
  );
}

function SetExpiry({ api, apiKey, onClose, onSaved }: { api: AdminClient; apiKey: Key; onClose: () => void; onSaved: () => void }) {
  const [expires, setExpires] = useState(toLocalInput(apiKey.expires_at));
  const save = useAction();
  const submit = async () => {
    const done = await save.run(() => api.patch<Key>(`/api/admin/keys/${segment(apiKey.id)}`, { expires_at: fromLocalInput(expires) }));
    if (done) onSaved();
  };
  return (
    <FormModal
      title={`Expiry of ${apiKey.name}`}
      testId="key-expiry"
      action={save}
      submitLabel="Save"
      onSubmit={() => void submit()}
      onClose={onClose}
      buttons={
        <Button variant="default" onClick={() => setExpires('')} data-testid="key-expiry-never">
          Never expires
        </Button>
      }
    >
      <ExpiryInput value={expires} onChange={setExpires} testId="key-expiry-input" />
    </FormModal>
  );
}

/** The keys of every workspace: filter, create (secret shown once), rotate, revoke, expiry. */
export function KeysSection({ api, workspaces, keys, onChanged }: { api: AdminClient; workspaces: Workspace[]; keys: Key[]; onChanged: () => void }) {
  const [workspace, setWorkspace] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [showRevoked, setShowRevoked] = useState(false);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<NewKey>();
  const [expiring, setExpiring] = useState<Key>();
  const [confirm, setConfirm] = useState<{ kind: 'revoke' | 'rotate'; key: Key }>();
  const change = useAction();
  const nameOf = useMemo(() => new Map(workspaces.map((w) => [w.id, w.name])), [workspaces]);
  const now = Date.now();

  const shown = keys.filter((k) => {
    if (workspace && k.workspace_id !== workspace) return false;
    if (!showRevoked && k.revoked_at) return false;
    const q = search.trim().toLowerCase();
    return q === '' || [k.name, k.id, nameOf.get(k.workspace_id) ?? '', ...k.scopes].some((s) => s.toLowerCase().includes(q));
  });

  const act = async () => {
    if (!confirm) return;
    const { kind, key } = confirm;
    const answer = await change.run(() => api.post<Key | NewKey>(`/api/admin/keys/${segment(key.id)}/${kind}`));
    if (!answer) return;
    setConfirm(undefined);
    if (kind === 'rotate') setSecret(answer as NewKey);
    onChanged();
  };

  return (
    <Stack data-testid="keys-section">
      <Group justify="space-between">
        <SectionTitle>API keys</SectionTitle>
        <Button onClick={() => setCreating(true)} disabled={workspaces.length === 0} data-testid="key-create-open">
          New key
        </Button>
      </Group>
      <Card withBorder>
        <Group align="end">
          <Select label="Workspace" placeholder="All" data={workspaces.map((w) => ({ value: w.id, label: w.name }))} value={workspace} onChange={setWorkspace} clearable searchable data-testid="keys-filter-workspace" />
          <TextInput label="Search" placeholder="Name, id or scope" value={search} onChange={(e) => setSearch(e.currentTarget.value)} type="search" data-testid="keys-search" />
          <Switch label="Show revoked" checked={showRevoked} onChange={(e) => setShowRevoked(e.currentTarget.checked)} data-testid="keys-show-revoked" />
        </Group>
      </Card>
      <DataTable columns={['Name', 'Id', 'Workspace', 'Scopes', 'Created', 'Last used', 'Expires', 'Status']} actions minWidth={1100} testId="keys-table">
        {shown.map((k) => {
          const status = statusOf(k, now);
          return (
            <Table.Tr key={k.id} data-testid={`key-row-${k.id}`}>
              <Table.Td>{k.name}</Table.Td>
              <Table.Td>
                <Text size="xs" ff="monospace">
                  {k.id}
                </Text>
              </Table.Td>
              <Table.Td>{nameOf.get(k.workspace_id) ?? k.workspace_id}</Table.Td>
              <Table.Td>{k.scopes.join(', ')}</Table.Td>
              <Table.Td>{dateTime(k.created_at)}</Table.Td>
              <Table.Td title={k.last_used_at ?? undefined} data-testid="key-last-used">
                {relative(k.last_used_at, now)}
              </Table.Td>
              <Table.Td title={k.expires_at ?? undefined}>{k.expires_at ? dateTime(k.expires_at) : 'never'}</Table.Td>
              <Table.Td>
                <Badge color={STATUS_COLOR[status]} variant="light" data-testid="key-status">
                  {status}
                </Badge>
              </Table.Td>
              <Table.Td>
                {status !== 'revoked' && (
                  <Group gap={4} wrap="nowrap">
                    <Button size="xs" variant="default" onClick={() => setExpiring(k)} aria-label={`Set the expiry of key ${k.name}`} data-testid="key-expiry-open">
                      Expiry
                    </Button>
                    <Button size="xs" variant="default" onClick={() => setConfirm({ kind: 'rotate', key: k })} aria-label={`Rotate key ${k.name}`} data-testid="key-rotate">
                      Rotate
                    </Button>
                    <Button size="xs" color="red" variant="light" onClick={() => setConfirm({ kind: 'revoke', key: k })} aria-label={`Revoke key ${k.name}`} data-testid="key-revoke">
                      Revoke
                    </Button>
                  </Group>
                )}
              </Table.Td>
            </Table.Tr>
          );
        })}
      </DataTable>
      {shown.length === 0 && (
        <Text size="sm" c="dimmed" data-testid="keys-empty">
          No key matches.
        </Text>
      )}
      {creating && (
        <CreateKey
          api={api}
          workspaces={workspaces}
          onClose={() => setCreating(false)}
          onCreated={(k) => {
            setCreating(false);
            setSecret(k);
            onChanged();
          }}
        />
      )}
      {expiring && (
        <SetExpiry
          api={api}
          apiKey={expiring}
          onClose={() => setExpiring(undefined)}
          onSaved={() => {
            setExpiring(undefined);
            onChanged();
          }}
        />
      )}
      <ConfirmModal
        opened={confirm !== undefined}
        title={confirm?.kind === 'rotate' ? 'Rotate key' : 'Revoke key'}
        confirmLabel={confirm?.kind === 'rotate' ? 'Rotate' : 'Revoke'}
        busy={change.busy}
        error={change.error}
        onConfirm={() => void act()}
        onClose={() => {
          change.clear();
          setConfirm(undefined);
        }}
        testId={confirm?.kind === 'rotate' ? 'key-rotate-dialog' : 'key-revoke-dialog'}
      >
        {confirm?.kind === 'rotate'
          ? `Key ${confirm.key.name} is revoked and a new key with its name and scopes is made; its secret is shown once.`
          : `Calls with key ${confirm?.key.name ?? ''} are refused from now on. This cannot be undone.`}
      </ConfirmModal>
      <SecretModal created={secret} onClose={() => setSecret(undefined)} />
    </Stack>
  );
}
