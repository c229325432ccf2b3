/**
 * Certificate chains made with the openssl command line, with exact validity dates (`openssl ca
 * -startdate/-enddate`, which OpenSSL 3.0 has; `x509 -not_after` needs 3.4): a root CA, CAs it
 * signs, and leaf certificates for 127.0.0.1, each in a directory of its own.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

export interface Issued {
  /** Subject common name. */
  cn: string;
  /** PEM certificate. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Directory holding its files and, for a CA, its signing database. */
  dir: string;
}

const asn1 = (t: Date) => t.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";

const CA_CONFIG = [
  "[ca]",
  "default_ca = c",
  "[c]",
  "database = db/index.txt",
  "new_certs_dir = db",
  "serial = db/serial",
  "default_md = sha256",
  "policy = p",
  "copy_extensions = copy",
  "unique_subject = no",
  "[p]",
  "commonName = supplied",
  "[v3_ca]",
  "basicConstraints = critical,CA:true",
  "keyUsage = critical,keyCertSign,cRLSign",
  "subjectKeyIdentifier = hash",
  "authorityKeyIdentifier = keyid",
  "[v3_leaf]",
  "basicConstraints = CA:false",
  "keyUsage = critical,digitalSignature",
  "extendedKeyUsage = serverAuth",
  "subjectKeyIdentifier = hash",
  "authorityKeyIdentifier = keyid",
  "",
].join("\n");

/**
 * A certificate for `cn` valid from `start` to `end`: a CA when `ca`, else a server certificate for
 * IP 127.0.0.1; signed by `issuer`, or self-signed without one. `key`: the PEM private key to
 * certify instead of a new one (a cross-signed copy of a CA: same subject and key, another issuer).
 * `san`: a server certificate's subjectAltName instead of IP:127.0.0.1 (DNS:other.example: another host).
 */
export function issue(dir: string, opts: { cn: string; start: Date; end: Date; ca: boolean; issuer?: Issued; key?: string; san?: string }): Issued {
  mkdirSync(path.join(dir, "db"), { recursive: true });
  writeFileSync(path.join(dir, "db", "index.txt"), "");
  writeFileSync(path.join(dir, "db", "serial"), `${Math.floor(Math.random() * 1e8).toString(16).padStart(8, "0")}\n`);
  writeFileSync(path.join(dir, "ca.cnf"), CA_CONFIG);
  const run = (args: string[], cwd = dir) => execFileSync("openssl", args, { cwd, stdio: "pipe" });
  const san = opts.ca ? [] : ["-addext", `subjectAltName=${opts.san ?? "IP:127.0.0.1"}`];
  if (opts.key) writeFileSync(path.join(dir, "key.pem"), opts.key);
  const newKey = opts.key ? ["-key", "key.pem"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem"];
  run(["req", "-new", ...newKey, "-subj", `/CN=${opts.cn}`, ...san, "-out", "req.csr"]);
  const signer = opts.issuer;
  const dates = ["-startdate", asn1(opts.start), "-enddate", asn1(opts.end)];
  const ext = ["-extensions", opts.ca ? "v3_ca" : "v3_leaf"];
  const csr = path.join(dir, "req.csr");
  const out = path.join(dir, "cert.pem");
  if (signer) run(["ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "cert.pem", "-keyfile", "key.pem", "-in", csr, ...dates, ...ext, "-out", out], signer.dir);
  else run(["ca", "-batch", "-notext", "-config", "ca.cnf", "-selfsign", "-keyfile", "key.pem", "-in", csr, ...dates, ...ext, "-out", out]);
  return { cn: opts.cn, cert: readFileSync(out, "utf8"), key: readFileSync(path.join(dir, "key.pem"), "utf8"), dir };
}
