-- Lighter writes on the two tables every claim and every commit write.
--
-- PostgreSQL re-parses and re-plans a table's CHECK expressions for every
-- statement that writes it; on work_slot and work_history that cost about
-- 80 µs of server CPU per claim and finish (7% of the total), more than the
-- checks are worth: only the BMDB writes these tables, and it validates
-- processes and events before anything is sent (bmdb/validate.ts).
-- The CHECKs stay where writes are rare (work_backoff, machine_provided, ...).
ALTER TABLE work_slot DROP CONSTRAINT work_slot_process_check;
ALTER TABLE work_history DROP CONSTRAINT work_history_process_check;
ALTER TABLE work_history DROP CONSTRAINT work_history_event_check;

-- Nothing reads it, and every history row paid for it. History retention will
-- choose its own access path when it is built.
DROP INDEX work_history_timestamp_idx;
