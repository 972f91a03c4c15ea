// Generated requests for the header fuzz: seeded, so a failure names a case that can be replayed.
// Each case is a header block written as raw HTTP/2 (see test/support/raw-http2.ts), so that it can
// break RFC 9113 and the gRPC HTTP/2 protocol (grpc/doc/PROTOCOL-HTTP2.md) in ways node's own
// client refuses to. Well-formed cases vary only what both allow, and say which answers are right.
import { create, toBinary } from "@bufbuild/protobuf";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { ComputeDriver, GetSandboxRequestSchema, ValidateSandboxCreateRequestSchema } from "../../src/gen/compute_driver_pb";
import type { Field } from "../support/raw-http2";
import { sandboxRequest } from "../support/requests";
import { frame, SeededRandom } from "./fuzz-requests";

export interface HeaderCase {
  /** The outcome class the summary counts it under. */
  kind: string;
  fields: Field[];
  body: Uint8Array;
  /** A header block that is not HPACK at all. */
  rawBlock?: Buffer;
  /** The header block split over this many HEADERS + CONTINUATION frames. */
  fragments?: number;
  /** A trailing header block after the body. */
  trailers?: Field[];
  /** The request body never ends: the client keeps its side open until it cancels. */
  keepOpen?: boolean;
  /** The client gives up on the call (RST_STREAM CANCEL) this long after sending it. */
  cancelAfterMs?: number;
  /** Well-formed per RFC 9113 and gRPC: the statuses a correct driver may answer. */
  expect?: readonly string[];
  /** A connection error by RFC 9113 (§4.3 HPACK, §10.5.1 header list size): sent on a connection of its own. */
  connectionFatal?: boolean;
}

const SERVICE = `/${ComputeDriver.typeName}/`;
/** Statuses of a call that reaches the API server while it is slow (--kube-timeout). */
const OUTAGE = ["UNAVAILABLE", "DEADLINE_EXCEEDED"];
/** gRPC's suggested limit for a request's headers (PROTOCOL-HTTP2.md); Bun advertises 64 KiB. */
const SUGGESTED_HEADER_BYTES = 8 * 1024;
const ADVERTISED_HEADER_LIST_BYTES = 65_535;
/** The outcome of a call the client cancelled before it ended (a watch always is). */
export const CLIENT_CANCEL = "CLIENT-CANCEL";
/** Appears in header values only: it must never reach a log line. */
export const SECRET_MARKER = "hdrfuzz-secret-7b1f";

/** A well-formed call: method, message (binary and JSON), and its right answers. */
interface Call {
  method: string;
  binary: Uint8Array;
  json: string;
  expect: readonly string[];
}

export class HeaderFuzzGenerator {
  readonly #rng: SeededRandom;
  readonly #calls: Call[];
  constructor(seed: number, prefix: string) {
    this.#rng = new SeededRandom(seed);
    const missing = create(GetSandboxRequestSchema, { sandboxId: `${prefix}-id-missing` });
    const valid = create(ValidateSandboxCreateRequestSchema, { sandbox: sandboxRequest({ id: `${prefix}-id-valid`, name: `${prefix}-valid` }) });
    this.#calls = [
      { method: "GetCapabilities", binary: new Uint8Array(), json: "{}", expect: ["OK"] },
      { method: "ListSandboxes", binary: new Uint8Array(), json: "{}", expect: ["OK"] },
      { method: "GetSandbox", binary: toBinary(GetSandboxRequestSchema, missing), json: JSON.stringify({ sandboxId: missing.sandboxId }), expect: ["NOT_FOUND", ...OUTAGE] },
      { method: "ValidateSandboxCreate", binary: toBinary(ValidateSandboxCreateRequestSchema, valid), json: "", expect: ["OK", ...OUTAGE] },
    ];
  }

  #chance(p: number): boolean {
    return this.#rng.next() < p;
  }
  /** A call to vary the headers of: mostly ones the driver answers from memory, some that reach the API server. */
  #call(): Call {
    const r = this.#rng.next();
    return this.#calls[r < 0.45 ? 0 : r < 0.8 ? 1 : r < 0.9 ? 2 : 3]!;
  }
  /** Bytes as a latin1 string: how raw-http2 puts any byte on the wire. */
  #bytes(n: number, from = 0, to = 256): string {
    let out = "";
    for (let i = 0; i < n; i++) out += String.fromCharCode(from + this.#rng.int(to - from));
    return out;
  }
  /** A gRPC ASCII-Value: printable ASCII, not starting or ending with a space (RFC 9113 §8.2.1). */
  #asciiValue(max: number): string {
    const inner = this.#bytes(this.#rng.int(max), 0x20, 0x7f);
    return `${this.#bytes(1, 0x21, 0x7f)}${inner}${inner ? this.#bytes(1, 0x21, 0x7f) : ""}`;
  }
  /** A gRPC Header-Name: 0-9 a-z _ - . */
  #headerName(): string {
    const chars = "0123456789abcdefghijklmnopqrstuvwxyz_-.";
    let name = "x-";
    for (let i = 0, n = 1 + this.#rng.int(30); i < n; i++) name += chars[this.#rng.int(chars.length)];
    return name;
  }
  #base64(bytes: number, padded: boolean): string {
    const text = Buffer.from(this.#bytes(bytes), "latin1").toString("base64");
    return padded ? text : text.replace(/=+$/, "");
  }

  /** The headers of a conforming gRPC client, in a random pseudo-header order. */
  #callFields(call: Call, contentType = "application/grpc"): Field[] {
    const pseudo: Field[] = [[":method", "POST"], [":scheme", this.#rng.pick(["http", "https"])], [":path", SERVICE + call.method]];
    const authority = this.#rng.pick([
      "localhost",
      "localhost:50051",
      "127.0.0.1:1",
      "[::1]:443",
      "tmp%2Fd%2Fdriver.sock", // grpcio 1.85 for unix:/tmp/d/driver.sock
      "%2Frun%2Fopenshell%2Fdriver.sock",
      "driver.sock",
      "xn--bcher-kva.example",
    ]);
    pseudo.push([":authority", authority]);
    for (let i = pseudo.length - 1; i > 0; i--) {
      const j = this.#rng.int(i + 1);
      [pseudo[i], pseudo[j]] = [pseudo[j]!, pseudo[i]!];
    }
    return [...pseudo, ["content-type", contentType], ["te", "trailers"]];
  }

  #message(call: Call, json: boolean, encoding?: string): Uint8Array {
    const bytes = json ? Buffer.from(call.json) : call.binary;
    if (encoding === "gzip" || encoding === "br") {
      const compressed = encoding === "gzip" ? gzipSync(bytes) : brotliCompressSync(bytes);
      const out = frame(compressed);
      out[0] = 1;
      return out;
    }
    return frame(bytes);
  }

  /** A well-formed call varying what RFC 9113 and gRPC allow: metadata, deadline, encodings, framing. */
  wellFormed(): HeaderCase {
    const call = this.#call();
    const variant = this.#rng.pick(["plain", "metadata", "timeout", "encoding", "content-type", "continuation", "user-agent", "trailers", "no-authority", "watch"] as const);
    if (variant === "watch") return this.#watch();
    const json = variant === "content-type" && call.json !== "" && this.#chance(0.5);
    const contentType = variant === "content-type" ? (json ? this.#rng.pick(["application/grpc+json", "application/grpc+json; charset=utf-8"]) : this.#rng.pick(["application/grpc+proto", "Application/GRPC", "application/grpc"])) : "application/grpc";
    const fields = this.#callFields(call, contentType);
    let expect = call.expect;
    let encoding: string | undefined;
    const c: Partial<HeaderCase> = {};
    switch (variant) {
      case "metadata": {
        let bytes = 0;
        for (let i = 0, n = this.#rng.int(60); i < n && bytes < SUGGESTED_HEADER_BYTES; i++) {
          const binary = this.#chance(0.3);
          const name = binary ? `${this.#headerName()}-bin` : this.#rng.pick([this.#headerName(), "authorization", "x-request-id", "traceparent", "grpc-previous-rpc-attempts"]);
          const value = binary ? this.#base64(this.#rng.int(300), this.#chance(0.5)) : name === "authorization" ? `Bearer ${SECRET_MARKER}` : name === "grpc-previous-rpc-attempts" ? String(1 + this.#rng.int(4)) : this.#asciiValue(this.#rng.pick([10, 200, 2000]));
          fields.push([name, value]);
          bytes += name.length + value.length + 32;
        }
        break;
      }
      case "timeout": {
        const digits = String(1 + this.#rng.int(10 ** (1 + this.#rng.int(8)) - 1));
        const unit = this.#rng.pick(["H", "M", "S", "m", "u", "n"]);
        fields.push(["grpc-timeout", digits + unit]);
        const ms = Number(digits) * { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[unit]!;
        // A deadline shorter than the call may take is the caller's choice; its answer is DEADLINE_EXCEEDED.
        if (ms < 10_000) expect = [...new Set([...expect, "DEADLINE_EXCEEDED"])];
        break;
      }
      case "encoding":
        encoding = this.#rng.pick(["identity", "gzip", "br", "gzip-uncompressed"]);
        fields.push(["grpc-encoding", encoding === "gzip-uncompressed" ? "gzip" : encoding]);
        if (this.#chance(0.7)) fields.push(["grpc-accept-encoding", this.#rng.pick(["identity,deflate,gzip", "gzip", "br, zstd", "snappy", "identity", "deflate,gzip,snappy,zstd,x-custom"])]);
        break;
      case "continuation":
        c.fragments = 2 + this.#rng.int(5);
        break;
      case "user-agent":
        fields.push(["user-agent", this.#rng.pick(["grpc-python/1.85.4 grpc-c/47.0.0 (linux; chttp2)", "grpc-go/1.70.0", "tonic/0.12.3", "connect-es/2.2.0", "grpc-node-js/1.14.7", this.#asciiValue(300)])]);
        if (this.#chance(0.5)) fields.push(["grpc-message-type", `openshell.compute.v1.${call.method}Request`]);
        break;
      case "no-authority":
        // RFC 9113 §8.3.1 and gRPC allow a request without :authority; Bun's http2 resets it
        // (PROTOCOL_ERROR) before the driver sees it unless a host field stands in. Every gRPC
        // client in use sends :authority; this pins Bun's behaviour so a change shows.
        fields.splice(fields.findIndex(([n]) => n === ":authority"), 1);
        if (this.#chance(0.5)) fields.push(["host", "localhost"]);
        else expect = ["RST 1"];
        break;
      case "trailers":
        // A request may end with a trailer section of ordinary fields (RFC 9113 §8.1).
        c.trailers = [["x-trailer", this.#asciiValue(40)]];
        break;
    }
    return { kind: `well-formed ${variant}`, fields, body: this.#message(call, json, encoding), expect, ...c };
  }

  /**
   * A WatchSandboxes, the gateway's long-lived call, with a random deadline and metadata, given up
   * by the client after a moment: the driver must let go of every one (its open-watch gauge).
   */
  #watch(): HeaderCase {
    const fields = this.#callFields({ method: "WatchSandboxes", binary: new Uint8Array(), json: "", expect: [] });
    const expect = [CLIENT_CANCEL];
    if (this.#chance(0.5)) {
      const timeout = this.#rng.pick(["1m", "50m", "1S", "30S", "99999999H", "720H"]);
      fields.push(["grpc-timeout", timeout]);
      if (timeout.endsWith("m") || timeout === "1S") expect.push("DEADLINE_EXCEEDED");
    }
    if (this.#chance(0.5)) fields.push(["x-request-id", this.#asciiValue(30)], ["authorization", `Bearer ${SECRET_MARKER}`]);
    return { kind: "well-formed watch", fields, body: frame(new Uint8Array()), expect, cancelAfterMs: 20 + this.#rng.int(400) };
  }

  /** A gRPC call with one thing made wrong: answered with an error status, an HTTP error or RST_STREAM. */
  malformed(): HeaderCase {
    const call = this.#call();
    const fields = this.#callFields(call);
    const body = this.#message(call, false);
    const set = (name: string, value: string | undefined) => {
      const at = fields.findIndex(([n]) => n === name);
      if (at >= 0) fields.splice(at, 1);
      if (value !== undefined) (name.startsWith(":") ? fields.unshift([name, value]) : fields.push([name, value]));
    };
    const kind = this.#rng.pick(["pseudo-header", "field-name", "field-value", "connection-specific", "content-type", "grpc-timeout", "grpc-encoding", "metadata", "http-semantics", "request-trailers"] as const);
    const c: HeaderCase = { kind: `malformed ${kind}`, fields, body };
    switch (kind) {
      case "pseudo-header":
        this.#rng.pick([
          () => set(this.#rng.pick([":method", ":scheme", ":path"]), undefined),
          () => fields.unshift(this.#rng.pick(fields.filter(([n]) => n.startsWith(":")))),
          () => fields.push([this.#rng.pick([":path", ":method", ":authority", ":foo"]), "x"]),
          () => fields.unshift([this.#rng.pick([":status", ":protocol", ":foo", ":"]), this.#rng.pick(["200", "websocket", ""])]),
          () => set(":method", this.#rng.pick(["GET", "PUT", "HEAD", "OPTIONS", "DELETE", "CONNECT", "post", "P0ST", "", "POST ", "PO ST", this.#bytes(8)])),
          () => set(":path", this.#rng.pick(["", "*", "GetCapabilities", "//", `${SERVICE}Nope`, "/nope.Service/Get", `${SERVICE}GetCapabilities#frag`, `${SERVICE}GetCapabilities?${this.#bytes(20, 0x21, 0x7f)}`, `/${"a/".repeat(2000)}`, `/${this.#bytes(30)}`, `${SERVICE}%47etCapabilities`, `${SERVICE}../${call.method}`])),
          () => set(":scheme", this.#rng.pick(["", "ftp", "HTTP", "\u0000", "h t"])),
          () => set(":authority", this.#rng.pick(["[::1", "a b", "u:p@h", "%zz", "a/b", "?x", "#f", "x".repeat(8000), this.#bytes(20)])),
        ])();
        break;
      case "field-name":
        fields.push([this.#rng.pick(["X-Upper", "a b", "a:b", "a\u0000b", "a\u007fb", "caf\u00e9", "x\t", "\u00ff", `x${this.#bytes(3, 0, 0x20)}`]), "v"]);
        break;
      case "field-value":
        fields.push(["x-v", this.#rng.pick(["a\u0000b", "a\rb", "a\nb", " lead", "trail ", "\ttab", "a\u007fb", this.#bytes(20, 0, 0x20), this.#bytes(20)])]);
        break;
      case "connection-specific":
        this.#rng.pick([
          () => fields.push([this.#rng.pick(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]), this.#rng.pick(["close", "chunked", "h2c", "1"])]),
          () => set("te", this.#rng.pick(["gzip", "trailers, deflate", "", "TRAILERS"])),
          () => set("te", undefined),
          () => fields.push(["content-length", this.#rng.pick(["0", "99999", "abc", "-1", String(body.length)])]),
          () => fields.push(["host", this.#rng.pick(["other.example", "", "tmp%2Fd"])]),
        ])();
        break;
      case "content-type":
        set("content-type", this.#rng.pick([undefined, "", "text/plain", "application/json", "application/proto", "application/connect+proto", "application/grpc-web", "application/grpc-web-text", "application/grpc+xml", "application/grpc;charset=utf-8", "application/grpcx", this.#bytes(12), "application/grpc+json"]));
        break;
      case "grpc-timeout":
        this.#rng.pick([
          () => fields.push(["grpc-timeout", this.#rng.pick(["", "abc", "1", "S", "1s", "1x", "123456789S", "-1S", "+1S", "1.5S", "0S", "0n", "1S,2S", "99999999999999999999H", "1 S"])]),
          () => fields.push(["grpc-timeout", "1S"], ["grpc-timeout", "2S"]),
          () => fields.push(["grpc-timeout", `1${" ".repeat(1000 + this.#rng.int(20_000))}S`]),
        ])();
        break;
      case "grpc-encoding":
        this.#rng.pick([
          () => fields.push(["grpc-encoding", this.#rng.pick(["zstd", "deflate", "snappy", "", "GZIP", "x".repeat(10_000), "\u00e9".repeat(8000)])]),
          () => {
            fields.push(["grpc-encoding", this.#rng.pick(["gzip", "br", "identity"])]);
            c.body = frame(Buffer.from(this.#bytes(30), "latin1"));
            c.body[0] = 1;
          },
          () => {
            c.body = frame(Buffer.from(gzipSync(call.binary)));
            c.body[0] = 1;
          },
          () => fields.push(["grpc-encoding", "gzip"], ["grpc-encoding", "br"]),
          () => fields.push(["grpc-accept-encoding", this.#rng.pick([",,,", this.#bytes(40, 0x80, 0x100), "x".repeat(20_000), "gzip;q=0.5"])]),
        ])();
        break;
      case "metadata":
        this.#rng.pick([
          () => fields.push([`${this.#headerName()}-bin`, this.#rng.pick(["!!!", "a", "====", "YQ=", "Y Q==", this.#bytes(50, 0x20, 0x7f)])]),
          () => fields.push([this.#rng.pick(["x~y", "x!#$", "x^", "x|y"]), "v"]),
          () => fields.push([this.#rng.pick(["grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-x-reserved"]), this.#rng.pick(["0", "13", "%zz", "AAAA"])]),
          () => fields.push(["x-obs-text", this.#bytes(100, 0x80, 0x100)]),
          () => {
            for (let bytes = 0, limit = 8_000 + this.#rng.int(40_000); bytes < limit; ) {
              const value = `${SECRET_MARKER}${this.#asciiValue(4000)}`;
              fields.push([this.#headerName(), value]);
              bytes += value.length + 64;
            }
          },
          () => {
            for (let i = 0, n = 100 + this.#rng.int(300); i < n; i++) fields.push([`x-m${i}`, "v"]);
          },
        ])();
        break;
      case "http-semantics":
        fields.push(this.#rng.pick<Field>([["expect", "100-continue"], ["expect", "nope"], ["range", "bytes=0-1"], ["cookie", "a=b"], ["if-none-match", "*"], ["accept", "text/html"]]));
        break;
      case "request-trailers":
        // RFC 9113 §8.1: a trailer section must not carry pseudo-headers.
        c.trailers = [this.#rng.pick<Field>([[":path", "/x"], ["grpc-status", "0"], ["X-Bad", "1"], ["x-v", "a\u0000b"]])];
        break;
    }
    // Now and then the client gives up on it, or never finishes sending it and then gives up.
    if (this.#chance(0.1)) {
      c.keepOpen = this.#chance(0.5);
      c.cancelAfterMs = this.#rng.int(100);
    }
    return c;
  }

  /** A request whose header block ends its connection by RFC 9113: sent on a connection of its own. */
  connectionFatal(): HeaderCase {
    const call = this.#call();
    const body = this.#message(call, false);
    const kind = this.#rng.pick(["hpack-invalid", "header-list-over-limit", "empty-field-name"] as const);
    const c: HeaderCase = { kind: `conn-fatal ${kind}`, fields: this.#callFields(call), body, connectionFatal: true };
    if (kind === "hpack-invalid") {
      c.rawBlock = this.#rng.pick([
        () => Buffer.from([0xff, 0x7f]), // index 254: not in any table
        () => Buffer.from([0x00, 0x05, 0x61]), // a name shorter than its length
        () => Buffer.from([0x00, 0x81, 0xff, 0x01, 0x61]), // a Huffman string of padding only
        () => Buffer.from([0x3f, 0xe1, 0xff, 0x03]), // a table size over SETTINGS_HEADER_TABLE_SIZE
        () => Buffer.from(this.#bytes(1 + this.#rng.int(60)), "latin1"),
      ])();
    } else if (kind === "header-list-over-limit") {
      for (let bytes = 0; bytes <= ADVERTISED_HEADER_LIST_BYTES; bytes += 16_032) c.fields.push([this.#headerName(), "v".repeat(16_000)]);
    } else {
      c.fields.push(["", "x"]);
    }
    return c;
  }

  /** The run's mix: a third well-formed, most of the rest malformed, a few connection-fatal. */
  next(): HeaderCase {
    const r = this.#rng.next();
    if (r < 0.35) return this.wellFormed();
    if (r < 0.97) return this.malformed();
    return this.connectionFatal();
  }
}
