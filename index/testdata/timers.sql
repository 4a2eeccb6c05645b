-- sluice:view name=timers version=1
-- Who has a timer running, and a check that refuses a second one: the
-- seed's START/START problem. Entries: {"op":"start"|"stop"|"rejected",
-- "owner":..., "device":...}.

-- sluice:schema
CREATE TABLE timers(owner TEXT PRIMARY KEY, running INTEGER NOT NULL, device TEXT, seq INTEGER NOT NULL);

-- sluice:apply
INSERT INTO timers(owner, running, device, seq)
SELECT json_extract(:payload, '$.owner'), json_extract(:payload, '$.op') = 'start', json_extract(:payload, '$.device'), :seq
WHERE json_extract(:payload, '$.op') IN ('start', 'stop')
ON CONFLICT(owner) DO UPDATE SET running = excluded.running, device = excluded.device, seq = excluded.seq;

-- sluice:check timer.start
SELECT 'a timer is already running on ' || device FROM timers WHERE owner = :scope AND running = 1;
