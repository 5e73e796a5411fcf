/**
 * Drover's release version, printed by `drover --version` with the git
 * commit the executable was built from (release/build.ts).
 *
 * @module
 */

/** Raised by hand when a release is cut. */
export const DROVER_VERSION = "0.1.0";
