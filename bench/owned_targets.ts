/**
 * Issue 27's speed targets for machines you own, and the check of a run of
 * "Machines you own" (owned_machines.ts) against them. Quick runs check the
 * same rules on their smaller, faster fleet; each subject says what was
 * measured.
 *
 * @module
 */
import { failedReplies, type OwnedMachinesResult } from "./owned_machines.ts";
import { fleetLabel, type TargetCheck } from "./targets.ts";

/** A full (warm) updater sweep takes at most this many times its bound, N·r·mean latency ÷ C. */
export const OWNED_SWEEP_RATIO_AT_MOST = 2;
/** Requests one BMC has in flight at once, at most. */
export const OWNED_IN_FLIGHT_PER_BMC_AT_MOST = 1;
/** Sessions one BMC has open at once, at most. */
export const OWNED_SESSIONS_PER_BMC_AT_MOST = 1;
/** Drover's process stays under this RSS while it adopts and sweeps 10,000 machines. */
export const OWNED_RSS_BELOW_BYTES = 300 * 2 ** 20;
/** Adoption of the inventory into an empty BMDB takes less than this. */
export const OWNED_ADOPTION_BELOW_SECONDS = 10;

/** "Machines you own, 10k (200-2000 ms, C 500)": what every subject starts with. */
export function ownedLabel(r: Pick<OwnedMachinesResult, "settings">): string {
  const { machines, latencyMs, concurrency } = r.settings;
  return `Machines you own, ${
    fleetLabel(machines)
  } (BMC latency ${latencyMs.min}-${latencyMs.max} ms, C ${concurrency})`;
}

/** Checks every target of issue 27 that the run measured. */
export function checkOwnedTargets(r: OwnedMachinesResult): TargetCheck[] {
  const label = ownedLabel(r);
  const n = r.settings.machines;
  const running = r.statusesAfter.Running ?? 0;
  const failed = failedReplies(r);
  const adoption = [["PostgreSQL", r.adoption.postgres], ["PGlite", r.adoption.pglite]] as const;
  return [
    {
      subject: `${label}: warm updater sweep ÷ its bound (${r.warm.boundSeconds.toFixed(1)} s)`,
      rule: `<= ${OWNED_SWEEP_RATIO_AT_MOST.toFixed(1)}`,
      value: r.warm.ratio,
      met: r.warm.ratio <= OWNED_SWEEP_RATIO_AT_MOST,
    },
    {
      subject: `${label}: requests in flight at one BMC, at most`,
      rule: `<= ${OWNED_IN_FLIGHT_PER_BMC_AT_MOST}`,
      value: r.maxInFlightPerBmc,
      met: r.maxInFlightPerBmc <= OWNED_IN_FLIGHT_PER_BMC_AT_MOST,
    },
    {
      subject: `${label}: sessions open at one BMC, at most`,
      rule: `<= ${OWNED_SESSIONS_PER_BMC_AT_MOST}`,
      value: r.maxSessionsPerBmc,
      met: r.maxSessionsPerBmc <= OWNED_SESSIONS_PER_BMC_AT_MOST,
    },
    {
      subject: `${label}: machines Running after the sweeps (BMC replies not 2xx: ${failed})`,
      rule: `= ${n}`,
      value: running,
      met: running === n && failed === 0,
    },
    {
      subject: `${label}: Drover's peak RSS MiB (adoption and both sweeps)`,
      rule: `< ${OWNED_RSS_BELOW_BYTES / 2 ** 20}`,
      value: r.peakRssBytes / 2 ** 20,
      met: r.peakRssBytes < OWNED_RSS_BELOW_BYTES,
    },
    ...adoption.flatMap(([db, a]) =>
      a
        ? [{
          subject: `${label}: adoption into an empty BMDB on ${db}, s`,
          rule: `< ${OWNED_ADOPTION_BELOW_SECONDS}, all ${n} adopted`,
          value: a.seconds,
          met: a.seconds < OWNED_ADOPTION_BELOW_SECONDS && a.adopted === n,
        }]
        : []
    ),
  ];
}
