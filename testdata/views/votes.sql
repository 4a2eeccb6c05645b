-- sluice:view name=votes version=1 local-ahead=yes
-- Each author's latest vote on each message, and a SQL view counting likes.
-- "Latest" means highest seq, and an update only wins over a lower seq, so
-- the result is the same whatever order entries are applied in.

-- sluice:schema
CREATE TABLE votes(
  voter      TEXT NOT NULL,
  target     TEXT NOT NULL,
  value      INTEGER,
  expression TEXT,
  seq        INTEGER NOT NULL,
  PRIMARY KEY (voter, target)
);
CREATE VIEW vote_counts AS
  SELECT target, count(*) AS likes FROM votes WHERE value > 0 GROUP BY target;

-- sluice:indexes
CREATE INDEX votes_target ON votes(target);

-- sluice:apply
INSERT INTO votes(voter, target, value, expression, seq)
SELECT json_extract(:payload, '$.value.author'),
       json_extract(:payload, '$.value.content.vote.link'),
       json_extract(:payload, '$.value.content.vote.value'),
       json_extract(:payload, '$.value.content.vote.expression'),
       :seq
WHERE json_type(:payload, '$.value.content') = 'object'
  AND json_extract(:payload, '$.value.content.type') = 'vote'
  AND json_type(:payload, '$.value.content.vote.link') = 'text'
ON CONFLICT (voter, target) DO UPDATE
  SET value = excluded.value, expression = excluded.expression, seq = excluded.seq
  WHERE excluded.seq > votes.seq;
