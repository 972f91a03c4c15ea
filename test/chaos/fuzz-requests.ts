// Generated requests for the fuzz test: seeded, so a failure names a case that can be replayed.
// Each case is a raw gRPC exchange (path, content-type, body bytes) so that framing itself can be
// wrong, not only the message inside it.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ComputeDriver,
  CreateSandboxRequestSchema,
  DeleteSandboxRequestSchema,
  GetSandboxRequestSchema,
  StartSandboxRequestSchema,
  StopSandboxRequestSchema,
  ValidateSandboxCreateRequestSchema,
} from "../../src/gen/compute_driver_pb";
import { TEST_IMAGE } from "../support/requests";

export interface FuzzCase {
  kind: string;
  path: string;
  contentType: string;
  body: Uint8Array;
  /** The sandbox id a CreateSandbox body carries, when it decodes. */
  createdId?: string;
}

/** mulberry32 (small, fast, seeded), and the draws every fuzz generator makes from it. */
export class SeededRandom {
  #a: number;

  constructor(seed: number) {
    this.#a = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** 0 to n − 1. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const SERVICE = `/${ComputeDriver.typeName}/`;
const GRPC = "application/grpc";

export function frame(message: Uint8Array, opts: { declaredLength?: number } = {}): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, 0);
  view.setUint32(1, opts.declaredLength ?? message.length);
  out.set(message, 5);
  return out;
}

export class FuzzGenerator {
  readonly #rng: SeededRandom;
  constructor(seed: number, private readonly prefix: string) {
    this.#rng = new SeededRandom(seed);
  }

  #bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#rng.int(256);
    return out;
  }
  #string(): string {
    return this.#rng.pick([
      () => "",
      () => "x".repeat(1 + this.#rng.int(300)),
      () => "y".repeat(64 * 1024 + this.#rng.int(64 * 1024)),
      () => "Has_Upper.And,Comma",
      () => "../../etc/passwd",
      () => "a\u0000b",
      () => "\u{1F600}\u200b\uFFFD",
      () => "-leading-dash",
      () => "ok-name",
      () => String(this.#rng.int(1e9)),
      () => Buffer.from(this.#bytes(1 + this.#rng.int(40))).toString("latin1"),
      () => "${jndi:ldap://x}",
      () => "a".repeat(63),
      () => "a".repeat(64),
    ])();
  }
  #junk(depth: number): unknown {
    if (depth > 6) return this.#string();
    return this.#rng.pick([
      () => this.#string(),
      () => this.#rng.int(1e6) - 5e5,
      () => this.#rng.next() * 1e300,
      () => null,
      () => this.#rng.next() < 0.5,
      () => Array.from({ length: this.#rng.int(5) }, () => this.#junk(depth + 1)),
      () => Object.fromEntries(Array.from({ length: this.#rng.int(5) }, () => [this.#rng.pick(["pod", "containers", "volumes", "agent", "name", "host_network", this.#string().slice(0, 30)]), this.#junk(depth + 1)])),
    ])();
  }
  #deepJunk(): unknown {
    let v: unknown = "leaf";
    for (let i = 0, n = 50 + this.#rng.int(200); i < n; i++) v = { pod: v };
    return v;
  }
  #struct(): Record<string, unknown> | undefined {
    const r = this.#rng.int(4);
    if (r === 0) return undefined;
    if (r === 1) return { pod: this.#deepJunk() } as Record<string, unknown>;
    const j = this.#junk(0);
    return j !== null && typeof j === "object" && !Array.isArray(j) ? (j as Record<string, unknown>) : { value: j };
  }
  #map(): Record<string, string> {
    return Object.fromEntries(Array.from({ length: this.#rng.int(4) }, () => [this.#rng.pick(["PATH", "GOOD_NAME", "BAD-NAME", "", "1X", this.#string().slice(0, 20)]), this.#string()]));
  }

  /** A mostly-invalid DriverSandbox: each field keeps a valid value only now and then. */
  #sandbox(): { id: string; message: any } {
    const valid = () => this.#rng.next() < 0.6;
    const suffix = `${this.#rng.int(1e9).toString(36)}`;
    const id = valid() ? `${this.prefix}-id-${suffix}` : this.#string();
    const message = {
      id,
      name: valid() ? `${this.prefix}-${suffix}` : this.#string(),
      workspace: valid() ? "ws" : this.#string(),
      spec: {
        logLevel: valid() ? "info" : this.#string(),
        environment: valid() ? {} : this.#map(),
        sandboxToken: this.#string(),
        command: valid() ? [] : Array.from({ length: this.#rng.int(4) }, () => this.#string()),
        tty: this.#rng.next() < 0.5,
        template: {
          image: valid() ? TEST_IMAGE : this.#string(),
          agentSocketPath: valid() ? "" : this.#string(),
          labels: valid() ? {} : this.#map(),
          environment: valid() ? {} : this.#map(),
          resources: valid() ? undefined : { cpuLimit: this.#string(), memoryRequest: this.#rng.pick(["1Gi", "-1", "lots", this.#string()]) },
          driverConfig: valid() ? undefined : (this.#struct() as any),
          platformConfig: valid() ? undefined : (this.#struct() as any),
        },
        ...(valid() ? {} : { resourceRequirements: { gpu: { count: this.#rng.pick([0, 1, 2, 3, 2 ** 32 - 1, this.#rng.int(100)]) } } }),
      },
    };
    return { id, message };
  }

  #idRequest(): { sandboxId: string; sandboxName: string } {
    return { sandboxId: this.#rng.next() < 0.3 ? `${this.prefix}-id-missing` : this.#string(), sandboxName: this.#rng.next() < 0.5 ? "" : this.#string() };
  }

  /** A well-framed request whose message is generated, mostly wrong. */
  mutatedValid(): FuzzCase {
    const method = this.#rng.pick(["CreateSandbox", "ValidateSandboxCreate", "GetSandbox", "DeleteSandbox", "StopSandbox", "StartSandbox", "ListSandboxes", "GetCapabilities"]);
    let body: Uint8Array;
    let createdId: string | undefined;
    switch (method) {
      case "CreateSandbox": {
        const { id, message } = this.#sandbox();
        body = toBinary(CreateSandboxRequestSchema, create(CreateSandboxRequestSchema, { sandbox: message }));
        createdId = id;
        break;
      }
      case "ValidateSandboxCreate":
        body = toBinary(ValidateSandboxCreateRequestSchema, create(ValidateSandboxCreateRequestSchema, { sandbox: this.#sandbox().message }));
        break;
      case "GetSandbox":
        body = toBinary(GetSandboxRequestSchema, create(GetSandboxRequestSchema, this.#idRequest()));
        break;
      case "DeleteSandbox":
        body = toBinary(DeleteSandboxRequestSchema, create(DeleteSandboxRequestSchema, this.#idRequest()));
        break;
      case "StopSandbox":
        body = toBinary(StopSandboxRequestSchema, create(StopSandboxRequestSchema, this.#idRequest()));
        break;
      case "StartSandbox":
        body = toBinary(StartSandboxRequestSchema, create(StartSandboxRequestSchema, this.#idRequest()));
        break;
      default:
        body = new Uint8Array();
    }
    return { kind: "mutated-valid", path: SERVICE + method, contentType: GRPC, body: frame(body), createdId };
  }

  /** A valid CreateSandbox encoding with a few bytes flipped: often undecodable, sometimes another message. */
  flippedBytes(): FuzzCase {
    const { message } = this.#sandbox();
    const bytes = toBinary(CreateSandboxRequestSchema, create(CreateSandboxRequestSchema, { sandbox: message }));
    for (let i = 0, n = 1 + this.#rng.int(4); i < n && bytes.length > 0; i++) bytes[this.#rng.int(bytes.length)] = this.#rng.int(256);
    let createdId: string | undefined;
    try {
      createdId = fromBinary(CreateSandboxRequestSchema, bytes).sandbox?.id;
    } catch {
      createdId = undefined;
    }
    return { kind: "flipped-bytes", path: `${SERVICE}CreateSandbox`, contentType: GRPC, body: frame(bytes), createdId };
  }

  garbage(): FuzzCase {
    const method = this.#rng.pick(["CreateSandbox", "ValidateSandboxCreate", "GetSandbox", "DeleteSandbox", "StopSandbox"]);
    return { kind: "garbage-message", path: SERVICE + method, contentType: GRPC, body: frame(this.#bytes(1 + this.#rng.int(512))) };
  }

  /** Raw bytes with no gRPC framing at all. */
  unframed(): FuzzCase {
    return { kind: "unframed-bytes", path: `${SERVICE}GetSandbox`, contentType: GRPC, body: this.#bytes(this.#rng.int(12)) };
  }

  truncated(): FuzzCase {
    const body = toBinary(GetSandboxRequestSchema, create(GetSandboxRequestSchema, { sandboxId: `${this.prefix}-id-missing` }));
    return { kind: "truncated-frame", path: `${SERVICE}GetSandbox`, contentType: GRPC, body: frame(body, { declaredLength: body.length + 1 + this.#rng.int(1000) }) };
  }

  /** A frame header announcing more than --max-request-bytes, followed by a few bytes. */
  oversizedHeader(): FuzzCase {
    return { kind: "oversized-declared", path: `${SERVICE}CreateSandbox`, contentType: GRPC, body: frame(this.#bytes(16), { declaredLength: 5 * 1024 * 1024 + this.#rng.int(2 ** 31) }) };
  }

  /** A real 5 MiB message, over the default 4 MiB limit. */
  oversizedBody(): FuzzCase {
    const body = toBinary(GetSandboxRequestSchema, create(GetSandboxRequestSchema, { sandboxId: "z".repeat(5 * 1024 * 1024) }));
    return { kind: "oversized-body", path: `${SERVICE}GetSandbox`, contentType: GRPC, body: frame(body) };
  }

  twoMessagesOnUnary(): FuzzCase {
    const one = frame(toBinary(GetSandboxRequestSchema, create(GetSandboxRequestSchema, { sandboxId: `${this.prefix}-id-missing` })));
    return { kind: "two-messages", path: `${SERVICE}GetSandbox`, contentType: GRPC, body: Buffer.concat([one, one]) };
  }

  unknownMethod(): FuzzCase {
    return { kind: "unknown-method", path: this.#rng.pick([`${SERVICE}Nope`, "/nope.Service/Get", "/", `${SERVICE}${this.#rng.int(1e9).toString(36)}`]), contentType: GRPC, body: frame(new Uint8Array()) };
  }

  wrongContentType(): FuzzCase {
    return { kind: "wrong-content-type", path: `${SERVICE}GetSandbox`, contentType: this.#rng.pick(["text/plain", "application/json", "application/grpc+json", "application/grpc-web"]), body: frame(this.#bytes(10)) };
  }

  /** The mix of the whole run: mostly mutated messages, a steady share of broken framing. */
  next(): FuzzCase {
    const r = this.#rng.next();
    if (r < 0.5) return this.mutatedValid();
    if (r < 0.65) return this.flippedBytes();
    if (r < 0.78) return this.garbage();
    if (r < 0.82) return this.unframed();
    if (r < 0.88) return this.truncated();
    if (r < 0.93) return this.oversizedHeader();
    if (r < 0.96) return this.twoMessagesOnUnary();
    if (r < 0.98) return this.unknownMethod();
    return this.wrongContentType();
  }
}
