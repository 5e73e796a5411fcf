/**
 * The one executable's command line (`drover start`, `drover --version`,
 * `drover --help`), bundled into the payload's `server/drover.js`, which the
 * launcher runs from the unpacked payload (release/layout.ts).
 *
 * `drover start` is main.ts's {@linkcode runDrover} with exactly the
 * settings of `deno task start`, serving the prebuilt dashboard of the
 * payload (nothing is bundled at start) and uploading the payload's agent
 * when `--ssh-key` comes without `--agent-path`.
 *
 * @module
 */
import { runDrover } from "../main.ts";
import { usage } from "../server/config.ts";
import { uiRoutes } from "../server/ui_routes.ts";
import { readUiAssets } from "../ui/mod.ts";
import type { Logger } from "../bmdb/mod.ts";
import { type BuildInfo, LAYOUT } from "./layout.ts";

/** The unpacked payload: the bundle is its `server/drover.js`. */
const ROOT = new URL("../", import.meta.url);

function pathInPayload(relative: string): string {
  return decodeURIComponent(new URL(relative, ROOT).pathname);
}

/** What the executable was built from (the payload's build.json). */
export function readBuildInfo(): BuildInfo {
  return JSON.parse(Deno.readTextFileSync(pathInPayload(LAYOUT.buildInfo))) as BuildInfo;
}

/** `drover --version`'s line, e.g. `drover 0.1.0 (commit 98a1166c2f05, dirty) built … with Deno 2.9.6`. */
export function versionLine(info: BuildInfo): string {
  const commit = info.commit === "unknown" ? "commit unknown" : `commit ${info.commit.slice(0, 12)}`;
  return `drover ${info.version} (${commit}${info.dirty ? ", dirty" : ""}) built ${info.builtAt} ` +
    `with Deno ${info.deno}`;
}

function help(): string {
  return `Usage: drover <command>

  start [flags]   run Drover (the settings below, as deno task start takes them)
  --version       the version and the git commit this executable was built from
  --help          this text

Unpacked in ${pathInPayload(".")}. Here --agent-path defaults to the agent inside this
executable (${pathInPayload(LAYOUT.agent)}) once --ssh-key is set.

${usage("drover start")}`;
}

/** The payload's prebuilt dashboard; without it the server says the dashboard is not built. */
async function embeddedDashboard(logger: Logger) {
  const dir = pathInPayload(LAYOUT.ui);
  try {
    return uiRoutes(await readUiAssets(dir));
  } catch (error) {
    logger.error(`no dashboard: ${dir} cannot be read (unpack again: remove that folder's parent)`, { error });
    return undefined;
  }
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "start":
      return await runDrover({
        args: rest,
        command: "drover start",
        dashboard: embeddedDashboard,
        agentPath: pathInPayload(LAYOUT.agent),
      });
    case "--version":
    case "version":
      console.log(versionLine(readBuildInfo()));
      return 0;
    case undefined:
    case "--help":
    case "-h":
    case "help":
      console.log(help());
      return 0;
    default:
      console.error(`drover: unknown command ${JSON.stringify(command)}\n\nRun drover --help for the commands.`);
      return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
