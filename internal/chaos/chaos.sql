-- sluice:view name=chaos version=1 local-ahead=yes
-- The chaos suite's workload: one row per entry it appended, on the node
-- that appended it and on every node it was replicated to. Keyed by seq,
-- so the order entries are applied in does not matter.

-- sluice:schema
CREATE TABLE entries(
  seq    INTEGER PRIMARY KEY,
  origin TEXT NOT NULL,
  src    TEXT NOT NULL,
  n      INTEGER NOT NULL,
  scope  TEXT
);

-- sluice:apply
INSERT INTO entries(seq, origin, src, n, scope)
SELECT :seq, :origin, json_extract(:payload, '$.chaos'), json_extract(:payload, '$.n'), json_extract(:payload, '$.scope')
WHERE json_type(:payload, '$.chaos') = 'text';
