// Renders config.example.yaml from the schema table, so the example cannot drift from the
// loader: a unit test compares the committed file with this output and loads it.
import { stringify } from 'yaml';
import { configSchema } from './schema.js';

const header = `# Hearth configuration: every key with its default.
# Generated from src/config/schema.ts by \`node dist/scripts/config-example.js\`; do not edit by hand.
# Read from --config FILE, else $HEARTH_CONFIG, else /etc/hearth/config.yaml if it exists.
# Environment variables (HEARTH_LISTEN, ...) override this file; command-line flags override both.
# Durations: "500ms", "2s", "5m", "1h30m". Sizes: "512kb", "1mb" (units of 1024) or bytes.
# Unknown keys and invalid values stop the daemon with a message naming the key.
`;

export function renderConfigExample(): string {
  const lines = [header];
  let section = '';
  for (const field of configSchema) {
    const dot = field.key.lastIndexOf('.');
    const fieldSection = dot < 0 ? '' : field.key.slice(0, dot);
    const name = field.key.slice(dot + 1);
    if (fieldSection !== section) {
      lines.push('', `${fieldSection}:`);
      section = fieldSection;
    }
    const indent = fieldSection === '' ? '' : '  ';
    lines.push(`${indent}# ${field.description} [${field.kind.hint}]`);
    lines.push(`${indent}${name}: ${stringify(field.default).trimEnd()}`);
  }
  return lines.join('\n') + '\n';
}
