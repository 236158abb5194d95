-- Platform bootstrap, chapter 4: the realtime schema's Broadcast objects, as the Realtime server's
-- own tenant migrations leave them on every project before any user migration runs
-- (https://github.com/supabase/realtime, lib/realtime/tenants/repo/migrations/, exported as
-- priv/repo/tenant_schema/). Our own SQL, written from those files. Runs as supabase_admin.
--
-- What `supabase db reset` does to it: the CLI drops every schema not owned by supabase_admin, every
-- policy in the database and every publication but supabase_realtime*/realtime_messages*. The
-- realtime schema is owned by supabase_admin, so the table, its partitions and the functions stay;
-- the policies on realtime.messages go and come back with the project's migrations.

-- The schema belongs to supabase_admin; the realtime admin may create in it (RestrictRealtimeSchema).
revoke all on schema realtime from supabase_realtime_admin;
grant create, usage on schema realtime to supabase_realtime_admin with grant option;

-- On a project without supautils' policy_grants, postgres is a member of the realtime admin: that is
-- what lets a user migration `create policy … on realtime.messages`.
grant supabase_realtime_admin to postgres;

-- One row per message sent to a topic, partitioned by day. Rows are written by realtime.send (and by
-- the server's authorization probes, inside transactions it rolls back); the Realtime server streams
-- the inserts to the topic's subscribers and drops partitions older than three days.
create table realtime.messages (
  topic          text      not null,
  extension      text      not null,
  payload        jsonb,
  event          text,
  private        boolean   default false,
  updated_at     timestamp not null default now(),
  inserted_at    timestamp not null default now(),
  id             uuid      not null default gen_random_uuid(),
  binary_payload bytea,
  constraint messages_payload_exclusive check (payload is null or binary_payload is null) not valid,
  constraint messages_pkey primary key (id, inserted_at)
) partition by range (inserted_at);

alter table realtime.messages enable row level security;
alter table realtime.messages owner to supabase_realtime_admin;

-- Broadcast Replay reads the newest private broadcasts of a topic through this index.
create index messages_inserted_at_topic_index on only realtime.messages using btree (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;

grant insert, select, update on table realtime.messages to anon, authenticated, service_role;

-- The topic being authorized or sent to; policies on realtime.messages read it.
create function realtime.topic()
  returns text
  language sql
  stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text;
$$;

-- Sends a JSON broadcast. Never fails the caller's transaction: any error (a missing partition, a
-- policy refusing the insert) becomes a WARNING and the message is not sent.
create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
  returns void
  language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    -- The payload carries the message's id unless the caller gave one.
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;
    execute format('SET LOCAL realtime.topic TO %L', topic);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

-- The same for raw bytes (delivered as a binary broadcast).
create function realtime.send_binary(payload bytea, event text, topic text, private boolean default true)
  returns void
  language plpgsql
as $$
declare
  generated_id uuid;
begin
  begin
    generated_id := gen_random_uuid();
    execute format('SET LOCAL realtime.topic TO %L', topic);
    insert into realtime.messages (id, binary_payload, event, topic, private, extension)
    values (generated_id, payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

-- For row triggers: sends {old_record, record, operation, table, schema} as event `event_name`.
create function realtime.broadcast_changes(
  topic_name text,
  event_name text,
  operation text,
  table_name text,
  table_schema text,
  new record,
  old record,
  level text default 'ROW'::text
)
  returns void
  language plpgsql
as $$
declare
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
    row_data := jsonb_build_object('old_record', old, 'record', new, 'operation', operation, 'table', table_name, 'schema', table_schema);
    perform realtime.send(row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type: %', operation;
  end if;
exception
  when others then
    raise exception 'Failed to process the row: %', sqlerrm;
end;
$$;

alter function realtime.topic() owner to supabase_realtime_admin;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.send_binary(bytea, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text) owner to supabase_realtime_admin;

-- The first partitions, as the server creates them when it connects to a project: yesterday to three
-- days ahead. The local realtime server's janitor (scripts/stack/realtime/janitor.ts) keeps it so.
do $$
declare
  day date;
begin
  for day in select generate_series((now() at time zone 'utc')::date - 1, (now() at time zone 'utc')::date + 3, interval '1 day')::date loop
    execute format('create table if not exists realtime.%I partition of realtime.messages for values from (%L) to (%L)',
      'messages_' || to_char(day, 'YYYY_MM_DD'), day, day + 1);
    execute format('alter table realtime.%I owner to supabase_realtime_admin', 'messages_' || to_char(day, 'YYYY_MM_DD'));
  end loop;
end;
$$;
