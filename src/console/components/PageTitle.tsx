import type { ReactNode } from 'react';
import { Group, Title } from '@mantine/core';

/** A page's heading, where focus goes after moving to the page (App.tsx), with the page's own buttons beside it. */
export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  const title = (
    <Title order={1} id="page-title" tabIndex={-1}>
      {children}
    </Title>
  );
  return actions ? (
    <Group justify="space-between">
      {title}
      {actions}
    </Group>
  ) : (
    title
  );
}

export function SectionTitle({ children }: { children: ReactNode }) {
  return (
    <Title order={2} size="h3">
      {children}
    </Title>
  );
}
