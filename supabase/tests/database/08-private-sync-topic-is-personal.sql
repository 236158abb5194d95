-- Ada and Ben each have a private topic, virgil-sync-<id>. The policies on realtime.messages are
-- asked exactly as the Realtime server asks them at join (lib/realtime/tenants/authorization.ex):
-- probe rows are written by the server's own connection, then, in the same transaction, the role,
-- the claims and `realtime.topic` are set locally and the probes are read back under RLS (read
-- access), and a row is inserted under RLS (write access); the server then rolls back.
begin;
select plan(16);

select tests.create_user('ada');
select tests.create_user('ben');

-- The server's read probe for one topic and extension: true when the subscriber may receive.
create function pg_temp.may_receive(who text, topic text, ext text) returns boolean language plpgsql as $$
declare
  probe uuid := gen_random_uuid();
  seen boolean;
begin
  reset role;
  insert into realtime.messages (id, topic, extension) values (probe, topic, ext);
  if who = 'anon' then perform tests.authenticate_as_anon(); else perform tests.authenticate_as(who); end if;
  perform set_config('realtime.topic', topic, true);
  select exists (select 1 from realtime.messages where id = probe) into seen;
  reset role;
  delete from realtime.messages where id = probe;
  return seen;
end;
$$;

-- The server's write probe: true when the insert passes the policies.
create function pg_temp.may_send(who text, topic text, ext text) returns boolean language plpgsql as $$
begin
  if who = 'anon' then perform tests.authenticate_as_anon(); else perform tests.authenticate_as(who); end if;
  perform set_config('realtime.topic', topic, true);
  begin
    insert into realtime.messages (topic, extension) values (topic, ext);
    raise exception using errcode = 'P0001', message = 'probe ok';
  exception
    when insufficient_privilege then reset role; return false;
    when raise_exception then reset role; return true;  -- rolled back, as the server does
  end;
end;
$$;

grant execute on function pg_temp.may_receive(text, text, text), pg_temp.may_send(text, text, text) to anon, authenticated;

-- Ada on her own topic ---------------------------------------------------------------------------
select ok(pg_temp.may_receive('ada', 'virgil-sync-' || tests.uid('ada'), 'broadcast'), 'Ada may receive broadcasts on her own topic');
select ok(pg_temp.may_receive('ada', 'virgil-sync-' || tests.uid('ada'), 'presence'), 'Ada may receive presence on her own topic');
select ok(pg_temp.may_send('ada', 'virgil-sync-' || tests.uid('ada'), 'broadcast'), 'Ada may send broadcasts to her own topic (typing state between her devices)');
select ok(pg_temp.may_send('ada', 'virgil-sync-' || tests.uid('ada'), 'presence'), 'Ada may track presence on her own topic (which of her devices are online)');

-- Ada on Ben's topic -----------------------------------------------------------------------------
select ok(not pg_temp.may_receive('ada', 'virgil-sync-' || tests.uid('ben'), 'broadcast'), 'Ada may not receive Ben''s broadcasts');
select ok(not pg_temp.may_receive('ada', 'virgil-sync-' || tests.uid('ben'), 'presence'), 'Ada may not see Ben''s presence');
select ok(not pg_temp.may_send('ada', 'virgil-sync-' || tests.uid('ben'), 'broadcast'), 'Ada may not send to Ben''s topic');
select ok(not pg_temp.may_send('ada', 'virgil-sync-' || tests.uid('ben'), 'presence'), 'Ada may not track presence on Ben''s topic');

-- Other topics and other extensions ---------------------------------------------------------------
select ok(not pg_temp.may_receive('ada', 'lobby', 'broadcast'), 'Ada may not join any other private topic');
select ok(not pg_temp.may_receive('ada', 'virgil-sync-' || tests.uid('ada') || '-x', 'broadcast'), 'a topic that merely starts with Ada''s is not hers');
select ok(not pg_temp.may_send('ada', 'virgil-sync-' || tests.uid('ada'), 'postgres_changes'), 'only broadcast and presence may be sent, no other extension');

-- A visitor with the anon key --------------------------------------------------------------------
select ok(not pg_temp.may_receive('anon', 'virgil-sync-' || tests.uid('ada'), 'broadcast'), 'anon may not receive on Ada''s topic');
select ok(not pg_temp.may_send('anon', 'virgil-sync-' || tests.uid('ada'), 'broadcast'), 'anon may not send to Ada''s topic');

-- Reading the table directly, with realtime.topic set to her own topic -----------------------------
reset role;
insert into realtime.messages (topic, extension, payload) values ('virgil-sync-' || tests.uid('ben'), 'broadcast', '{"secret": "Ben''s"}');
select tests.authenticate_as('ada');
select set_config('realtime.topic', 'virgil-sync-' || tests.uid('ada'), true);
select is_empty($$ select 1 from realtime.messages where topic = 'virgil-sync-' || tests.uid('ben') $$,
  'Ada cannot read Ben''s messages from the table even with her own topic set');
select set_config('realtime.topic', 'virgil-sync-' || tests.uid('ben'), true);
select is_empty($$ select 1 from realtime.messages where topic = 'virgil-sync-' || tests.uid('ben') $$,
  'nor by setting realtime.topic to Ben''s topic');

-- The policies are written as the project's others ------------------------------------------------
reset role;
select is(
  (select count(*)::integer from pg_policies where schemaname = 'realtime' and tablename = 'messages'
     and roles = '{authenticated}' and (coalesce(qual, with_check) like '%( SELECT auth.uid() AS uid)%')
     and (coalesce(qual, with_check) like '%( SELECT realtime.topic() AS topic)%')),
  2,
  'one select and one insert policy, to authenticated, reading (select auth.uid()) and (select realtime.topic())');

select * from finish();
rollback;
