-- drover: skip on cockroachdb, pglite
--
-- Claims and releases stop sending NOTIFY from the BMDB's work pool.
--
-- PostgreSQL holds one cluster-wide lock for a transaction that sent NOTIFY
-- from its commit until its commit record is flushed (notifications are queued
-- in commit order). Every claim and every release changes work_slot, so with
-- the row trigger of 0003 the workers' commits, and their WAL flushes, went one
-- at a time: at 4 workers about 60% of the busy backends' time waited on that
-- lock, and without it the bench made 22% more units/s (bench/README.md).
--
-- Every statement of the work pool that claims or releases a slot, or writes a
-- backoff, also writes work_history, so the change feed learns of them by
-- watching history (bmdb/change_poller.ts) instead. The pool's connections say
-- so with the setting below (bmdb/driver_postgres.ts); any other writer (the
-- janitor on the control pool, an operator in psql) still notifies. A cancel
-- request changes a slot without a history row, so a work_slot update that
-- keeps its holder still notifies from everywhere.
--
-- ONCHANGE(bmdb/driver_postgres.ts): the setting's name.

CREATE OR REPLACE FUNCTION drover_notify_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('drover.work_changes_in_history', true) = 'on' THEN
        -- (Nested: PL/pgSQL does not short-circuit, and work_backoff has no session_id.)
        IF TG_OP <> 'UPDATE' OR TG_TABLE_NAME <> 'work_slot' THEN
            RETURN NULL;
        END IF;
        IF OLD.session_id IS DISTINCT FROM NEW.session_id THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('drover_bmdb_change', TG_TABLE_NAME || ':' || OLD.machine_id);
    ELSE
        PERFORM pg_notify('drover_bmdb_change', TG_TABLE_NAME || ':' || NEW.machine_id);
    END IF;
    RETURN NULL;
END
$$;
