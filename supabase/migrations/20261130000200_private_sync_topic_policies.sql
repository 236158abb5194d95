-- Chapter 16: who may join a private topic, and what they may do there.
--
-- The Realtime server decides at join, once per channel and again on each new access token: in a
-- transaction it sets the subscriber's role, claims and `realtime.topic`, then probes these policies
-- per extension (a read probe for broadcast and presence, an insert for each) and rolls back.
-- Delivery then fans out by topic without asking the database again, so a change costs the same
-- however many people are subscribed.
--
-- A signed-in person may receive (select) broadcast and presence on their own topic
-- `virgil-sync-<own id>` and nothing else, and may send (insert) broadcast and presence only there,
-- so their devices can share typing state and which of them are online. anon has no policy, so it
-- may do neither. The row's own topic must be the topic being authorized too, so reading the table
-- directly never shows another topic's messages.

create policy "Users receive broadcast and presence on their own sync topic"
  on realtime.messages for select to authenticated
  using (
    realtime.messages.extension in ('broadcast', 'presence')
    and realtime.messages.topic = (select realtime.topic())
    and (select realtime.topic()) = 'virgil-sync-' || (select auth.uid())::text
  );

create policy "Users send broadcast and presence on their own sync topic"
  on realtime.messages for insert to authenticated
  with check (
    realtime.messages.extension in ('broadcast', 'presence')
    and realtime.messages.topic = (select realtime.topic())
    and (select realtime.topic()) = 'virgil-sync-' || (select auth.uid())::text
  );
