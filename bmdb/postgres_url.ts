/**
 * A PostgreSQL connection URL as postgres.js reads it, checked before any
 * connection: `postgres://user:password@host1:5432,host2:5432/database?…`.
 *
 * The WHATWG URL parser cannot read a host list (`h1:5432,h2:5432` is not a
 * host), so the authority is split here the way postgres.js splits it: on
 * commas, each `host[:port]`. A list without `target_session_attrs` gets
 * `read-write`: Drover writes, and postgres.js would otherwise stay on the
 * first host that answers, standby or not. (The PostgreSQL driver asks for
 * `read-write` through a single host too: bmdb/driver_postgres.ts.)
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";

/** One host of the list. */
export interface PostgresHost {
  host: string;
  port: number;
}

/** A parsed connection URL. */
export interface PostgresUrl {
  hosts: PostgresHost[];
  /** The database name ("" when the URL names none: postgres.js then uses the user's name). */
  database: string;
  /** The user name ("" when the URL names none). */
  user: string;
  /** `read-write` or `primary` (the values that find a writable server); undefined for one host without it. */
  targetSessionAttrs?: "read-write" | "primary";
  /** The URL to hand postgres.js (with `target_session_attrs=read-write` added to a list that had none). */
  forDriver: string;
  /** The URL of one host of the list alone (same user, password, database and parameters but the attrs). */
  forHost(index: number): string;
  /** Where it points, for messages: never the password. */
  describe(): string;
}

/** What postgres.js accepts; only two of them make sense for a writer. */
const WRITABLE_ATTRS = ["read-write", "primary"] as const;
const ALL_ATTRS = ["read-write", "read-only", "primary", "standby", "prefer-standby"];
const SCHEME = /^(postgres(?:ql)?):\/\/([^/?#]*)(.*)$/s;

function fail(problem: string): never {
  throw new InvalidArgumentError("databaseUrl", problem);
}

function parseHost(entry: string, position: number, count: number): PostgresHost {
  const where = count > 1 ? `host ${position} of ${count} ("${entry}")` : `the host "${entry}"`;
  if (entry.startsWith("[")) {
    // postgres.js splits a list's entries on ":" and cannot take a bracketed IPv6 literal inside a list.
    if (count > 1) fail(`${where}: an IPv6 literal cannot be part of a host list (postgres.js); use a host name`);
    const match = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(entry);
    if (!match) fail(`${where} is not [IPv6]:port`);
    return { host: match[1], port: port(match[2], where) };
  }
  const [host, portText, extra] = entry.split(":");
  if (extra !== undefined) fail(`${where} has more than one ":"`);
  if (host === "") fail(`${where} has no host name`);
  if (!/^[A-Za-z0-9._%-]+$/.test(host)) fail(`${where}: "${host}" is not a host name or IPv4 address`);
  return { host, port: port(portText, where) };
}

function port(text: string | undefined, where: string): number {
  if (text === undefined || text === "") return 5432;
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) fail(`${where}: the port "${text}" is not a number from 1 to 65535`);
  return n;
}

/**
 * Parses and checks a connection URL.
 * @throws {InvalidArgumentError} naming what is wrong (field `databaseUrl`; never the password).
 */
export function parsePostgresUrl(text: string): PostgresUrl {
  const match = SCHEME.exec(text.trim());
  if (!match) fail("must start with postgres:// or postgresql:// (e.g. postgres://drover@db1:5432,db2:5432/drover)");
  const [, scheme, authority, rest] = match;
  const at = authority.lastIndexOf("@");
  const userInfo = at >= 0 ? authority.slice(0, at) : "";
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;
  if (hostList === "") fail("names no host (e.g. postgres://drover@db1:5432/drover)");
  const entries = hostList.split(",");
  const hosts = entries.map((entry, i) => parseHost(entry.trim(), i + 1, entries.length));
  const seen = new Set<string>();
  for (const h of hosts) {
    const key = `${h.host}:${h.port}`;
    if (seen.has(key)) fail(`lists ${key} twice`);
    seen.add(key);
  }

  // The rest (path, query) is ordinary URL syntax: let the URL parser read it on the first host.
  let tail: URL;
  try {
    tail = new URL(`${scheme}://${userInfo ? `${userInfo}@` : ""}placeholder${rest}`);
  } catch {
    fail("the part after the hosts is not a URL path and query (/database?name=value)");
  }
  if (tail.hash) fail("must not have a #fragment");
  const database = decodeURIComponent(tail.pathname.replace(/^\//, ""));
  if (database.includes("/")) fail(`the database name "${database}" contains "/"`);
  const user = decodeURIComponent(tail.username);

  const attrs = tail.searchParams.get("target_session_attrs") ?? undefined;
  if (attrs !== undefined && !ALL_ATTRS.includes(attrs)) {
    fail(`target_session_attrs "${attrs}" is not one of ${ALL_ATTRS.join(", ")}`);
  }
  if (attrs !== undefined && !(WRITABLE_ATTRS as readonly string[]).includes(attrs)) {
    fail(`target_session_attrs "${attrs}" would connect to standbys: Drover writes, use read-write (or primary)`);
  }
  const targetSessionAttrs = (attrs ?? (hosts.length > 1 ? "read-write" : undefined)) as
    | PostgresUrl["targetSessionAttrs"]
    | undefined;

  const query = (params: URLSearchParams) => (params.size > 0 ? `?${params}` : "");
  const withAttrs = new URLSearchParams(tail.searchParams);
  if (targetSessionAttrs) withAttrs.set("target_session_attrs", targetSessionAttrs);
  const withoutAttrs = new URLSearchParams(tail.searchParams);
  withoutAttrs.delete("target_session_attrs");
  const prefix = `${scheme}://${userInfo ? `${userInfo}@` : ""}`;
  const hostText = (h: PostgresHost) => `${h.host.includes(":") ? `[${h.host}]` : h.host}:${h.port}`;
  const path = tail.pathname === "/" ? "/" : tail.pathname;

  return {
    hosts,
    database,
    user,
    ...(targetSessionAttrs ? { targetSessionAttrs } : {}),
    forDriver: `${prefix}${hosts.map(hostText).join(",")}${path}${query(withAttrs)}`,
    forHost: (index) => `${prefix}${hostText(hosts[index])}${path}${query(withoutAttrs)}`,
    describe: () =>
      `PostgreSQL at ${hosts.map(hostText).join(", ")}/${database || "(default database)"}` +
      (user ? ` as ${user}` : ""),
  };
}
