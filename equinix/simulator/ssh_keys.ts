/**
 * The project's SSH keys: created per project, then read, updated and
 * deleted by id, each with the fingerprint the API shows (MD5 of the key
 * blob, as colon-separated hex).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { notFound } from "./api_error.ts";

/** A stored SSH key. */
export interface SSHKeyRecord {
  readonly id: string;
  readonly projectId: string;
  readonly createdAt: string;
  updatedAt: string;
  label: string;
  key: string;
  fingerprint: string;
  tags: string[];
}

/** SSH keys by id. */
export class SSHKeyStore {
  readonly #keys = new Map<string, SSHKeyRecord>();

  /** The project's keys, oldest first. */
  list(projectId: string): SSHKeyRecord[] {
    return [...this.#keys.values()].filter((k) => k.projectId === projectId);
  }

  create(projectId: string, input: { label: string; key: string; tags?: readonly string[] }): SSHKeyRecord {
    const now = new Date().toISOString();
    const record: SSHKeyRecord = {
      id: crypto.randomUUID(),
      projectId,
      createdAt: now,
      updatedAt: now,
      label: input.label,
      key: input.key,
      fingerprint: fingerprint(input.key),
      tags: [...input.tags ?? []],
    };
    this.#keys.set(record.id, record);
    return record;
  }

  /** @throws {ApiError} 404 for an unknown key */
  get(id: string): SSHKeyRecord {
    const record = this.#keys.get(id);
    if (!record) throw notFound();
    return record;
  }

  /** Changes the fields given of a key {@link get} returned. */
  update(record: SSHKeyRecord, changes: { label?: string; key?: string; tags?: readonly string[] }): SSHKeyRecord {
    if (changes.label !== undefined) record.label = changes.label;
    if (changes.key !== undefined) {
      record.key = changes.key;
      record.fingerprint = fingerprint(changes.key);
    }
    if (changes.tags !== undefined) record.tags = [...changes.tags];
    record.updatedAt = new Date().toISOString();
    return record;
  }

  /** @throws {ApiError} 404 for an unknown key */
  delete(id: string): void {
    if (!this.#keys.delete(id)) throw notFound();
  }
}

/**
 * "aa:bb:…": the MD5 of the key blob (the base64 field of "type blob
 * comment"), like `ssh-keygen -l -E md5`; a key that is not in that form is
 * hashed as text (the simulator does not check keys further).
 */
function fingerprint(key: string): string {
  const blob = key.trim().split(/\s+/)[1] ?? "";
  const bytes = BASE64.test(blob) ? Buffer.from(blob, "base64") : new TextEncoder().encode(key);
  return createHash("md5").update(bytes).digest("hex").replace(/(..)(?=.)/g, "$1:");
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
