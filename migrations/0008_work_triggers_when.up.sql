-- drover: skip on cockroachdb, pglite
--
-- The change-feed triggers of work_slot and work_backoff decide in their WHEN
-- clause, not in PL/pgSQL, that the work pool's claims and releases send
-- nothing (0006: the pool rings its doorbell after the commit instead).
--
-- 0006 made the trigger function return at once for those rows, but every
-- claim, release and backoff still called it: two PL/pgSQL calls and two
-- queued after-trigger events per unit, about 3% of the server's CPU per
-- unit. A row trigger whose WHEN is false queues no event and calls nothing.
-- Measured (2026-12-05, 10k machines, one PostgreSQL, 6 interleaved 8 s runs
-- of each): 1 worker, medians 1,930 units/s with these triggers against 1,871
-- with 0006's (+3%; with the triggers disabled altogether, +3.4%); 4 workers
-- 3,343 against 3,326, within the noise.
--
-- WHEN may name OLD only in an UPDATE trigger, so work_slot's is split: an
-- update that keeps the holder (an operator's cancel request, which writes no
-- history) notifies from every connection, as before. The rule now lives in
-- the WHEN clauses alone: the function goes back to 0003's, which notifies for
-- every row it is called for.
--
-- ONCHANGE(bmdb/driver_postgres.ts): the setting's name.

CREATE OR REPLACE FUNCTION drover_notify_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('drover_bmdb_change', TG_TABLE_NAME || ':' || OLD.machine_id);
    ELSE
        PERFORM pg_notify('drover_bmdb_change', TG_TABLE_NAME || ':' || NEW.machine_id);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER work_slot_notify ON work_slot;
DROP TRIGGER work_backoff_notify ON work_backoff;

CREATE TRIGGER work_slot_notify_insert_delete AFTER INSERT OR DELETE ON work_slot
    FOR EACH ROW
    WHEN (current_setting('drover.work_changes_in_history', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION drover_notify_row_change();
CREATE TRIGGER work_slot_notify_update AFTER UPDATE ON work_slot
    FOR EACH ROW
    WHEN (current_setting('drover.work_changes_in_history', true) IS DISTINCT FROM 'on'
        OR OLD.session_id IS NOT DISTINCT FROM NEW.session_id)
    EXECUTE FUNCTION drover_notify_row_change();
CREATE TRIGGER work_backoff_notify AFTER INSERT OR UPDATE OR DELETE ON work_backoff
    FOR EACH ROW
    WHEN (current_setting('drover.work_changes_in_history', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION drover_notify_row_change();
