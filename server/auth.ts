/**
 * Who may use the admin API and the dashboard: an admin token (read and
 * act) and an optional read-only token (read everything, change nothing),
 * sent as a bearer header or kept in an HttpOnly, SameSite=Strict cookie set
 * by a login URL (`/login?token=…`, or any page URL with `?token=`, which
 * then redirects to the same URL without it, as Jupyter does). Every POST is
 * checked for a foreign Origin, and a cookie-authenticated POST must carry
 * one.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ApiError } from "./api_error.ts";

export type Role = "admin" | "readonly";

export interface AccessOptions {
  adminToken: string;
  /** A token that can read everything and change nothing. */
  readonlyToken?: string;
  /** This server's origin as browsers see it (behind a proxy); default: the request's own. */
  publicOrigin?: string;
}

/** What the auth middleware puts on the context. */
export interface AuthVariables {
  role: Role;
  /** Recorded in history for every action: the role, and the `X-Drover-Actor` header when sent. */
  actor: string;
}

export const TOKEN_COOKIE = "drover_token";

const encoder = new TextEncoder();

/** Compares in time that depends on the length only, not on where the strings differ. */
function sameSecret(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ (y[i % Math.max(y.length, 1)] ?? 0);
  return diff === 0;
}

/** The role a token grants, or undefined. */
export function roleOf(token: string | undefined, access: AccessOptions): Role | undefined {
  if (!token) return undefined;
  if (sameSecret(token, access.adminToken)) return "admin";
  if (access.readonlyToken && sameSecret(token, access.readonlyToken)) return "readonly";
  return undefined;
}

function bearer(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1];
}

const ACTOR_NAME = /^[\w.@:-]{1,64}$/;

/**
 * Authenticates API requests: 401 without a valid token, 403 for the
 * read-only token on a POST, 403 for a foreign Origin on a POST.
 */
export function requireAccess(access: AccessOptions): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const fromHeader = bearer(c);
    const token = fromHeader ?? getCookie(c, TOKEN_COOKIE);
    const role = roleOf(token, access);
    if (!role) throw new ApiError(401, "missing or wrong token");
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const origin = c.req.header("origin");
      const own = access.publicOrigin ?? new URL(c.req.url).origin;
      if (origin !== undefined && origin !== own) {
        throw new ApiError(
          403,
          `Origin ${origin} is not this server's (${own}): state-changing requests must come from it`,
        );
      }
      if (origin === undefined && fromHeader === undefined) {
        throw new ApiError(403, "a request authenticated by cookie must carry an Origin header to change anything");
      }
      if (role === "readonly") throw new ApiError(403, "the read-only token cannot change anything");
    }
    const name = c.req.header("x-drover-actor");
    c.set("role", role);
    c.set("actor", name && ACTOR_NAME.test(name) ? `${role}:${name}` : role);
    await next();
  };
}

/** Sets the token cookie for a valid `token` and answers with a redirect to `to`; 401 page otherwise. */
export function logIn(c: Context, access: AccessOptions, token: string | undefined, to: string): Response {
  if (!roleOf(token, access)) {
    return c.html(loginPage("That token is not valid. Paste the token Drover printed at start."), 401);
  }
  setCookie(c, TOKEN_COOKIE, token!, {
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    secure: new URL(c.req.url).protocol === "https:",
  });
  return c.redirect(to, 303);
}

export function logOut(c: Context): void {
  deleteCookie(c, TOKEN_COOKIE, { path: "/" });
}

/** Whether the request carries a valid token (header or cookie). */
export function hasAccess(c: Context, access: AccessOptions): boolean {
  return roleOf(bearer(c) ?? getCookie(c, TOKEN_COOKIE), access) !== undefined;
}

/** A minimal page that asks for the token (no script: it submits to /login). */
export function loginPage(message = "Paste the admin (or read-only) token Drover printed at start."): string {
  const text = message.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Drover: log in</title></head><body style="font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto">
<h1>Drover</h1><p>${text}</p><form method="get" action="/login"><label>Token
<input name="token" type="password" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button></form></body></html>`;
}
