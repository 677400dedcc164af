import { useEffect, useMemo, useRef, useState, type ComponentType } from 'react';
import { Anchor, AppShell, Burger, Button, Center, Group, Loader, NavLink, Text, Title, useMantineTheme } from '@mantine/core';
import { useDisclosure, useMediaQuery } from '@mantine/hooks';
import { AdminClient, resumeSession, signOut } from './api/admin.js';
import type { Session } from './api/types.js';
import { followLink, href, usePagePath } from './router.js';
import { ErrorNotice } from './components/ErrorNotice.js';
import { SignInPage } from './pages/SignInPage.js';
import { OverviewPage } from './pages/OverviewPage.js';
import { KeysPage } from './pages/KeysPage.js';
import { PlansPage } from './pages/PlansPage.js';
import { UsagePage } from './pages/UsagePage.js';
import { ModelsPage } from './pages/ModelsPage.js';
import { FinetunePage } from './pages/FinetunePage.js';
import { AuditPage } from './pages/AuditPage.js';
import { PlaygroundPage } from './playground/PlaygroundPage.js';
import type { AdminPageProps } from './pages/page-props.js';

/** Pages of the operator need the admin session; the playground needs only a workspace key. */
type Page = { path: string; label: string } & ({ admin: true; component: ComponentType<AdminPageProps> } | { admin: false; component: ComponentType });

const PAGES: Page[] = [
  { path: '/', label: 'Overview', admin: true, component: OverviewPage },
  { path: '/keys', label: 'Workspaces & keys', admin: true, component: KeysPage },
  { path: '/plans', label: 'Plans & costs', admin: true, component: PlansPage },
  { path: '/usage', label: 'Usage', admin: true, component: UsagePage },
  { path: '/models', label: 'Models', admin: true, component: ModelsPage },
  { path: '/finetune', label: 'Fine-tuning', admin: true, component: FinetunePage },
  { path: '/audit', label: 'Audit log', admin: true, component: AuditPage },
  { path: '/playground', label: 'Playground', admin: false, component: PlaygroundPage },
];

const testIdOf = (p: Page) => `nav-${p.path === '/' ? 'overview' : p.path.slice(1)}`;

export function App() {
  const path = usePagePath();
  const page = PAGES.find((p) => p.path === path);
  // undefined while the cookie is being checked, null when signed out.
  const [session, setSession] = useState<Session | null>();
  const [ended, setEnded] = useState(false);
  const [signOutError, setSignOutError] = useState<unknown>();
  const [navOpened, nav] = useDisclosure(false);
  // Below the sm breakpoint the closed navigation is only moved out of sight; hidden, it also
  // leaves the Tab order and the accessibility tree, so the keyboard never lands on a link
  // that cannot be seen.
  const wide = useMediaQuery(`(min-width: ${useMantineTheme().breakpoints.sm})`, true, { getInitialValueInEffect: false });
  const navFolded = !wide && !navOpened;

  useEffect(() => {
    resumeSession().then(
      (s) => setSession(s ?? null),
      () => setSession(null),
    );
  }, []);

  const api = useMemo(
    () =>
      session
        ? new AdminClient(session.csrf_token, () => {
            setSession(null);
            setEnded(true);
          })
        : undefined,
    [session],
  );

  // After a move to another page, focus goes to its heading, so a keyboard or screen reader
  // user starts there rather than at the end of the navigation.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('page-title')?.focus();
  }, [path]);

  const leave = async () => {
    if (!session) return;
    try {
      await signOut(session.csrf_token);
      setSignOutError(undefined);
      setEnded(false);
      setSession(null);
    } catch (e) {
      setSignOutError(e);
    }
  };

  const shown = PAGES.filter((p) => !p.admin || session);
  let main;
  if (!page) {
    main = (
      <>
        <Title order={1} id="page-title" tabIndex={-1} data-testid="page-not-found">
          No such page
        </Title>
        <Anchor href={href('/')} onClick={followLink('/')}>
          To the overview
        </Anchor>
      </>
    );
  } else if (!page.admin) {
    main = <page.component />;
  } else if (session === undefined) {
    main = (
      <Center mih={200}>
        <Loader aria-label="Checking the session" />
      </Center>
    );
  } else if (session === null || !api) {
    main = (
      <SignInPage
        ended={ended}
        onSignedIn={(s) => {
          setEnded(false);
          setSession(s);
        }}
      />
    );
  } else {
    const Admin = page.component;
    main = <Admin api={api} />;
  }

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !navOpened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={navOpened} onClick={nav.toggle} hiddenFrom="sm" size="sm" aria-label={navOpened ? 'Close navigation' : 'Open navigation'} aria-expanded={navOpened} aria-controls="console-nav" data-testid="nav-burger" />
            <Anchor href={href('/')} onClick={followLink('/', nav.close)} underline="never" c="inherit" fw={700} size="lg">
              Hearth console
            </Anchor>
          </Group>
          {session && (
            <Group gap="sm" wrap="nowrap">
              <Text size="sm" c="dimmed" visibleFrom="sm" data-testid="session-expiry">
                Session until {new Date(session.expires_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
              </Text>
              <Button variant="default" size="xs" onClick={() => void leave()} data-testid="sign-out">
                Sign out
              </Button>
            </Group>
          )}
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" id="console-nav" component="nav" aria-label="Console pages" style={navFolded ? { visibility: 'hidden' } : undefined}>
        {shown.map((p) => (
          <NavLink key={p.path} href={href(p.path)} label={p.label} active={p.path === path} aria-current={p.path === path ? 'page' : undefined} onClick={followLink(p.path, nav.close)} data-testid={testIdOf(p)} />
        ))}
        {session === null && (
          <NavLink href={href('/')} label="Sign in" active={page?.admin === true} onClick={followLink('/', nav.close)} data-testid="nav-signin" />
        )}
      </AppShell.Navbar>
      <AppShell.Main id="main">
        <ErrorNotice error={signOutError} title="Signing out failed" testId="sign-out-error" />
        {main}
      </AppShell.Main>
    </AppShell>
  );
}
