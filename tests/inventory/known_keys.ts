/**
 * Real key material for the inventory tests: an SSH host key line and a CA
 * certificate (both public, made for these tests with ssh-keygen and openssl).
 *
 * @module
 */

/** An ed25519 host key line, as in /etc/ssh/ssh_host_ed25519_key.pub (with its comment). */
export const HOST_KEY_LINE =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6kVdubfWe7jc6hAWXOU/SxwefV/U1OD/PFp2oUNLHH root@n17";

/** {@linkcode HOST_KEY_LINE} as the inventory normalises it: type and key, no comment. */
export const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6kVdubfWe7jc6hAWXOU/SxwefV/U1OD/PFp2oUNLHH";

/** A self-signed P-256 CA certificate (CN=Drover test BMC CA, valid until 2126). */
export const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUNW4z79UxtDkawVGQlAHK3EnQYuwwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSRHJvdmVyIHRlc3QgQk1DIENBMCAXDTI2MTIwNzIxMzcwMloY
DzIxMjYxMTEzMjEzNzAyWjAdMRswGQYDVQQDDBJEcm92ZXIgdGVzdCBCTUMgQ0Ew
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATQ6iMmjb3oorB+Hb5OiZCpnGaHN7NC
AFUq8h84Zv+DzpEUt+tcSisp0F/Zhqu1UtA8DcCItrn0yp5HL6QAo54+o1MwUTAd
BgNVHQ4EFgQUo7ACN+8ojIvaBSTKZXbJ503tj4MwHwYDVR0jBBgwFoAUo7ACN+8o
jIvaBSTKZXbJ503tj4MwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
AiACP8Zw3oWiuMlxYaihSZ5U4AE/8RyQMu3mL7CVRyj3PgIhAK7YIlGaU9Ft+13h
321p/a0Q7Kqy2zVBaUHI2KjkacoZ
-----END CERTIFICATE-----
`;
