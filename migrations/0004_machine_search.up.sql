-- drover: skip on cockroachdb
--
-- Indexes for the dashboard's machine search (bmdb/queries_machines.ts):
-- a prefix of a machine's IP address or provider id, and its metro, found by
-- index at 100,000 machines instead of by a walk over all of them.
-- text_pattern_ops makes `LIKE 'prefix%'` use the index whatever the
-- database's collation. CockroachDB has no operator classes: there the search
-- works without these indexes, by walking machine_provided.
CREATE INDEX machine_provided_ip_pattern ON machine_provided (provider_ip_address text_pattern_ops);
CREATE INDEX machine_provided_provider_id_pattern ON machine_provided (provider_id text_pattern_ops);
CREATE INDEX machine_provided_location ON machine_provided (provider_location);
