/** The app's one supabase-js client. Its session is kept in localStorage, so a reload stays signed in. */
import { createClient } from '@supabase/supabase-js';

export const supabase = createClient(import.meta.env.VITE_SUPABASE_URL, import.meta.env.VITE_SUPABASE_PUBLISHABLE_KEY);
