/**
 * `deno task start`: Drover's entry point.
 *
 * For now it opens the BMDB (embedded PGlite under `DROVER_DATA_DIR`, default
 * `./data`, or PostgreSQL when `DATABASE_URL` is set), brings the schema up to
 * date and reports what it did and what the BMDB holds. Later issues grow it
 * into the whole service.
 *
 * @module
 */
import { openBmdb, PROCESSES } from "./bmdb/mod.ts";

const databaseUrl = Deno.env.get("DATABASE_URL") || undefined;
const dataDir = Deno.env.get("DROVER_DATA_DIR") || "./data";

const started = performance.now();
const bmdb = await openBmdb({
  component: "drover",
  ...(databaseUrl ? { databaseUrl } : { dataDir }),
});
try {
  const migration = bmdb.migration ?? { applied: [], alreadyApplied: 0, unknown: [] };
  console.log(`BMDB: ${bmdb.target} (opened in ${Math.round(performance.now() - started)} ms)`);
  console.log(
    migration.applied.length > 0
      ? `Migrations applied now: ${migration.applied.join(", ")}` +
        (migration.alreadyApplied ? ` (${migration.alreadyApplied} were already applied)` : "")
      : `Schema up to date (${migration.alreadyApplied} migrations applied earlier)`,
  );
  if (migration.unknown.length > 0) {
    console.log(`Note: the database has migrations this build does not know: ${migration.unknown.join(", ")}`);
  }
  const counts = await bmdb.read((q) => q.getCounts());
  const perProcess = (c: Record<string, number>) =>
    PROCESSES.filter((p) => c[p] > 0).map((p) => `${p} ${c[p]}`).join(", ") || "none";
  console.log(`Machines: ${counts.machines}`);
  console.log(`Live sessions: ${counts.liveSessions}`);
  console.log(`Active work: ${perProcess(counts.activeWork)}`);
  console.log(`Active backoffs: ${perProcess(counts.activeBackoffs)}`);
} finally {
  await bmdb.close();
}
