/**
 * The API's pagination: `page` (default 1, 1..100000) and `per_page`
 * (default 10, 1..1000) query parameters, and the `meta` block of list
 * replies (components/schemas/Meta) with links that keep the request's other
 * query parameters.
 *
 * @module
 */
import type { Meta } from "../schemas.ts";
import { unprocessable } from "./api_error.ts";

/** components/parameters/Page and PerPage. */
const PAGE = { name: "page", default: 1, min: 1, max: 100_000 } as const;
const PER_PAGE = { name: "per_page", default: 10, min: 1, max: 1000 } as const;

/** Which slice of a list a request asks for. */
export interface PageRequest {
  page: number;
  perPage: number;
}

/**
 * The page a request asks for.
 * @throws {ApiError} 422 when `page` or `per_page` is not an integer in its range
 */
export function pageRequest(query: URLSearchParams): PageRequest {
  const problems: string[] = [];
  const read = (p: typeof PAGE | typeof PER_PAGE) => {
    const text = query.get(p.name);
    if (text === null) return p.default;
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < p.min || value > p.max) {
      problems.push(`${p.name}: must be an integer from ${p.min} to ${p.max}, got "${text}"`);
    }
    return value;
  };
  const request = { page: read(PAGE), perPage: read(PER_PAGE) };
  if (problems.length > 0) throw unprocessable(...problems);
  return request;
}

/**
 * The items of the requested page and the reply's `meta`. A page past the
 * last is empty (its `previous` still points back). Links are `path` with the
 * request's query, `page` and `per_page` replaced.
 */
export function paginate<T>(
  items: readonly T[],
  { page, perPage }: PageRequest,
  { path, query }: { path: string; query: URLSearchParams },
): { items: T[]; meta: Meta } {
  const total = items.length;
  const lastPage = Math.max(1, Math.ceil(total / perPage));
  const link = (n: number) => {
    const params = new URLSearchParams(query);
    params.delete("page");
    params.delete("per_page");
    params.append("page", String(n));
    params.append("per_page", String(perPage));
    return { href: `${path}?${params}` };
  };
  const meta: Meta = {
    first: link(1),
    ...(page > 1 ? { previous: link(Math.min(page - 1, lastPage)) } : {}),
    self: link(page),
    ...(page < lastPage ? { next: link(page + 1) } : {}),
    last: link(lastPage),
    total,
    current_page: page,
    last_page: lastPage,
  };
  return { items: items.slice((page - 1) * perPage, page * perPage), meta };
}
