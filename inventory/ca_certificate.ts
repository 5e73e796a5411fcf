/**
 * The CA file a BMC's `tls: { ca }` names: PEM text holding one or more
 * certificates, which the BMC's certificate must chain to.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/**
 * Checks that `text` holds at least one PEM `CERTIFICATE` block and that each
 * block is an X.509 certificate.
 * @throws {RangeError} whose message is the problem.
 */
export function checkCaCertificates(text: string): void {
  const blocks = [...text.matchAll(PEM_BLOCK)].map((match) => match[0]);
  if (blocks.length === 0) {
    throw new RangeError("must hold a PEM certificate (-----BEGIN CERTIFICATE-----), and holds none");
  }
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      const which = blocks.length === 1 ? "its certificate" : `certificate ${index + 1} of ${blocks.length}`;
      throw new RangeError(
        `must hold PEM certificates, and ${which} is not one (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    }
  }
}
