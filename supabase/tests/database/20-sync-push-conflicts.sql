-- sync_push decides every item as the caller, atomically: creates, patches, replays from receipts,
-- last-write-wins and compare-and-set conflicts, tombstones, and per-item rejections that leave the
-- rest of the batch applied.
begin;
select plan(21);

select tests.create_user('ada');
select tests.authenticate_as('ada');
select tests.rls_applies();

-- Create, in order -------------------------------------------------------------------------------
select results_eq(
  $$ select r ->> 'status' from jsonb_array_elements(public.sync_push('[
       {"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000001",
        "client_updated_at": "2026-01-01T10:00:00Z", "fields": {"title": "Trip"}},
       {"table": "messages", "op": "upsert", "local_id": "m", "change_id": "00000000-0000-4000-8000-000000000002",
        "client_updated_at": "2026-01-01T10:00:01Z", "fields": {"conversation_local_id": "c", "role": "user", "content": "hi"}}
     ]'::jsonb)) r $$,
  array['applied', 'applied'],
  'a conversation and its first message apply together, in the order sent');
select results_eq($$ select message_count, version from public.conversations where local_id = 'c' $$,
  $$ values (1, 2::bigint) $$, 'the message is counted once');
select results_eq($$ select edited_at, change_id from sync.changes c join public.conversations v on v.id = c.row_id where v.local_id = 'c' $$,
  $$ values ('2026-01-01T10:00:00Z'::timestamptz, '00000000-0000-4000-8000-000000000001'::uuid) $$,
  'the change log keeps the device''s edit time and change id, not the message_count bump''s');

-- Replays ----------------------------------------------------------------------------------------
select is(
  public.sync_push('[{"table": "messages", "op": "upsert", "local_id": "m", "change_id": "00000000-0000-4000-8000-000000000002",
     "client_updated_at": "2026-01-01T10:00:01Z", "fields": {"conversation_local_id": "c", "role": "user", "content": "hi"}}]'::jsonb) -> 0 ->> 'status',
  'applied', 'a replayed item answers as it did the first time');
select results_eq($$ select message_count, version from public.conversations where local_id = 'c' $$,
  $$ values (1, 2::bigint) $$, 'and changes nothing: no second message, no version bump');
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "other", "change_id": "00000000-0000-4000-8000-000000000001",
     "client_updated_at": "2026-01-01T10:00:00Z", "fields": {"title": "x"}}]'::jsonb) -> 0 ->> 'reason',
  'invalid_item', 'a change_id cannot be reused for another row');

-- Last write wins --------------------------------------------------------------------------------
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000003",
     "client_updated_at": "2026-01-01T09:00:00Z", "base_version": 1, "fields": {"title": "older edit"}}]'::jsonb) -> 0 ->> 'status',
  'conflict', 'an edit of an old version that is older than the last edit loses');
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000004",
     "client_updated_at": "2026-01-01T09:00:00Z", "base_version": 1, "fields": {"title": "older edit"}}]'::jsonb) -> 0 -> 'row' ->> 'title',
  'Trip', 'the loser gets the server''s current row back');
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000005",
     "client_updated_at": "2026-01-01T11:00:00Z", "base_version": 1, "fields": {"title": "newer edit"}}]'::jsonb) -> 0 ->> 'status',
  'applied', 'an edit of an old version that is newer than the last edit wins');
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000000",
     "client_updated_at": "2026-01-01T11:00:00Z", "base_version": 2, "fields": {"title": "tie, smaller change id"}}]'::jsonb) -> 0 ->> 'status',
  'conflict', 'at equal edit times the larger change_id wins, so the tie is decided the same way everywhere');
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000006",
     "client_updated_at": "2000-01-01T00:00:00Z", "base_version": 3, "fields": {"title": "based on the current version"}}]'::jsonb) -> 0 ->> 'status',
  'applied', 'an edit of the current version applies whatever the device''s clock says');

-- Compare-and-set --------------------------------------------------------------------------------
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000007",
     "client_updated_at": "2030-01-01T00:00:00Z", "base_version": 3, "mode": "cas", "fields": {"title": "stale cas"}}]'::jsonb) -> 0 ->> 'status',
  'conflict', 'cas: a stale base_version loses, however late the edit');
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000008",
     "client_updated_at": "2000-01-01T00:00:00Z", "base_version": 4, "mode": "cas", "fields": {"title": "current cas"}}]'::jsonb) -> 0 ->> 'version',
  '5', 'cas: the current base_version wins');

-- Tombstones -------------------------------------------------------------------------------------
select is(
  public.sync_push('[{"table": "conversations", "op": "delete", "local_id": "c", "change_id": "00000000-0000-4000-8000-000000000009",
     "client_updated_at": "2026-06-01T00:00:00Z", "base_version": 5}]'::jsonb) -> 0 ->> 'status',
  'applied', 'a delete of the current version applies');
select results_eq(
  $$ select table_name, deleted from sync.changes where user_id = tests.uid('ada') order by table_name $$,
  $$ values ('conversations', true), ('messages', true) $$,
  'the conversation and, through the cascade, its message leave tombstones');
select is(
  public.sync_push('[{"table": "conversations", "op": "upsert", "local_id": "c", "change_id": "00000000-0000-4000-8000-00000000000a",
     "client_updated_at": "2026-05-01T00:00:00Z", "base_version": 5, "fields": {"title": "edited before the delete"}}]'::jsonb) -> 0 ->> 'deleted',
  'true', 'an edit older than the delete does not bring the row back: conflict, deleted');

-- Rejections -------------------------------------------------------------------------------------
select results_eq(
  $$ select r ->> 'status', r ->> 'reason' from jsonb_array_elements(public.sync_push('[
       {"table": "messages", "op": "upsert", "local_id": "x1", "change_id": "00000000-0000-4000-8000-00000000000b",
        "client_updated_at": "2026-01-01T10:00:00Z", "fields": {"conversation_local_id": "nowhere", "role": "user", "content": "lost"}},
       {"table": "memories", "op": "upsert", "local_id": "x2", "change_id": "00000000-0000-4000-8000-00000000000c",
        "client_updated_at": "2026-01-01T10:00:00Z", "fields": {"content": "kept"}},
       {"table": "memories", "op": "upsert", "local_id": "x3", "change_id": "00000000-0000-4000-8000-00000000000d",
        "client_updated_at": "2026-01-01T10:00:00Z", "fields": {"content": "bad score", "importance_score": 7}},
       {"table": "memories", "op": "upsert", "local_id": "x4", "change_id": "00000000-0000-4000-8000-00000000000e",
        "client_updated_at": "2026-01-01T10:00:00Z", "fields": {"content": "x", "user_id": "00000000-0000-0000-0000-000000000000"}},
       {"table": "auth.users", "op": "delete", "local_id": "x5", "change_id": "00000000-0000-4000-8000-00000000000f",
        "client_updated_at": "2026-01-01T10:00:00Z"}
     ]'::jsonb)) r $$,
  $$ values ('rejected', 'reference_not_found'), ('applied', null), ('rejected', 'constraint_violated'),
            ('rejected', 'invalid_item'), ('rejected', 'invalid_item') $$,
  'bad items are rejected with a reason, one by one, and the good one still applies');
select results_eq($$ select local_id from public.memories order by local_id $$, array['x2'],
  'only the good item was written');

-- Who may call it --------------------------------------------------------------------------------
select tests.authenticate_as_anon();
select throws_ok($$ select public.sync_push('[]'::jsonb) $$, '42501', 'permission denied for function sync_push',
  'a visitor cannot push');
select tests.authenticate_as_service_role();
select throws_ok($$ select public.sync_push('[]'::jsonb) $$, '42501', 'sync_push needs a signed-in user',
  'the service role cannot push on anyone''s behalf');

select * from finish();
rollback;
