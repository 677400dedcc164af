import { useSyncExternalStore, type MouseEvent } from 'react';

/** Where the daemon serves the console; each page is a path under it (the daemon answers each with index.html). */
export const BASE = '/admin';

const CHANGE = 'hearth:navigate';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

/** The page's path below /admin: '/' for the overview, '/keys', '/playground', ... */
export function pagePath(): string {
  const p = window.location.pathname;
  const rest = p.startsWith(BASE) ? p.slice(BASE.length) : p;
  return rest === '' ? '/' : rest.replace(/\/+$/, '') || '/';
}

export function usePagePath(): string {
  return useSyncExternalStore(subscribe, pagePath);
}

export function href(page: string): string {
  return page === '/' ? `${BASE}/` : `${BASE}${page}`;
}

export function navigate(page: string): void {
  window.history.pushState(null, '', href(page));
  window.dispatchEvent(new Event(CHANGE));
}

/**
 * For an <a href> that stays in the console: a plain click changes the page without a reload;
 * a click with a modifier (new tab, new window) is left to the browser.
 */
export function followLink(page: string, then?: () => void) {
  return (e: MouseEvent<HTMLElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(page);
    then?.();
  };
}
