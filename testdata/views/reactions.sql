-- sluice:view name=reactions version=1 local-ahead=yes
-- Reactions to messages (seed 000, "What are Optimistic Writes?"). A user
-- reacts with a task of kind reaction.add, payload
-- {"message": "%msg-id", "emoji": "👍"}; the user is the task's scope
-- (e.g. user:7777), which the server vouches for.
--
--   * on the device the reaction shows at once: an optimistic row
--     (authority 0) tagged with the task;
--   * the server's result entry for the task makes it authoritative
--     (authority 1), on every device of the user;
--   * a task the server rejects, or one cancelled before it was sent,
--     removes its optimistic row.
--
-- A row is replaced only by a higher authority, or by the same authority
-- from a later entry (higher seq): so an optimistic row never hides an
-- authoritative one, and the table is the same whatever order entries come
-- in (local-ahead=yes). The server refuses a second reaction of the same
-- emoji by the same user on the same message.

-- sluice:schema
CREATE TABLE reactions(
  message   TEXT NOT NULL,
  user      TEXT NOT NULL,
  emoji     TEXT NOT NULL,
  authority INTEGER NOT NULL, -- 0 optimistic (this device's task, not yet confirmed), 1 authoritative
  task      TEXT NOT NULL,    -- the task that wrote the row: NODE/ID
  seq       INTEGER NOT NULL, -- the entry that wrote it
  PRIMARY KEY (message, user, emoji)
);
CREATE VIEW reaction_counts AS
  SELECT message, emoji, count(*) AS n, min(authority) = 1 AS confirmed
  FROM reactions GROUP BY message, emoji;

-- The server's result for the task writes the same row with :authority 1:
-- a kind with no -- sluice:result section runs these statements for it.
-- sluice:optimistic reaction.add
INSERT INTO reactions(message, user, emoji, authority, task, seq)
SELECT json_extract(:payload, '$.message'), :scope, json_extract(:payload, '$.emoji'), :authority, :task, :seq
WHERE json_type(:payload, '$.message') = 'text' AND json_type(:payload, '$.emoji') = 'text' AND :scope <> ''
ON CONFLICT (message, user, emoji) DO UPDATE
  SET authority = excluded.authority, task = excluded.task, seq = excluded.seq
  WHERE excluded.authority > reactions.authority
     OR (excluded.authority = reactions.authority AND excluded.seq > reactions.seq);

-- sluice:rollback reaction.add
DELETE FROM reactions WHERE task = :task AND authority = 0;

-- sluice:check reaction.add
SELECT 'you already reacted ' || emoji || ' to this message'
FROM reactions
WHERE message = json_extract(:payload, '$.message') AND user = :scope
  AND emoji = json_extract(:payload, '$.emoji') AND authority = 1;
