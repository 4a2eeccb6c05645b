-- sluice:view name=posts version=1 local-ahead=yes
-- Public SSB posts, one row per message, with the thread each belongs to.
-- Keyed by seq, so the order entries arrive in does not matter: local
-- entries may be applied ahead of a backlog.

-- sluice:schema
CREATE TABLE posts(
  seq    INTEGER PRIMARY KEY,
  key    TEXT NOT NULL,
  author TEXT NOT NULL,
  ts     REAL,
  text   TEXT,
  root   TEXT
);

-- sluice:indexes
CREATE INDEX posts_author_ts ON posts(author, ts);
CREATE INDEX posts_root ON posts(root) WHERE root IS NOT NULL;

-- sluice:apply
INSERT INTO posts(seq, key, author, ts, text, root)
SELECT :seq,
       json_extract(:payload, '$.key'),
       json_extract(:payload, '$.value.author'),
       json_extract(:payload, '$.value.timestamp'),
       json_extract(:payload, '$.value.content.text'),
       json_extract(:payload, '$.value.content.root')
WHERE json_type(:payload, '$.value.content') = 'object'
  AND json_extract(:payload, '$.value.content.type') = 'post';
