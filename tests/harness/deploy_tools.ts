/**
 * The tools that check the deployment files in deploy/: Prometheus's
 * `promtool` (the alerting rules and their unit tests) and systemd's
 * `systemd-analyze` (the unit file), as test requirements.
 *
 * @module
 */
import { fileExists, type ServiceRequirement } from "./requirements.ts";

/** `promtool`: `$PROMTOOL`, else Debian's (package prometheus). */
export function promtoolPath(): string {
  return Deno.env.get("PROMTOOL") ?? "/usr/bin/promtool";
}

/** `systemd-analyze`: `$SYSTEMD_ANALYZE`, else Debian's (package systemd). */
export function systemdAnalyzePath(): string {
  return Deno.env.get("SYSTEMD_ANALYZE") ?? "/usr/bin/systemd-analyze";
}

/** promtool, as a test requirement. */
export const promtoolRequirement: ServiceRequirement = {
  name: "promtool (Prometheus)",
  install: "apt-get install -y prometheus (or set PROMTOOL to a promtool binary)",
  probe: () => fileExists(promtoolPath()) ? undefined : `${promtoolPath()} not found`,
};

/** systemd-analyze, as a test requirement. */
export const systemdAnalyzeRequirement: ServiceRequirement = {
  name: "systemd-analyze (systemd)",
  install: "apt-get install -y systemd (or set SYSTEMD_ANALYZE to a systemd-analyze binary)",
  probe: () => fileExists(systemdAnalyzePath()) ? undefined : `${systemdAnalyzePath()} not found`,
};

/** What a tool printed and how it ended. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` with `args` to its end (never throws for a non-zero exit). */
export async function runTool(command: string, args: string[], options: { cwd?: string } = {}): Promise<ToolRun> {
  const out = await new Deno.Command(command, { args, cwd: options.cwd, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}
