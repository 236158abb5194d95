/** Password sign-in against the stack's Auth (`/auth/v1`); the seeded people are offered as shortcuts. */
import { type FormEvent, useState } from 'react';
import { supabase } from './supabase.ts';

/** The seeded people (supabase/seed.sql). */
const seeded = ['ada@virgil.test', 'ben@virgil.test'];
const seededPassword = 'virgil-demo-password';

export function SignIn() {
  const [email, setEmail] = useState(seeded[0]!);
  const [password, setPassword] = useState(seededPassword);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const { error } = await supabase.auth.signInWithPassword({ email, password });
    setBusy(false);
    if (error) setError(error.message);
  }

  return (
    <form className="sign-in" onSubmit={submit}>
      <h1>Virgil</h1>
      <label>
        Email
        <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} list="seeded" />
        <datalist id="seeded">
          {seeded.map((address) => (
            <option key={address} value={address} />
          ))}
        </datalist>
      </label>
      <label>
        Password
        <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <button type="submit" disabled={busy}>
        Sign in
      </button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
