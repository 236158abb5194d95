/**
 * The generated types, used the way application code uses them: `createClient<Database>(…)` from
 * @supabase/supabase-js. The checks are type-level; `tsc --noEmit` (the typecheck stage of
 * `npm test`) is what fails when the generated file stops giving these types. Each
 * `@ts-expect-error` line must be an error, so a type that became too loose fails as well.
 */
import { createClient } from '@supabase/supabase-js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  Constants,
  type Database,
  type Json,
  type Tables,
  type TablesInsert,
  type TablesUpdate,
} from '../../supabase/functions/_shared/database.types.ts';

/** The keys of T that must be given. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

const client = () =>
  createClient<Database>('http://127.0.0.1:1', 'anon-key', {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });

describe('database.types.ts with supabase-js', () => {
  it('types rows: non-null columns plainly, nullable ones with | null', () => {
    expectTypeOf<Tables<'conversations'>['message_count']>().toEqualTypeOf<number>();
    expectTypeOf<Tables<'conversations'>['version']>().toEqualTypeOf<number>();
    expectTypeOf<Tables<'conversations'>['title']>().toEqualTypeOf<string | null>();
    expectTypeOf<Tables<'messages'>['metadata']>().toEqualTypeOf<Json | null>();
    expectTypeOf<Tables<'messages'>['timestamp']>().toEqualTypeOf<string>();
    expectTypeOf<Tables<'memories'>['importance_score']>().toEqualTypeOf<number>();
  });

  it('requires exactly the columns without default that are not nullable on insert', () => {
    expectTypeOf<RequiredKeys<TablesInsert<'messages'>>>().toEqualTypeOf<'content' | 'role'>();
    expectTypeOf<RequiredKeys<TablesInsert<'memories'>>>().toEqualTypeOf<'content'>();
    expectTypeOf<RequiredKeys<TablesInsert<'conversations'>>>().toEqualTypeOf<never>();
    expectTypeOf<RequiredKeys<TablesUpdate<'messages'>>>().toEqualTypeOf<never>();
  });

  it('types queries made through createClient<Database>', () => {
    // Only the types are checked: nothing here is called (a client needs a WebSocket on Node 20).
    type Client = ReturnType<typeof client>;
    const list = (supabase: Client) => supabase.from('conversations').select('id, title, message_count');
    type ListData = NonNullable<Awaited<ReturnType<typeof list>>['data']>;
    expectTypeOf<ListData[number]>().toEqualTypeOf<{ id: string; title: string | null; message_count: number }>();

    // The composite foreign key (conversation_id, user_id) makes messages embed their conversation.
    const embedded = (supabase: Client) => supabase.from('messages').select('id, conversations(title)').single();
    type EmbeddedData = NonNullable<Awaited<ReturnType<typeof embedded>>['data']>;
    expectTypeOf<EmbeddedData['conversations']>().toEqualTypeOf<{ title: string | null } | null>();

    const typeErrorsOnly = (supabase: Client) => {
      supabase.from('messages').insert({ role: 'user', content: 'hi' });
      supabase.from('messages').insert({ role: 'user', content: 'hi', metadata: { source: 'watch' } });
      supabase.from('conversations').update({ title: null });
      // @ts-expect-error content is required
      supabase.from('messages').insert({ role: 'user' });
      // @ts-expect-error role is required
      supabase.from('messages').insert({ content: 'hi' });
      // @ts-expect-error message_count is a number
      supabase.from('conversations').update({ message_count: '3' });
      // @ts-expect-error there is no such column
      supabase.from('memories').update({ importance: 1 });
      // @ts-expect-error there is no such table
      supabase.from('no_such_table').select('*');
    };
    expect(typeof typeErrorsOnly).toBe('function');
  });

  it('exports the Constants object for every generated schema', () => {
    expect(Object.keys(Constants).sort()).toEqual(['graphql_public', 'public']);
    expectTypeOf<keyof Database>().toEqualTypeOf<'graphql_public' | 'public'>();
  });
});
