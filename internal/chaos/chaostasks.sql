-- sluice:view name=chaostasks version=1 local-ahead=yes
-- The chaos suite's task workload: a task of kind chaos.set or chaos.flaky
-- with payload {"key": K, "v": N, "reject": B} sets item K to N. On the
-- device that sends it the row shows at once, optimistic (authority 0);
-- the server's result makes it authoritative (1) on every device of the
-- user; a task the server fails (reject: true) or one cancelled removes its
-- optimistic row. Keys are unique per task, and a row is replaced only by
-- a higher authority or, at the same authority, a later entry: the table
-- is the same whatever order entries come in.

-- sluice:schema
CREATE TABLE items(
  key       TEXT PRIMARY KEY,
  v         INTEGER NOT NULL,
  authority INTEGER NOT NULL,
  task      TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  scope     TEXT NOT NULL
);

-- sluice:optimistic chaos.set
INSERT INTO items(key, v, authority, task, seq, scope)
SELECT json_extract(:payload, '$.key'), json_extract(:payload, '$.v'), :authority, :task, :seq, :scope
WHERE json_type(:payload, '$.key') = 'text'
ON CONFLICT (key) DO UPDATE SET v = excluded.v, authority = excluded.authority, task = excluded.task, seq = excluded.seq, scope = excluded.scope
  WHERE excluded.authority > items.authority OR (excluded.authority = items.authority AND excluded.seq > items.seq);

-- sluice:result chaos.set
INSERT INTO items(key, v, authority, task, seq, scope)
SELECT json_extract(:payload, '$.key'), json_extract(:payload, '$.v'), :authority, :task, :seq, :scope
WHERE json_type(:payload, '$.key') = 'text'
ON CONFLICT (key) DO UPDATE SET v = excluded.v, authority = excluded.authority, task = excluded.task, seq = excluded.seq, scope = excluded.scope
  WHERE excluded.authority > items.authority OR (excluded.authority = items.authority AND excluded.seq > items.seq);

-- sluice:rollback chaos.set
DELETE FROM items WHERE task = :task AND authority = 0;

-- sluice:check chaos.set
SELECT 'rejected by the chaos check' WHERE json_extract(:payload, '$.reject');

-- sluice:optimistic chaos.flaky
INSERT INTO items(key, v, authority, task, seq, scope)
SELECT json_extract(:payload, '$.key'), json_extract(:payload, '$.v'), :authority, :task, :seq, :scope
WHERE json_type(:payload, '$.key') = 'text'
ON CONFLICT (key) DO UPDATE SET v = excluded.v, authority = excluded.authority, task = excluded.task, seq = excluded.seq, scope = excluded.scope
  WHERE excluded.authority > items.authority OR (excluded.authority = items.authority AND excluded.seq > items.seq);

-- sluice:result chaos.flaky
INSERT INTO items(key, v, authority, task, seq, scope)
SELECT json_extract(:payload, '$.key'), json_extract(:payload, '$.v'), :authority, :task, :seq, :scope
WHERE json_type(:payload, '$.key') = 'text'
ON CONFLICT (key) DO UPDATE SET v = excluded.v, authority = excluded.authority, task = excluded.task, seq = excluded.seq, scope = excluded.scope
  WHERE excluded.authority > items.authority OR (excluded.authority = items.authority AND excluded.seq > items.seq);

-- sluice:rollback chaos.flaky
DELETE FROM items WHERE task = :task AND authority = 0;

-- sluice:check chaos.flaky
SELECT 'rejected by the chaos check' WHERE json_extract(:payload, '$.reject');
