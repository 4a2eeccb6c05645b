-- sluice:view name=activity version=1 local-ahead=yes
-- How many times each kind of action was taken (the example app of
-- package sluice, example_test.go). Counting does not depend on order.
-- sluice:schema
CREATE TABLE activity(op TEXT PRIMARY KEY, n INTEGER NOT NULL);
-- sluice:apply
INSERT INTO activity(op, n) SELECT json_extract(:payload, '$.op'), 1
WHERE json_extract(:payload, '$.op') IS NOT NULL
ON CONFLICT(op) DO UPDATE SET n = n + 1;
