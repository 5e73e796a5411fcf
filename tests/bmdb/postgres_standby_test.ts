/**
 * The PostgreSQL driver through one host name that leads to a hot standby
 * (a DNS name or address a failover has not moved yet, a primary restarted
 * as a standby): its statements fail as on a lost connection, to be retried,
 * and nothing crashes the process; once the standby is promoted, the same
 * driver writes there. (Before, each statement failed with 0A000 and
 * postgres.js's own unawaited array-type fetch failed with it, which
 * crashed the process.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseError } from "../../bmdb/mod.ts";
import { openPostgresDriver } from "../../bmdb/driver_postgres.ts";
import { replicationRequirement, startReplicatedPostgres } from "../harness/postgres_replication.ts";
import { serviceAvailable } from "../harness/requirements.ts";

if (serviceAvailable(replicationRequirement)) {
  Deno.test({
    name: "a driver whose one host is a hot standby fails its statements as a lost connection, then writes " +
      "once the standby is promoted",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      // Synchronous: the table is on the standby once created, so the promoted standby has it.
      await using pair = await startReplicatedPostgres({ synchronous: true });
      await pair.primary.admin("CREATE TABLE probe (n int)");
      const driver = await openPostgresDriver({ url: pair.standby.url(), poolSize: 2, connectTimeoutSeconds: 5 });
      try {
        for (const isolation of ["serializable", "read committed"] as const) {
          await assert.rejects(driver.query("SELECT 1", [], isolation), (error) => {
            assert.ok(error instanceof DatabaseError, `expected a DatabaseError, got ${error}`);
            assert.equal(error.code, "TARGET_SESSION_ATTRS_UNMET", `${isolation}: ${error.message}`);
            return true;
          });
        }

        await pair.killPrimary();
        await pair.promoteStandby();
        const rows = await driver.query("INSERT INTO probe VALUES (1) RETURNING n", [], "serializable");
        assert.deepEqual([...rows], [{ n: 1 }]);
      } finally {
        await driver.close();
      }
    },
  });
}
