-- Chapter 5: who may touch which row. Every rule is the same: a signed-in user, their own rows.
--
-- One policy per operation, each `to authenticated`, so the policies never even run for anon (which
-- has no privileges anyway) and service_role bypasses them as on the platform. `(select auth.uid())`
-- is evaluated once per statement rather than once per row. Updates check the row both before
-- (using) and after (with check); `user_id` itself can never change (private.stamp_row).

-- conversations
create policy "Users can read their own conversations"
  on public.conversations for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users can create conversations of their own"
  on public.conversations for insert to authenticated
  with check (user_id = (select auth.uid()));

create policy "Users can edit their own conversations"
  on public.conversations for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy "Users can delete their own conversations"
  on public.conversations for delete to authenticated
  using (user_id = (select auth.uid()));

-- messages
create policy "Users can read their own messages"
  on public.messages for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users can create messages of their own"
  on public.messages for insert to authenticated
  with check (user_id = (select auth.uid()));

create policy "Users can edit their own messages"
  on public.messages for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy "Users can delete their own messages"
  on public.messages for delete to authenticated
  using (user_id = (select auth.uid()));

-- memories
create policy "Users can read their own memories"
  on public.memories for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users can create memories of their own"
  on public.memories for insert to authenticated
  with check (user_id = (select auth.uid()));

create policy "Users can edit their own memories"
  on public.memories for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy "Users can delete their own memories"
  on public.memories for delete to authenticated
  using (user_id = (select auth.uid()));
