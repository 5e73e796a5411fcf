-- drover: skip on cockroachdb
--
-- The agent-start walk's probe "no agent started on this machine" goes to a
-- hash index with a low fillfactor, and only there.
--
-- Under SERIALIZABLE, a probe for a key that is not there takes a predicate
-- lock on the index page where the key would be, and an insert onto that page
-- by a concurrent transaction is a read-write conflict. Every claim's walk
-- probes machine_agent_started for its candidates and every agent-start finish
-- inserts a row, so on the primary key's few leaf pages (11 in the bench) the
-- two met all the time: once commits overlapped (0006), about 2 in 100 units
-- failed and were retried. A hash index WITH (fillfactor = 10) spreads the
-- same keys over many more bucket pages: 0.1 in 100 (bench/README.md).
--
-- The planner chose between the primary key and the hash index by estimated
-- cost, and flipped between them as the table's statistics changed (an
-- index-only scan of the primary key looks cheaper right after a VACUUM).
-- So the primary key gives way to a unique index the probes cannot use: it is
-- partial, on a predicate every row meets (agent_started_at is NOT NULL) but
-- that the planner cannot prove from a probe's `machine_id = ...`. It still
-- enforces one row per machine and is the arbiter of the tag's upsert, which
-- names it: `ON CONFLICT (machine_id) WHERE agent_started_at IS NOT NULL`
-- (bmdb/queries_tags.ts; a plain primary key, as on CockroachDB, also matches
-- that clause). tests/bmdb/agent_started_probe_test.ts checks the walk's plan.
--
-- Size: about 4 MB of hash index per 10,000 machines with an agent started.
--
-- ONCHANGE(bmdb/queries_tags.ts): the upsert's conflict clause.

CREATE UNIQUE INDEX machine_agent_started_one_per_machine ON machine_agent_started (machine_id)
    WHERE agent_started_at IS NOT NULL;
ALTER TABLE machine_agent_started DROP CONSTRAINT machine_agent_started_pkey;
CREATE INDEX machine_agent_started_machine_hash ON machine_agent_started USING hash (machine_id)
    WITH (fillfactor = 10);
