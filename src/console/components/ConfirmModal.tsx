import type { ReactNode } from 'react';
import { Button, Group, Modal, Stack, Text } from '@mantine/core';
import { ErrorNotice } from './ErrorNotice.js';

/** Asks before a change that cannot be undone (revoke, delete, cancel); the action's error shows inside. */
export function ConfirmModal(props: {
  opened: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onClose: () => void;
  testId: string;
}) {
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={props.title}>
      <Stack data-testid={props.testId}>
        <Text size="sm">{props.children}</Text>
        <ErrorNotice error={props.error} testId={`${props.testId}-error`} />
        <Group justify="end">
          <Button variant="default" onClick={props.onClose}>
            Keep
          </Button>
          <Button color="red" loading={props.busy} onClick={props.onConfirm} data-testid={`${props.testId}-confirm`}>
            {props.confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
