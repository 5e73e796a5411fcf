/**
 * The server the dashboard and API figures are measured on, as a process of
 * its own (so its CPU and RSS are its own): what server/service.ts serves,
 * without the control loops: the admin API, the event stream (one change-feed
 * watcher and one event hub, as `openLiveFeed` gives the service), the agent
 * API and the dashboard bundled now, over an existing database.
 *
 * ```sh
 * BENCH_DATABASE_URL=postgres://... BENCH_ADMIN_TOKEN=... deno run <the start task's flags> bench/admin_server_main.ts
 * ```
 *
 * Prints one line of JSON, `{"url":"http://127.0.0.1:<port>"}`, once it
 * serves; SIGTERM or SIGINT stops it (exit 0). bench/admin_server_process.ts
 * runs it.
 *
 * @module
 */
import { Registry } from "prom-client";
import { openBmdb } from "../bmdb/mod.ts";
import { MemoryValue } from "../event/mod.ts";
import type { ProvisionerStatus, ReservationView } from "../loops/mod.ts";
import { listen, openLiveFeed, serverApp } from "../server/mod.ts";
import { uiRoutes } from "../server/ui_routes.ts";
import { quietLogger } from "../tests/harness/quiet_logger.ts";
import { buildUi } from "../ui/mod.ts";

async function main(): Promise<number> {
  const databaseUrl = Deno.env.get("BENCH_DATABASE_URL");
  const adminToken = Deno.env.get("BENCH_ADMIN_TOKEN");
  if (!databaseUrl || !adminToken) {
    console.error("admin_server_main.ts: set BENCH_DATABASE_URL and BENCH_ADMIN_TOKEN");
    return 2;
  }
  const ui = uiRoutes(await buildUi());
  const bmdb = await openBmdb({ component: "bench-admin-server", databaseUrl, logger: quietLogger });
  try {
    // No loops run here: the reservations and the provisioner's status are fixed values.
    const reservations = new MemoryValue<readonly ReservationView[]>();
    reservations.set([]);
    const provisioner = new MemoryValue<ProvisionerStatus | null>();
    provisioner.set(null);
    const live = await openLiveFeed(bmdb, { reservations, provisioner });
    const server = listen(
      serverApp({
        bmdb,
        logger: quietLogger,
        registry: new Registry(),
        admin: { access: { adminToken }, hub: live.hub, ui },
      }),
      { hostname: "127.0.0.1", port: 0 },
    );
    console.log(JSON.stringify({ url: server.url }));
    const signalled = Promise.withResolvers<void>();
    for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => signalled.resolve());
    await signalled.promise;
    await live.close(); // before the shutdown: it waits for open event streams
    await server.shutdown();
  } finally {
    await bmdb.close();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
