-- Drover BMDB, initial schema.
--
-- Table and column names follow Monogon's BMDB. Values that were ENUMs there
-- are TEXT with CHECK constraints here (portable to CockroachDB, and a CHECK
-- costs nothing per row, unlike a lookup table's foreign key).
-- ONCHANGE(bmdb/model.ts): the CHECK lists match the constants there.

CREATE TABLE machines (
    machine_id UUID NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    machine_created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Sessions are held by components and kept alive by heartbeats that push
-- session_deadline forward. A session is alive while session_deadline > now().
-- Expired sessions are deleted by the janitor after a grace period.
CREATE TABLE sessions (
    session_id UUID NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    -- Human-readable name of the component that holds the session.
    session_component_name TEXT NOT NULL,
    -- Where it runs (host, pid, version): human-readable.
    session_runtime_info TEXT NOT NULL,
    session_created_at TIMESTAMPTZ NOT NULL,
    -- Each heartbeat sets session_deadline = now() + this many seconds.
    session_interval_seconds INT NOT NULL CHECK (session_interval_seconds > 0),
    session_deadline TIMESTAMPTZ NOT NULL
);

-- Work locks, one slot per (machine, process). A slot whose session_id is set
-- is work in progress (see the `work` view); NULL means free.
--
-- Why slots rather than inserting and deleting `work` rows: under SERIALIZABLE
-- every claim reads and writes the index of the table that marks machines busy.
-- A table of in-flight rows is tiny, so all claims meet on its one index page
-- and conflict. Updating a column of a row that already exists touches no index
-- (a HOT update: fillfactor leaves room on the page, and no index covers the
-- updated columns), so claims on different machines never meet.
--
-- session_id has no foreign key on purpose: the key check would lock the
-- session row on every claim. Liveness is always decided by joining sessions
-- (a slot whose session is gone or past its deadline is free), and the
-- janitor and Session.close() release slots explicitly.
CREATE TABLE work_slot (
    machine_id UUID NOT NULL REFERENCES machines (machine_id) ON DELETE CASCADE,
    process TEXT NOT NULL CONSTRAINT work_slot_process_check
        CHECK (process IN ('ShepherdAgentStart', 'ShepherdRecovery', 'UnitTest1', 'UnitTest2')),
    session_id UUID NULL,
    started_at TIMESTAMPTZ NULL,
    -- Set by an operator's cancel request; the owner's next commit releases the
    -- machine as Canceled instead of Finished.
    cancel_requested_at TIMESTAMPTZ NULL,
    cancel_requested_by TEXT NULL,
    PRIMARY KEY (machine_id, process)
) WITH (fillfactor = 50);

-- Work in progress: what the dashboard shows as active work. A row whose
-- session has expired stays until a claim replaces it or the janitor runs;
-- workflow queries count only rows of live sessions.
CREATE VIEW work AS
SELECT machine_id, session_id, process, started_at, cancel_requested_at, cancel_requested_by
FROM work_slot
WHERE session_id IS NOT NULL;

-- Audit trail, kept after machines are gone (so machine_id is not a foreign key).
CREATE TABLE work_history (
    -- Orders events, including several written in one transaction.
    history_id BIGSERIAL PRIMARY KEY,
    machine_id UUID NOT NULL,
    -- NULL only for a machine-wide operator action (Retried for all processes).
    process TEXT NULL CONSTRAINT work_history_process_check
        CHECK (process IN ('ShepherdAgentStart', 'ShepherdRecovery', 'UnitTest1', 'UnitTest2')),
    event TEXT NOT NULL CONSTRAINT work_history_event_check
        CHECK (event IN ('Started', 'Finished', 'Failed', 'Canceled', 'Retried', 'Expired')),
    timestamp TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set for Failed.
    failed_cause TEXT NULL,
    -- The session that held the work (NULL for operator actions without work).
    session_id UUID NULL,
    -- The operator behind Canceled (when requested) and Retried.
    actor TEXT NULL
);
CREATE INDEX work_history_machine_idx ON work_history (machine_id, history_id);
CREATE INDEX work_history_timestamp_idx ON work_history (timestamp);

-- Backoffs keep a failed (machine, process) out of its workflow until `until`.
-- One row per pair, upserted by each failure and deleted by a finish or an
-- operator's retry. last_interval_seconds drives exponential growth.
CREATE TABLE work_backoff (
    machine_id UUID NOT NULL REFERENCES machines (machine_id) ON DELETE CASCADE,
    process TEXT NOT NULL CONSTRAINT work_backoff_process_check
        CHECK (process IN ('ShepherdAgentStart', 'ShepherdRecovery', 'UnitTest1', 'UnitTest2')),
    until TIMESTAMPTZ NOT NULL,
    cause TEXT NOT NULL,
    last_interval_seconds BIGINT NOT NULL CHECK (last_interval_seconds >= 1),
    PRIMARY KEY (machine_id, process)
);
CREATE INDEX work_backoff_until_idx ON work_backoff (until);

-- Tag: the machine is backed by a provider's machine.
CREATE TABLE machine_provided (
    machine_id UUID NOT NULL PRIMARY KEY REFERENCES machines (machine_id) ON DELETE RESTRICT,
    provider TEXT NOT NULL CONSTRAINT machine_provided_provider_check CHECK (provider IN ('Equinix')),
    provider_id TEXT NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 128),
    provider_reservation_id TEXT NULL CHECK (length(provider_reservation_id) <= 128),
    -- The address operators would SSH to, as the provider reports it.
    provider_ip_address TEXT NULL CHECK (length(provider_ip_address) <= 128),
    -- Metro, facility or region, as the provider names it.
    provider_location TEXT NULL CHECK (length(provider_location) <= 128),
    provider_status TEXT NULL CONSTRAINT machine_provided_status_check
        CHECK (provider_status IN ('Missing', 'Provisioning', 'ProvisioningFailedPermanent', 'Running', 'Stopped', 'Unknown')),
    UNIQUE (provider, provider_id)
);
-- Workflow queries walk one provider's machines in machine_id order.
CREATE INDEX machine_provided_provider_machine_idx ON machine_provided (provider, machine_id);

-- Tag: the agent was started and answered with this public key.
CREATE TABLE machine_agent_started (
    machine_id UUID NOT NULL PRIMARY KEY REFERENCES machines (machine_id) ON DELETE RESTRICT,
    agent_started_at TIMESTAMPTZ NOT NULL,
    agent_public_key BYTEA NOT NULL
);

-- Tag: the agent's last heartbeat.
CREATE TABLE machine_agent_heartbeat (
    machine_id UUID NOT NULL PRIMARY KEY REFERENCES machines (machine_id) ON DELETE RESTRICT,
    agent_heartbeat_at TIMESTAMPTZ NOT NULL
);

-- Tag: the hardware report the agent sent (encoded by the agent).
CREATE TABLE machine_hardware_report (
    machine_id UUID NOT NULL PRIMARY KEY REFERENCES machines (machine_id) ON DELETE RESTRICT,
    hardware_report_raw BYTEA NOT NULL
);

-- Tag: an OS installation was requested; generation matches it to its report.
CREATE TABLE machine_os_installation_request (
    machine_id UUID NOT NULL PRIMARY KEY REFERENCES machines (machine_id) ON DELETE RESTRICT,
    generation INT NOT NULL,
    os_installation_request_raw BYTEA NOT NULL
);

-- Tag: the agent's report of an OS installation.
CREATE TABLE machine_os_installation_report (
    machine_id UUID NOT NULL PRIMARY KEY REFERENCES machines (machine_id) ON DELETE RESTRICT,
    generation INT NOT NULL,
    os_installation_result TEXT NOT NULL CHECK (os_installation_result IN ('Success', 'Error')),
    os_installation_report_raw BYTEA NOT NULL
);
