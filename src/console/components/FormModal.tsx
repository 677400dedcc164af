import type { FormEvent, ReactNode } from 'react';
import { Button, Group, Modal, Stack } from '@mantine/core';
import type { Action } from '../use-resource.js';
import { ErrorNotice } from './ErrorNotice.js';

/**
 * A dialog holding one form: its fields, the change's error, and a submit button (Enter submits).
 * Test ids: `testId` on the form's content, `${testId}-error` and `${testId}-submit`.
 */
export function FormModal(props: {
  title: string;
  testId: string;
  action: Action;
  submitLabel: string;
  submitDisabled?: boolean;
  onSubmit: () => void;
  onClose: () => void;
  size?: string;
  /** Buttons beside the submit button (e.g. one that clears a field). */
  buttons?: ReactNode;
  children: ReactNode;
}) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    props.onSubmit();
  };
  return (
    <Modal opened onClose={props.onClose} title={props.title} size={props.size}>
      <form onSubmit={submit}>
        <Stack data-testid={props.testId}>
          {props.children}
          <ErrorNotice error={props.action.error} testId={`${props.testId}-error`} />
          <Group justify="end">
            {props.buttons}
            <Button type="submit" loading={props.action.busy} disabled={props.submitDisabled} data-testid={`${props.testId}-submit`}>
              {props.submitLabel}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
