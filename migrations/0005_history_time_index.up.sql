-- drover: skip on cockroachdb
--
-- The dashboard's claims and failures per minute over the last hour
-- (bmdb/queries_admin.ts) read work_history by time. A BRIN index fits an
-- append-only table whose rows arrive in time order: a few pages for
-- millions of rows, and next to nothing per insert (new page ranges stay
-- unsummarised until VACUUM, and an unsummarised range is simply read, which
-- is where the last hour lives). CockroachDB has no BRIN; there the query
-- reads the table.
CREATE INDEX work_history_timestamp_brin ON work_history USING brin (timestamp);
