// Throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1 and a client certificate
// for CN=admin, made with the openssl CLI (node:crypto can parse X.509 but cannot issue it).

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(dir: string, args: string[]): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "kube-pki-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(dir, ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=kube-test-ca"]);
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl(dir, ["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver"]);
  openssl(dir, ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"]);
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  openssl(dir, ["req", ...ec, "-keyout", "client.key", "-out", "client.csr", "-subj", "/O=system:masters/CN=admin"]);
  openssl(dir, ["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "2", "-extfile", "client.ext"]);
  const f = (n: string) => join(dir, n);
  const r = (n: string) => readFileSync(f(n), "utf8");
  return {
    dir,
    caFile: f("ca.crt"),
    serverCertFile: f("server.crt"),
    serverKeyFile: f("server.key"),
    clientCertFile: f("client.crt"),
    clientKeyFile: f("client.key"),
    ca: r("ca.crt"),
    serverCert: r("server.crt"),
    serverKey: r("server.key"),
    clientCert: r("client.crt"),
    clientKey: r("client.key"),
  };
}

export const b64 = (s: string): string => Buffer.from(s).toString("base64");
