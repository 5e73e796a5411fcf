/**
 * Connection URLs as postgres.js reads them: one host or a list, each
 * `host[:port]`, `target_session_attrs` added to a list that has none, and a
 * message naming the entry at fault (never the password).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parsePostgresUrl } from "../../bmdb/postgres_url.ts";

Deno.test("one host, a list, defaults and what goes to the driver", () => {
  const one = parsePostgresUrl("postgres://drover:s3cret@db1/drover");
  assert.deepEqual(one.hosts, [{ host: "db1", port: 5432 }]);
  assert.equal(one.targetSessionAttrs, undefined);
  assert.equal(one.forDriver, "postgres://drover:s3cret@db1:5432/drover");
  assert.equal(one.describe(), "PostgreSQL at db1:5432/drover as drover");

  const list = parsePostgresUrl("postgresql://drover:s3cret@db1:5432,10.0.0.2:6432/drover?sslmode=require");
  assert.deepEqual(list.hosts, [{ host: "db1", port: 5432 }, { host: "10.0.0.2", port: 6432 }]);
  assert.equal(list.targetSessionAttrs, "read-write");
  assert.equal(
    list.forDriver,
    "postgresql://drover:s3cret@db1:5432,10.0.0.2:6432/drover?sslmode=require&target_session_attrs=read-write",
  );
  assert.equal(list.forHost(1), "postgresql://drover:s3cret@10.0.0.2:6432/drover?sslmode=require");
  assert.equal(list.describe(), "PostgreSQL at db1:5432, 10.0.0.2:6432/drover as drover");
  assert.ok(!list.describe().includes("s3cret"));

  const primary = parsePostgresUrl("postgres://u@a,b/d?target_session_attrs=primary");
  assert.equal(primary.targetSessionAttrs, "primary");
  assert.equal(parsePostgresUrl("postgres://[::1]:6000/d").hosts[0].host, "::1");
  assert.equal(parsePostgresUrl("postgres://localhost").describe(), "PostgreSQL at localhost:5432/(default database)");
});

Deno.test("a malformed URL is refused naming the entry at fault, never the password", () => {
  const cases: [string, RegExp][] = [
    ["mysql://u:pw@db/d", /must start with postgres:\/\//],
    ["postgres://u:pw@/d", /names no host/],
    ["postgres://u:pw@db1,,db2/d", /host 2 of 3 \(""\) has no host name/],
    ["postgres://u:pw@db1:0/d", /the port "0" is not a number from 1 to 65535/],
    ["postgres://u:pw@db1:5432:1/d", /has more than one ":"/],
    ["postgres://u:pw@db 1/d", /"db 1" is not a host name/],
    ["postgres://u:pw@a,b/d?target_session_attrs=any", /"any" is not one of read-write, read-only/],
    ["postgres://u:pw@a,b/d?target_session_attrs=prefer-standby", /would connect to standbys/],
    ["postgres://u:pw@a/d/e", /database name "d\/e" contains "\/"/],
  ];
  for (const [url, expected] of cases) {
    assert.throws(() => parsePostgresUrl(url), (error: Error) => {
      assert.equal(error.name, "InvalidArgumentError", url);
      assert.match(error.message, /^Invalid databaseUrl: /, url);
      assert.match(error.message, expected, url);
      assert.ok(!error.message.includes("pw@"), `${url}: the password was printed`);
      return true;
    });
  }
});
