import type { ReactNode } from 'react';
import { Table, VisuallyHidden } from '@mantine/core';

/**
 * A table of records: its column heads, then the rows given as children. At a phone's width it
 * scrolls sideways rather than squeezing the columns. `actions` adds a last column for the
 * row's buttons, named for screen readers only.
 */
export function DataTable(props: { columns: string[]; actions?: boolean; minWidth: number; testId: string; highlightOnHover?: boolean; children: ReactNode }) {
  return (
    <Table.ScrollContainer minWidth={props.minWidth}>
      <Table striped highlightOnHover={props.highlightOnHover} data-testid={props.testId}>
        <Table.Thead>
          <Table.Tr>
            {props.columns.map((c) => (
              <Table.Th key={c}>{c}</Table.Th>
            ))}
            {props.actions && (
              <Table.Th>
                <VisuallyHidden>Actions</VisuallyHidden>
              </Table.Th>
            )}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>{props.children}</Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
