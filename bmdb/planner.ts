/**
 * Planner settings for work statements on PostgreSQL (and PGlite, which is
 * PostgreSQL): why they exist is measured, not folklore.
 *
 * @module
 */

/**
 * JIT compiling costs 100 ms to over a second and pays off only for long
 * analytical queries. Worse, a plan that still needs a sequential scan under
 * `enable_seqscan = off` (postgres.js's type lookup on every new connection)
 * looks expensive enough to be compiled; the statement then stalls inside a
 * serializable snapshot, every overlapping transaction keeps its predicate
 * locks, and claims fail in droves (measured: 16 workers fell from ~600 to
 * ~90 units/s with 60 retries per 100 units).
 */
export const NO_JIT: Readonly<Record<string, string>> = { jit: "off" };

/**
 * Keeps work statements to index probes, as the benchmark anchor's functions
 * do. Under SERIALIZABLE a sequential scan (or a merge or hash join fed by
 * one, or a bitmap scan) takes a predicate lock on a whole table or many of
 * its pages, and then every pair of concurrent claims conflicts; the planner
 * picks those for the small hot tables. With these, every workflow condition
 * is an index probe on the machine at hand. Work statements are parameterised
 * OLTP statements, so the generic plan is the right one and planning happens
 * once per connection instead of on every call. On PGlite the same settings
 * turn a 12 ms claim (a merge anti-join over every work slot, planned anew
 * each time) into a 0.7 ms one.
 */
export const INDEX_PROBES_ONLY: Readonly<Record<string, string>> = {
  ...NO_JIT,
  enable_seqscan: "off",
  enable_bitmapscan: "off",
  enable_hashjoin: "off",
  enable_mergejoin: "off",
  enable_material: "off",
  plan_cache_mode: "force_generic_plan",
};
