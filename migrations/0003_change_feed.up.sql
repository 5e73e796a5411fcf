-- drover: skip on cockroachdb, pglite
--
-- The change feed (bmdb/change_feed.ts): triggers send a NOTIFY on channel
-- drover_bmdb_change when a table behind the dashboard's live values changes.
-- The payload is the table, then the machine for rows that belong to one:
-- `work_slot:<machine_id>`, `work_backoff:<machine_id>`, `machines`, `sessions`.
--
-- The line above makes bmdb/migrate.ts record this file without running it
-- on CockroachDB, which has no LISTEN/NOTIFY (nor statement-level triggers):
-- there the feed polls instead (bmdb/change_poller.ts); and on PGlite, which
-- is one backend in the feed's own process: its driver reports the same
-- changes from the statements it runs (bmdb/written_tables.ts), because
-- the triggers would cost PGlite about 10% of its claim-and-finish throughput.
--
-- What it costs, and why it has this shape: claims and commits are the hot
-- path, and a transaction that notifies takes a cluster-wide lock from its
-- commit until its commit record is flushed. So only the tables the live
-- values show have triggers (not work_history, not the tags). The hot tables
-- (work_slot, work_backoff) have row-level triggers: they cost nothing when a
-- statement changes no row of them (every finish runs a DELETE on
-- work_backoff that usually deletes nothing) and one plain pg_notify per row
-- that changed. Measured against no triggers (bench fleet, fsync on, paired
-- runs): throughput within noise (x1.02 / x0.98 / x0.98 at 1 / 4 / 16
-- workers), server CPU +1.5-5% per unit. Statement-level triggers with
-- transition tables cost far more on these tables (x0.90 / x0.83 at 1 / 4
-- workers, server CPU +20-30%): each runs a query over its transition table,
-- and a claim's INSERT ... ON CONFLICT DO UPDATE fires two of them.
-- The cold tables (machines, sessions) have one statement-level trigger per
-- event, so seeding 100,000 machines or reaping many sessions sends one
-- notification, and heartbeats (UPDATE of sessions) send none.
--
-- ONCHANGE(bmdb/driver.ts): the channel name and the payload format.
-- ONCHANGE(bmdb/written_tables.ts): the tables and events that count.

CREATE FUNCTION drover_notify_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('drover_bmdb_change', TG_TABLE_NAME || ':' || OLD.machine_id);
    ELSE
        PERFORM pg_notify('drover_bmdb_change', TG_TABLE_NAME || ':' || NEW.machine_id);
    END IF;
    RETURN NULL;
END
$$;

-- Statement-level: every trigger using it names its transition table `changed`.
CREATE FUNCTION drover_notify_table_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM pg_notify('drover_bmdb_change', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER work_slot_notify AFTER INSERT OR UPDATE OR DELETE ON work_slot
    FOR EACH ROW EXECUTE FUNCTION drover_notify_row_change();
CREATE TRIGGER work_backoff_notify AFTER INSERT OR UPDATE OR DELETE ON work_backoff
    FOR EACH ROW EXECUTE FUNCTION drover_notify_row_change();

-- A trigger with a transition table serves one event, hence two per table.
CREATE TRIGGER machines_notify_insert AFTER INSERT ON machines
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION drover_notify_table_change();
CREATE TRIGGER machines_notify_delete AFTER DELETE ON machines
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION drover_notify_table_change();
CREATE TRIGGER sessions_notify_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION drover_notify_table_change();
CREATE TRIGGER sessions_notify_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION drover_notify_table_change();
