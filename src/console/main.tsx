import '@mantine/core/styles.css';
import '@mantine/charts/styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Badge, MantineProvider, createTheme } from '@mantine/core';
import { App } from './App.js';

// The daemon's Content-Security-Policy allows <style> elements only with the nonce it put in
// this answer's <meta>: Mantine writes its theme variables and responsive rules (the AppShell's
// widths at each breakpoint) as <style> elements, and modals block scrolling with one
// (react-remove-scroll, which reads __webpack_nonce__). No inline script is needed or allowed.
const nonce = document.querySelector<HTMLMetaElement>('meta[name="hearth-style-nonce"]')?.content ?? '';
(window as { __webpack_nonce__?: string }).__webpack_nonce__ = nonce;

// Mantine's default font stack is the system's own fonts: nothing is downloaded.
// Badges are statuses in table cells: their label clipped away to "AC…" says nothing, so a
// badge keeps its width and the table scrolls instead.
const theme = createTheme({
  primaryColor: 'orange',
  cursorType: 'pointer',
  components: { Badge: Badge.extend({ styles: { label: { overflow: 'visible' } } }) },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider theme={theme} defaultColorScheme="auto" getStyleNonce={() => nonce}>
      <App />
    </MantineProvider>
  </StrictMode>,
);
