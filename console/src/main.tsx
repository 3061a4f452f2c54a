import { StrictMode, useCallback, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type Anthropic from '@anthropic-ai/sdk';
import { clientFor, fetchConfig, forgetKey, isAuthError, storedKey, storeKey, type ConsoleConfig } from './api-client.ts';
import { SessionsPage } from './sessions-page.tsx';
import { SessionPage } from './session-page.tsx';
import { SignIn } from './sign-in.tsx';
import './styles.css';

type Signed = { client: Anthropic; config: ConsoleConfig };

/** `/console/sessions/<id>` is a session's page; every other path under /console is the list. */
const sessionIdOf = (path: string) => /^\/console\/sessions\/([^/]+)\/?$/.exec(path)?.[1] ?? null;

function App() {
  const [signed, setSigned] = useState<Signed | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [checking, setChecking] = useState(storedKey() !== null);
  const [path, setPath] = useState(window.location.pathname);

  const signIn = useCallback(async (key: string) => {
    setProblem(null);
    setChecking(true);
    try {
      const config = await fetchConfig(key);
      storeKey(key);
      setSigned({ client: clientFor(key), config });
    } catch (error) {
      forgetKey();
      setSigned(null);
      setProblem(isAuthError(error) ? 'The server rejected this API key. Use a key the server was started with (longhaul dev prints its key).' : `Could not reach the server: ${(error as Error).message}`);
    } finally {
      setChecking(false);
    }
  }, []);

  useEffect(() => {
    const key = storedKey();
    if (key) void signIn(key);
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, [signIn]);

  const navigate = useCallback((to: string) => {
    window.history.pushState(null, '', to);
    setPath(to);
    window.scrollTo(0, 0);
  }, []);

  const signOut = useCallback(() => {
    forgetKey();
    setSigned(null);
  }, []);
  // A key revoked while the page is open: back to the sign-in form, saying why.
  const onAuthError = useCallback(() => {
    forgetKey();
    setSigned(null);
    setProblem('The server no longer accepts this API key.');
  }, []);

  const sessionId = sessionIdOf(path);
  return (
    <div className="app">
      <header className="topbar">
        <a
          className="brand"
          href="/console/"
          onClick={(e) => {
            e.preventDefault();
            navigate('/console/');
          }}
        >
          <span className="logo">◆</span> Longhaul <span className="muted">console</span>
        </a>
        {signed && (
          <button type="button" className="link" onClick={signOut}>
            Sign out
          </button>
        )}
      </header>
      <main>
        {!signed ? (
          <SignIn onSubmit={signIn} problem={problem} checking={checking} />
        ) : sessionId ? (
          <SessionPage key={sessionId} client={signed.client} config={signed.config} sessionId={sessionId} navigate={navigate} onAuthError={onAuthError} />
        ) : (
          <SessionsPage client={signed.client} navigate={navigate} onAuthError={onAuthError} />
        )}
      </main>
    </div>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
