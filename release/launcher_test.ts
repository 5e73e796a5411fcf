import assert from "node:assert/strict";
import { renderLauncher, shellQuote } from "./launcher.ts";

const decoder = new TextDecoder();

/** A payload whose `bin/deno` prints what it was run with, instead of Deno. */
async function fakePayload(): Promise<Uint8Array> {
  const root = await Deno.makeTempDir({ prefix: "drover-fake-payload-" });
  try {
    await Deno.mkdir(`${root}/bin`);
    await Deno.mkdir(`${root}/server`);
    await Deno.writeTextFile(`${root}/bin/deno`, '#!/bin/sh\nprintf "%s\\n" "DENO_DIR=$DENO_DIR" "$@"\n', {
      mode: 0o755,
    });
    await Deno.writeTextFile(`${root}/server/drover.js`, "");
    const tar = await new Deno.Command("tar", { args: ["-C", root, "-czf", "-", "."], stdout: "piped" }).output();
    assert.ok(tar.success);
    return tar.stdout;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function fakeExecutable(dir: string, buildId: string): Promise<string> {
  const header = await renderLauncher({
    title: "Drover (test)",
    buildId,
    denoFlags: ["--allow-net", "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=50"],
  });
  const payload = await fakePayload();
  const path = `${dir}/drover`;
  const bytes = new Uint8Array(header.length + payload.length);
  bytes.set(header);
  bytes.set(payload, header.length);
  await Deno.writeFile(path, bytes, { mode: 0o755 });
  return path;
}

async function run(path: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(path, {
    args,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("renderLauncher() states the payload's offset as its own length, and refuses an unsafe build id", async () => {
  const header = await renderLauncher({ title: "t", buildId: "0.1.0-abc", denoFlags: ["--allow-net"] });
  const offset = Number(/^payload_offset=(\d+)$/m.exec(decoder.decode(header))?.[1]);
  assert.equal(offset, header.length);
  await assert.rejects(renderLauncher({ title: "t", buildId: "../x", denoFlags: [] }), RangeError);
});

Deno.test("shellQuote() leaves flags bare and quotes the rest for sh", () => {
  assert.equal(shellQuote("--v8-flags=--a=1,--b=2"), "--v8-flags=--a=1,--b=2");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote("a b"), "'a b'");
});

Deno.test("the launcher unpacks once when eight first runs race, then execs Deno with the flags and arguments", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drover-launcher-" });
  try {
    const path = await fakeExecutable(dir, "0.0.0-race");
    const cache = `${dir}/cache`;
    const runs = await Promise.all(
      Array.from({ length: 8 }, () => run(path, ["start", "--listen", "a b"], { DROVER_CACHE_DIR: cache })),
    );
    const unpacked = `${cache}/0.0.0-race`;
    for (const { code, stdout, stderr } of runs) {
      assert.equal(code, 0, stderr);
      assert.deepEqual(stdout.split("\n").slice(0, -1), [
        `DENO_DIR=${unpacked}/deno-dir`,
        "run",
        "--no-config",
        "--no-lock",
        "--no-npm",
        "--no-remote",
        "--no-prompt",
        "--allow-net",
        "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=50",
        `${unpacked}/server/drover.js`,
        "start",
        "--listen",
        "a b",
      ]);
    }
    const left = [];
    for await (const entry of Deno.readDir(cache)) left.push(entry.name);
    assert.deepEqual(left, ["0.0.0-race"], "one build directory, no half-unpacked one");
    const inside = [];
    for await (const entry of Deno.readDir(unpacked)) inside.push(entry.name);
    assert.deepEqual(inside.sort(), ["bin", "server"], "no copy renamed into the build directory");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the launcher unpacks under XDG_CACHE_HOME, else HOME/.cache, and says so when it has neither", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drover-launcher-" });
  try {
    const path = await fakeExecutable(dir, "0.0.0-where");
    const xdg = await run(path, [], { XDG_CACHE_HOME: `${dir}/xdg`, HOME: `${dir}/home` });
    assert.match(xdg.stdout, new RegExp(`^DENO_DIR=${dir}/xdg/drover/0\\.0\\.0-where/deno-dir$`, "m"), xdg.stderr);
    const home = await run(path, [], { HOME: `${dir}/home` });
    assert.match(home.stdout, new RegExp(`^DENO_DIR=${dir}/home/\\.cache/drover/0\\.0\\.0-where/deno-dir$`, "m"));
    const nowhere = await run(path, [], {});
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /^drover: nowhere to unpack: set DROVER_CACHE_DIR/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the launcher names a cache directory it cannot create", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drover-launcher-" });
  try {
    const path = await fakeExecutable(dir, "0.0.0-blocked");
    await Deno.writeTextFile(`${dir}/file`, "");
    const blocked = await run(path, [], { DROVER_CACHE_DIR: `${dir}/file/cache` });
    assert.equal(blocked.code, 1);
    assert.match(blocked.stderr, new RegExp(`drover: cannot create ${dir}/file/cache, where this executable unpacks`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
