/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The local stack's API URL (`stack:status`), set by `npm run demo`. */
  readonly VITE_SUPABASE_URL: string;
  /** The stack's publishable key. */
  readonly VITE_SUPABASE_PUBLISHABLE_KEY: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
