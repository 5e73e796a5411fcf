/**
 * A throwaway OpenSSH server for tests: `/usr/sbin/sshd` in the foreground on
 * a free loopback port, with a fresh host key, one authorized ed25519 client
 * key and its config in a temporary directory, removed on `stop()`. Logins
 * go to the current user (root here and in CI) by public key only.
 *
 * ```ts
 * await using sshd = await startSshd();
 * const client = new Client().connect({
 *   host: sshd.host, port: sshd.port, username: sshd.username, privateKey: Buffer.from(sshd.clientPrivateKey),
 * });
 * ```
 *
 * @module
 */
import { userInfo } from "node:os";
import { freePort } from "./free_port.ts";
import { fileExists, type ServiceRequirement } from "./requirements.ts";

const SSHD = "/usr/sbin/sshd";
const SSH_KEYGEN = "/usr/bin/ssh-keygen";
/** sshd's privilege separation directory on Debian; it refuses to start without it. */
const PRIVSEP_DIR = "/run/sshd";
const STARTUP_TIMEOUT_MS = 10_000;
const STDERR_TAIL_CHARS = 4096;

/** The OpenSSH server and ssh-keygen, as a test requirement. */
export const sshdRequirement: ServiceRequirement = {
  name: "OpenSSH server (sshd)",
  install: "apt-get install -y openssh-server",
  probe: () =>
    [SSHD, SSH_KEYGEN].filter((path) => !fileExists(path)).map((path) => `${path} is missing`).join(", ") || undefined,
};

/** A running throwaway sshd. */
export interface SshServer extends AsyncDisposable {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** Who may log in: the user running the tests. */
  readonly username: string;
  /** The authorized client key, ed25519 in OpenSSH format. */
  readonly clientPrivateKey: Uint8Array;
  /** The server's host key, as an OpenSSH public key line ("ssh-ed25519 AAAA… drover-test"). */
  readonly hostPublicKey: string;
  /** Keys, config and log live here; tests may put their files here too (it is removed on `stop()`). */
  readonly dir: string;
  /** Kills sshd and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway sshd and waits until its port accepts connections.
 * @throws when the binaries are missing or sshd does not start (the message holds its stderr).
 */
export async function startSshd(
  options: {
    /** Authorize the same client key as this server (several "machines" reached with one key, as Drover does). */
    sameClientKeyAs?: SshServer;
  } = {},
): Promise<SshServer> {
  const missing = sshdRequirement.probe();
  if (missing) throw new Error(`sshd not found: ${missing}`);
  await Deno.mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 }).catch(() => {});
  const dir = await Deno.makeTempDir({ prefix: "drover-sshd-" });
  try {
    await keygen(`${dir}/host_ed25519`);
    if (options.sameClientKeyAs) {
      for (const file of ["client_ed25519", "client_ed25519.pub"]) {
        await Deno.copyFile(`${options.sameClientKeyAs.dir}/${file}`, `${dir}/${file}`);
      }
    } else {
      await keygen(`${dir}/client_ed25519`);
    }
    await Deno.copyFile(`${dir}/client_ed25519.pub`, `${dir}/authorized_keys`);
    const clientPrivateKey = await Deno.readFile(`${dir}/client_ed25519`);
    // The port is free when picked but could be taken before sshd binds it: try a few.
    for (let attempt = 1;; attempt++) {
      const port = freePort();
      try {
        const process = await launch(dir, port);
        return server(
          dir,
          port,
          clientPrivateKey,
          (await Deno.readTextFile(`${dir}/host_ed25519.pub`)).trim(),
          process,
        );
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

async function keygen(path: string): Promise<void> {
  const out = await new Deno.Command(SSH_KEYGEN, {
    args: ["-q", "-t", "ed25519", "-N", "", "-C", "drover-test", "-f", path],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`ssh-keygen for ${path} failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
}

function config(dir: string, port: number): string {
  return [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${dir}/host_ed25519`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    // The temporary directory's owner and modes are not what sshd expects of a home.
    "StrictModes no",
    "PermitRootLogin prohibit-password",
    // The system config is not read, so SFTP has to be named here; internal-sftp needs no binary.
    "Subsystem sftp internal-sftp",
    "PrintMotd no",
    "PrintLastLog no",
    "",
  ].join("\n");
}

interface SshdProcess {
  child: Deno.ChildProcess;
  /** The last few KiB of sshd's stderr (it logs there with -e). */
  stderr(): string;
  /** Resolves when stderr is drained. */
  drained: Promise<void>;
}

async function launch(dir: string, port: number): Promise<SshdProcess> {
  const configPath = `${dir}/sshd_config`;
  await Deno.writeTextFile(configPath, config(dir, port));
  const child = new Deno.Command(SSHD, {
    args: ["-D", "-e", "-f", configPath],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let tail = "";
  const listening = Promise.withResolvers<void>();
  const drained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
        // sshd logs this once its socket listens: the event we wait for.
        if (tail.includes(`Server listening on 127.0.0.1 port ${port}`)) listening.resolve();
      },
    }),
  ).catch(() => {});
  const process: SshdProcess = { child, stderr: () => tail, drained };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const outcome = await Promise.race([
      listening.promise.then(() => "listening"),
      child.status.then((status) => `sshd exited with code ${status.code}`),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`sshd did not listen within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
      }),
    ]);
    if (outcome !== "listening") throw new Error(outcome);
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return process;
  } catch (error) {
    await kill(process);
    throw new Error(`sshd did not start on 127.0.0.1:${port}: ${(error as Error).message}\n${tail}`);
  } finally {
    clearTimeout(timer);
  }
}

async function kill(process: SshdProcess): Promise<void> {
  try {
    process.child.kill("SIGTERM");
  } catch { /* already exited */ }
  await process.child.status;
  await process.drained;
}

function server(
  dir: string,
  port: number,
  clientPrivateKey: Uint8Array,
  hostPublicKey: string,
  process: SshdProcess,
): SshServer {
  // The process outlives a test run that is cut short unless this kills it.
  const onUnload = () => {
    try {
      process.child.kill("SIGKILL");
    } catch { /* already exited */ }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  };
  globalThis.addEventListener("unload", onUnload);
  let stopping: Promise<void> | undefined;
  return {
    host: "127.0.0.1",
    port,
    username: userInfo().username,
    clientPrivateKey,
    hostPublicKey,
    dir,
    stop() {
      stopping ??= (async () => {
        await kill(process);
        globalThis.removeEventListener("unload", onUnload);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
      return stopping;
    },
    [Symbol.asyncDispose]() {
      return this.stop();
    },
  };
}
