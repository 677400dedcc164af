import { Alert, Button, Modal, Stack, Text } from '@mantine/core';
import type { NewKey } from '../api/types.js';
import { CopyField } from './CopyField.js';

/**
 * A key's secret, the one time the daemon gives it (creation or rotation). Closing the modal
 * drops it: the page keeps no copy and the API never shows it again.
 */
export function SecretModal({ created, onClose }: { created: NewKey | undefined; onClose: () => void }) {
  return (
    <Modal opened={created !== undefined} onClose={onClose} title="Your new API key" size="lg" closeOnClickOutside={false}>
      {created && (
        <Stack data-testid="secret-modal">
          <Alert color="yellow" title="Shown once">
            Copy the key now. Hearth stores only its hash: it cannot show it again.
          </Alert>
          <Text size="sm">
            Key <b>{created.name}</b> ({created.id}) of workspace {created.workspace_id}, scopes {created.scopes.join(', ')}.
          </Text>
          <CopyField label="API key" value={created.key} testId="secret-value" />
          <Button onClick={onClose} data-testid="secret-done">
            I have copied it
          </Button>
        </Stack>
      )}
    </Modal>
  );
}
