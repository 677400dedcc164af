import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Libraries name web pages inside their error messages (React's error decoder, Redux's, immer's,
 * a Mantine warning). Nothing fetches them, but the built console must hold no address of another
 * host (the offline rule, checked by test/integration/console-serve.test.ts), so their scheme is
 * dropped: the message still names the page for a person to look up. Only these known message
 * addresses are rewritten, so that any other address a library adds still fails the check.
 */
const MESSAGE_ONLY_ADDRESSES = ['https://react.dev/errors/', 'https://redux.js.org/Errors', 'https://redux-toolkit.js.org/Errors', 'https://mantine.dev/', 'https://bit.ly/3cXEKWf'];

function noForeignAddresses(): Plugin {
  return {
    name: 'hearth-no-foreign-addresses',
    renderChunk(code) {
      let out = code;
      for (const a of MESSAGE_ONLY_ADDRESSES) out = out.replaceAll(a, a.slice('https://'.length));
      return out === code ? null : { code: out, map: null };
    },
  };
}

// Built by `npm run build:console` into dist/console, which the daemon serves at /admin/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/admin/',
  plugins: [react(), noForeignAddresses()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    // Every browser the console supports has modulepreload; the polyfill would be one more script.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 2048,
  },
});
