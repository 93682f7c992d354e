/**
 * A throwaway CA and a server certificate it signed, made with openssl in a
 * temporary directory, and how each runtime's client is told to trust it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Runtime } from "./processes.ts";

export interface TestCertificates {
  /** The temporary directory holding the files. */
  dir: string;
  /** Paths of the CA certificate, the server certificate and its key (PEM). */
  ca: string;
  cert: string;
  key: string;
  /** The CA certificate's PEM text (for `tls: { ca }`). */
  caPem: string;
  remove(): void;
}

/**
 * Makes the CA and a server certificate for `subjectAltNames` (openssl's
 * form: `IP:127.0.0.1`, `DNS:localhost`, `DNS:*.example.test`).
 */
export function makeCertificates(subjectAltNames: string[]): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "tunnel2-tls-"));
  const openssl = (args: string[]) => {
    const run = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    if (run.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${run.stderr.toString()}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=tunnel2 test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=tunnel2 test server"]);
  writeFileSync(join(dir, "server.ext"), [
    `subjectAltName=${subjectAltNames.join(",")}`,
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
  ].join("\n") + "\n");
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"]);
  const ca = join(dir, "ca.pem");
  return {
    dir,
    ca,
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
    caPem: readFileSync(ca, "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The environment that makes a client on `runtime` trust the CA in `caFile`. */
export const trustEnv = (runtime: Runtime, caFile: string): Record<string, string> =>
  runtime === "bun" ? { NODE_EXTRA_CA_CERTS: caFile } : { DENO_CERT: caFile };
