import { useRef, useState } from 'react';
import { Button, Group, TextInput } from '@mantine/core';

/**
 * A read-only field with a Copy button. The clipboard API exists only in secure contexts
 * (https, localhost); on a LAN address over plain http the field's text is selected and copied
 * the old way, and stays selected for Ctrl+C when even that is refused.
 */
export function CopyField({ label, value, testId }: { label: string; value: string; testId: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    let done = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(value);
        done = true;
      }
    } catch {
      // Refused (permissions): fall through to the selection.
    }
    if (!done && input.current) {
      input.current.focus();
      input.current.select();
      done = document.execCommand('copy');
    }
    setCopied(done);
  };
  return (
    <Group align="end" wrap="nowrap" gap="xs">
      <TextInput ref={input} label={label} value={value} readOnly style={{ flex: 1 }} data-testid={testId} styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }} />
      <Button onClick={() => void copy()} variant={copied ? 'light' : 'filled'} data-testid={`${testId}-copy`}>
        {copied ? 'Copied' : 'Copy'}
      </Button>
    </Group>
  );
}
