import { useState } from 'react';

/** Asks for the API key; the page shows no data until the server accepts one. */
export function SignIn({ onSubmit, problem, checking }: { onSubmit: (key: string) => void; problem: string | null; checking: boolean }) {
  const [key, setKey] = useState('');
  return (
    <form
      className="card sign-in"
      onSubmit={(e) => {
        e.preventDefault();
        if (key.trim()) onSubmit(key.trim());
      }}
    >
      <h1>Sign in</h1>
      <p className="muted">Enter an API key of this Longhaul server. It is kept in this tab only (session storage) and sent as the <code>x-api-key</code> header.</p>
      <label>
        API key
        <input name="api-key" type="password" autoComplete="off" autoFocus value={key} onChange={(e) => setKey(e.target.value)} />
      </label>
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      <button type="submit" className="primary" disabled={checking || !key.trim()}>
        {checking ? 'Checking…' : 'Open console'}
      </button>
    </form>
  );
}
