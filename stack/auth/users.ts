/**
 * auth.users rows and the user object GoTrue answers with (github.com/supabase/auth
 * internal/models/user.go, identity.go): the same fields, names and nulls.
 */
import type { Sql } from 'postgres';

export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  phone: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  phone_confirmed_at: Date | null;
  confirmed_at: Date | null;
  confirmation_sent_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Record<string, unknown> | null;
  raw_user_meta_data: Record<string, unknown> | null;
  created_at: Date | null;
  updated_at: Date | null;
  banned_until: Date | null;
  is_anonymous: boolean;
}

export interface IdentityRow {
  id: string;
  provider_id: string;
  user_id: string;
  identity_data: Record<string, unknown>;
  provider: string;
  last_sign_in_at: Date | null;
  created_at: Date | null;
  updated_at: Date | null;
  email: string | null;
}

const iso = (date: Date | null) => (date ? date.toISOString() : undefined);

export const identityColumns = (sql: Sql) => sql`
  id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at, email`;

/**
 * A user's identities as `json_agg` of `identityColumns` gave them (timestamps as text), for a
 * statement that reads them together with other things.
 */
export function identitiesFromJson(rows: Record<string, unknown>[]): IdentityRow[] {
  const date = (value: unknown) => (typeof value === 'string' ? new Date(value) : null);
  return rows.map((row) => ({
    ...(row as unknown as IdentityRow),
    last_sign_in_at: date(row.last_sign_in_at),
    created_at: date(row.created_at),
    updated_at: date(row.updated_at),
  }));
}

export async function userJson(sql: Sql, user: UserRow): Promise<Record<string, unknown>> {
  const identities = await sql<IdentityRow[]>`
    select ${identityColumns(sql)} from auth.identities where user_id = ${user.id} order by created_at`;
  return userJsonOf(user, identities);
}

/** The user object GoTrue answers with, from the user's row and identities. */
export function userJsonOf(user: UserRow, identities: IdentityRow[]): Record<string, unknown> {
  return {
    id: user.id,
    aud: user.aud ?? '',
    role: user.role ?? '',
    email: user.email ?? '',
    email_confirmed_at: iso(user.email_confirmed_at),
    phone: user.phone ?? '',
    phone_confirmed_at: iso(user.phone_confirmed_at),
    confirmation_sent_at: iso(user.confirmation_sent_at),
    confirmed_at: iso(user.confirmed_at),
    last_sign_in_at: iso(user.last_sign_in_at),
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    identities: identities.map((identity) => ({
      identity_id: identity.id,
      id: identity.provider_id,
      user_id: identity.user_id,
      identity_data: identity.identity_data,
      provider: identity.provider,
      last_sign_in_at: iso(identity.last_sign_in_at),
      created_at: iso(identity.created_at),
      updated_at: iso(identity.updated_at),
      email: identity.email ?? undefined,
    })),
    created_at: iso(user.created_at),
    updated_at: iso(user.updated_at),
    banned_until: iso(user.banned_until),
    is_anonymous: user.is_anonymous,
  };
}

export const userColumns = (sql: Sql) => sql`
  id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at, confirmed_at,
  confirmation_sent_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  banned_until, is_anonymous`;

export async function userById(sql: Sql, id: string): Promise<UserRow | undefined> {
  const [user] = await sql<
    UserRow[]
  >`select ${userColumns(sql)} from auth.users where id = ${id} and deleted_at is null`;
  return user;
}

export async function userByEmail(sql: Sql, email: string): Promise<UserRow | undefined> {
  const [user] = await sql<UserRow[]>`
    select ${userColumns(sql)} from auth.users where lower(email) = lower(${email}) and is_sso_user = false and deleted_at is null`;
  return user;
}

export interface NewUser {
  email: string | null;
  password: string | null;
  bcryptCost: number;
  emailConfirmed: boolean;
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
  anonymous: boolean;
  role?: string;
}

/** Inserts a user and its identity as GoTrue does; the password is hashed by pgcrypto's bcrypt. */
export async function insertUser(sql: Sql, user: NewUser): Promise<UserRow> {
  const id = crypto.randomUUID();
  const provider = user.anonymous ? 'anonymous' : 'email';
  const appMetadata = { provider, providers: [provider], ...user.appMetadata };
  const [row] = await sql<UserRow[]>`
    insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                            raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous,
                            confirmation_token, recovery_token, email_change_token_new, email_change)
    values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', ${user.role ?? 'authenticated'}, ${user.email ? user.email.toLowerCase() : null},
            ${user.password === null ? '' : sql`extensions.crypt(${user.password}, extensions.gen_salt('bf', ${user.bcryptCost}))`},
            ${user.emailConfirmed && user.email ? sql`now()` : null},
            ${sql.json(appMetadata as never)}, ${sql.json(user.userMetadata as never)}, now(), now(), ${user.anonymous}, '', '', '', '')
    returning ${userColumns(sql)}`;
  if (user.email) {
    await sql`
      insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
      values (${id}, ${id}, ${sql.json({ sub: id, email: user.email.toLowerCase(), email_verified: user.emailConfirmed, phone_verified: false } as never)},
              'email', now(), now(), now())`;
  }
  return row!;
}

/** Whether `password` matches the stored bcrypt hash (compared in the database, by pgcrypto). */
export async function passwordMatches(sql: Sql, userId: string, password: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`
    select coalesce(encrypted_password <> '' and extensions.crypt(${password}, encrypted_password) = encrypted_password, false) as ok
    from auth.users where id = ${userId}`;
  return row?.ok ?? false;
}
