-- Demo data for a fresh `supabase db reset`: two people, Ada and Ben, each with a few conversations,
-- messages and memories. Both can sign in on a full Supabase stack with the password
-- `virgil-demo-password`. Runs as postgres, after the migrations.

-- The users, shaped as GoTrue writes them (token columns '' rather than null, which GoTrue cannot
-- read), each with an email identity so that password sign-in works.
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  confirmation_token, recovery_token, email_change_token_new, email_change
)
values
  ('00000000-0000-0000-0000-000000000000', 'a0a0a0a0-0000-4000-8000-000000000001', 'authenticated',
   'authenticated', 'ada@virgil.test', extensions.crypt('virgil-demo-password', extensions.gen_salt('bf')),
   now(), '{"provider": "email", "providers": ["email"]}', '{"name": "Ada"}', now(), now(), '', '', '', ''),
  ('00000000-0000-0000-0000-000000000000', 'b0b0b0b0-0000-4000-8000-000000000002', 'authenticated',
   'authenticated', 'ben@virgil.test', extensions.crypt('virgil-demo-password', extensions.gen_salt('bf')),
   now(), '{"provider": "email", "providers": ["email"]}', '{"name": "Ben"}', now(), now(), '', '', '', '');

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select u.id::text, u.id,
       jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true, 'phone_verified', false),
       'email', now(), now(), now()
from auth.users u
where u.id in ('a0a0a0a0-0000-4000-8000-000000000001', 'b0b0b0b0-0000-4000-8000-000000000002');

-- Ada: a trip she is planning and a recipe question.
insert into public.conversations (id, user_id, local_id, title, created_at) values
  ('a1000000-0000-4000-8000-000000000001', 'a0a0a0a0-0000-4000-8000-000000000001', 'ada-laptop-1', 'Lisbon in May', now() - interval '3 days'),
  ('a1000000-0000-4000-8000-000000000002', 'a0a0a0a0-0000-4000-8000-000000000001', 'ada-phone-1', 'Sourdough starter', now() - interval '1 day');

insert into public.messages (user_id, conversation_id, local_id, role, content, "timestamp") values
  ('a0a0a0a0-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'ada-m-1', 'user',
   'I''m going to Lisbon from May 12 to 18. Remember that I don''t eat meat.', now() - interval '3 days'),
  ('a0a0a0a0-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'ada-m-2', 'assistant',
   'Noted: Lisbon, May 12 to 18, vegetarian. Want a list of vegetarian places in Alfama?', now() - interval '3 days' + interval '5 seconds'),
  ('a0a0a0a0-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'ada-m-3', 'user',
   'Yes please, and something near the river.', now() - interval '3 days' + interval '1 minute'),
  ('a0a0a0a0-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000002', 'ada-m-4', 'user',
   'My starter smells like nail polish. Is it dead?', now() - interval '1 day'),
  ('a0a0a0a0-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000002', 'ada-m-5', 'assistant',
   'Not dead, just hungry: that smell is acetone from a starving starter. Feed it twice a day for a few days.', now() - interval '1 day' + interval '4 seconds');

insert into public.memories (user_id, local_id, content, context, importance_score, tag) values
  ('a0a0a0a0-0000-4000-8000-000000000001', 'ada-mem-1', 'Ada is vegetarian.', 'Said while planning Lisbon', 0.9, 'preference'),
  ('a0a0a0a0-0000-4000-8000-000000000001', 'ada-mem-2', 'Ada travels to Lisbon May 12 to 18.', 'Trip planning', 0.8, 'plan'),
  ('a0a0a0a0-0000-4000-8000-000000000001', 'ada-mem-3', 'Ada bakes sourdough.', 'Asked about her starter', 0.5, 'hobby');

-- Ben: training for a race.
insert into public.conversations (id, user_id, local_id, title, created_at) values
  ('b1000000-0000-4000-8000-000000000001', 'b0b0b0b0-0000-4000-8000-000000000002', 'ben-phone-1', 'Half marathon plan', now() - interval '2 days');

insert into public.messages (user_id, conversation_id, local_id, role, content, "timestamp") values
  ('b0b0b0b0-0000-4000-8000-000000000002', 'b1000000-0000-4000-8000-000000000001', 'ben-m-1', 'system',
   'Virgil is a concise running coach.', now() - interval '2 days'),
  ('b0b0b0b0-0000-4000-8000-000000000002', 'b1000000-0000-4000-8000-000000000001', 'ben-m-2', 'user',
   'My half marathon is on October 5th. I can run four days a week.', now() - interval '2 days' + interval '1 second'),
  ('b0b0b0b0-0000-4000-8000-000000000002', 'b1000000-0000-4000-8000-000000000001', 'ben-m-3', 'assistant',
   'Twelve weeks out: three easy runs and one long run a week, building the long run by 1 km weekly.', now() - interval '2 days' + interval '6 seconds');

insert into public.memories (user_id, local_id, content, context, importance_score, tag) values
  ('b0b0b0b0-0000-4000-8000-000000000002', 'ben-mem-1', 'Ben''s half marathon is on October 5th.', 'Training plan', 0.9, 'goal'),
  ('b0b0b0b0-0000-4000-8000-000000000002', 'ben-mem-2', 'Ben can run four days a week.', 'Training plan', 0.6, 'constraint');
