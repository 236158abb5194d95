/** Signed out: the sign-in form. Signed in: the person's workspace, kept in sync by the device client. */
import type { Session } from '@supabase/supabase-js';
import { useEffect, useState } from 'react';
import { SignIn } from './SignIn.tsx';
import { supabase } from './supabase.ts';
import { Workspace } from './Workspace.tsx';

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    supabase.auth.getSession().then(({ data }) => setSession(data.session));
    const { data } = supabase.auth.onAuthStateChange((_event, next) => setSession(next));
    return () => data.subscription.unsubscribe();
  }, []);
  if (session === undefined) return <p className="loading">Loading…</p>;
  if (session === null) return <SignIn />;
  // Keyed by user: another person signing in on this browser gets a client (and storage) of their own.
  return <Workspace key={session.user.id} userId={session.user.id} email={session.user.email ?? 'anonymous'} />;
}
