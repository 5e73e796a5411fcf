-- Machines you own: the Inventory provider (an operator's file of machines,
-- each with an optional BMC spoken to over Redfish) beside Equinix Metal.
--
-- ONCHANGE(bmdb/model.ts): Provider, Process and the history events.

-- A machine row says which provider it belongs to: Inventory is the second.
ALTER TABLE machine_provided DROP CONSTRAINT machine_provided_provider_check;
ALTER TABLE machine_provided ADD CONSTRAINT machine_provided_provider_check
    CHECK (provider IN ('Equinix', 'Inventory'));

-- What a BMC reports beside the status Drover derives from it, for the
-- dashboard: the Redfish PowerState and Status.Health as read, and why the
-- status is Unknown (an unreachable BMC) when it is.
ALTER TABLE machine_provided ADD COLUMN provider_power_state TEXT NULL
    CHECK (length(provider_power_state) <= 32);
ALTER TABLE machine_provided ADD COLUMN provider_health TEXT NULL
    CHECK (length(provider_health) <= 32);
ALTER TABLE machine_provided ADD COLUMN provider_status_cause TEXT NULL
    CHECK (length(provider_status_cause) <= 2000);
-- The machine's BMC as the provider knows it (origin and system path);
-- NULL when it has none, so it has no power control.
ALTER TABLE machine_provided ADD COLUMN provider_bmc TEXT NULL
    CHECK (length(provider_bmc) <= 600);
-- Set when an operator powered the machine off through Drover: no loop
-- touches it (nor powers it back on) until an operator powers it on.
ALTER TABLE machine_provided ADD COLUMN provider_held_off_at TIMESTAMPTZ NULL;
ALTER TABLE machine_provided ADD COLUMN provider_held_off_by TEXT NULL
    CHECK (length(provider_held_off_by) <= 256);

-- Tag: the SSH host key a machine presented the first time Drover reached it
-- (trust on first use). A later, different key is refused until an operator
-- clears this row. Keys pinned in the inventory are not stored here.
CREATE TABLE machine_ssh_host_key (
    machine_id UUID NOT NULL PRIMARY KEY REFERENCES machines (machine_id) ON DELETE RESTRICT,
    -- OpenSSH public key form without a comment: "<type> <base64 blob>".
    ssh_host_key TEXT NOT NULL CHECK (length(ssh_host_key) BETWEEN 1 AND 16384),
    ssh_host_key_recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Operator actions that are not work (power on/off/restart, clearing a host
-- key) say in history what was done: the ResetTypes sent, the key cleared.
-- Nullable with no default: adding it rewrites nothing.
ALTER TABLE work_history ADD COLUMN detail TEXT NULL;

-- A new process: an operator's power action holds the machine while the BMC
-- carries it out (the shepherd's agent start and recovery keep off it).
ALTER TABLE work_backoff DROP CONSTRAINT work_backoff_process_check;
ALTER TABLE work_backoff ADD CONSTRAINT work_backoff_process_check
    CHECK (process IN ('ShepherdAgentStart', 'ShepherdRecovery', 'PowerAction', 'UnitTest1', 'UnitTest2'));
