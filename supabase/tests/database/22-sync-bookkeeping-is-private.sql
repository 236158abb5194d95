-- The sync bookkeeping (schema sync) is out of the Data API's reach, each user reads only their own
-- change log and receipts, and no API role can write the change log or forge a receipt for another.
begin;
select plan(17);

select tests.create_user('ada');
select tests.create_user('ben');

select tests.authenticate_as('ada');
select public.sync_push('[{"table": "memories", "op": "upsert", "local_id": "mem", "change_id": "00000000-0000-4000-8000-0000000000a1",
  "client_updated_at": "2026-01-01T10:00:00Z", "fields": {"content": "Ada is vegetarian"}}]'::jsonb);

select tests.rls_enabled('sync');
select policies_are('sync', 'changes', array['Users can read their own change log'], 'the change log has one policy: read your own');
select policies_are('sync', 'receipts', array['Users can read their own receipts', 'Users can keep receipts of their own'],
  'receipts: read and keep your own');
select table_privs_are('sync', 'changes', 'authenticated', array['SELECT'], 'signed-in users may only read the change log');
select table_privs_are('sync', 'receipts', 'authenticated', array['SELECT', 'INSERT'], 'and only read and add receipts');
select schema_privs_are('sync', 'anon', array[]::text[], 'a visitor cannot use schema sync');

-- Ben ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ben');
select tests.rls_applies();
select is_empty($$ select 1 from sync.changes $$, 'Ben sees nothing of Ada''s change log');
select is_empty($$ select 1 from sync.receipts $$, 'nor of her receipts');
select throws_ok(
  $$ insert into sync.receipts (user_id, change_id, table_name, local_id, status) values (tests.uid('ada'), gen_random_uuid(), 'memories', 'mem', 'applied') $$,
  '42501', 'new row violates row-level security policy for table "receipts"', 'Ben cannot forge a receipt for Ada');
select throws_ok($$ update sync.changes set deleted = true $$, '42501', 'permission denied for table changes',
  'Ben cannot write the change log');
select lives_ok($$ select sync.record_created_rows('[{"table": "memories", "local_id": "mem", "change_id": "00000000-0000-4000-8000-0000000000b1",
  "client_updated_at": "2099-01-01T00:00:00Z"}]'::jsonb) $$, 'Ben may call the set-wise path''s recorder');

-- Ada ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ada');
select tests.rls_applies();
select results_eq($$ select table_name, local_id, deleted from sync.changes $$, $$ values ('memories', 'mem', false) $$,
  'Ada reads her own change-log entry');
select results_eq($$ select status, local_id from sync.receipts $$, $$ values ('applied', 'mem') $$,
  'and her own receipt');
select results_eq($$ select edited_at from sync.changes $$, $$ values ('2026-01-01T10:00:00Z'::timestamptz) $$,
  'but it recorded nothing for Ada: her entry keeps her own edit time');
select throws_ok($$ update sync.changes set edited_at = '2099-01-01' $$, '42501', 'permission denied for table changes',
  'Ada cannot rewrite her change log either');

select * from finish();
rollback;
