// Each cached sandbox's DriverSandbox, encoded once when it changes and then written as-is into
// every GetSandbox, ListSandboxes and WatchSandboxes reply. protobuf-es writes a message's
// `$unknown` fields verbatim (the tag, then `data`: for a length-delimited field the varint length
// and the payload), so a reply that carries its `sandbox`/`sandboxes` field as unknown fields of
// the same number is byte for byte the reply built the normal way, without re-encoding 10,000
// sandboxes per List. JSON codecs drop unknown fields: JSON callers get the normal messages.
import { create, equals, toBinary, type UnknownField } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  DriverSandboxSchema,
  GetSandboxResponseSchema,
  ListSandboxesResponseSchema,
  WatchSandboxesEventSchema,
  WatchSandboxesSandboxEventSchema,
  type DriverSandbox,
  type GetSandboxResponse,
  type ListSandboxesResponse,
  type WatchSandboxesEvent,
} from "../gen/compute_driver_pb";

/** How the caller's codec writes replies: "json" cannot carry pre-encoded bytes. */
export type ReplyCodec = "binary" | "json";

const LIST_FIELD = ListSandboxesResponseSchema.field.sandboxes!.number;
const GET_FIELD = GetSandboxResponseSchema.field.sandbox!.number;
const EVENT_FIELD = WatchSandboxesEventSchema.field.sandbox!.number;
const EVENT_SANDBOX_FIELD = WatchSandboxesSandboxEventSchema.field.sandbox!.number;

/** Where a sandbox's CR is; Lists are ordered by it. */
export interface CrKey {
  readonly namespace: string;
  readonly name: string;
}

export interface EncodedSandbox {
  readonly sandbox: DriverSandbox;
  readonly cr: CrKey;
  /** The length-prefixed DriverSandbox: field `sandboxes` of a List, `sandbox` of a Get. */
  readonly sandboxData: Uint8Array;
  /** The length-prefixed WatchSandboxesSandboxEvent holding it: field `sandbox` of a watch event. */
  readonly eventData: Uint8Array;
  /**
   * The binary `sandbox` watch event carrying `eventData`, one per state, shared by every stream:
   * a new stream's initial state is then 10,000 references, not 10,000 new messages per stream
   * (64 streams opening at once held ~200 MB of them).
   */
  readonly binaryEvent: WatchSandboxesEvent;
}

export class EncodedSandboxes {
  readonly #byId = new Map<string, EncodedSandbox>();
  /** By CR name, then namespace; dropped when a sandbox comes, goes or moves to another CR. */
  #ordered: EncodedSandbox[] | undefined;
  /** The binary List reply of `#ordered`, built on the first List after any change. */
  #listBody: ListSandboxesResponse | undefined;

  get size(): number {
    return this.#byId.size;
  }

  get(sandboxId: string): EncodedSandbox | undefined {
    return this.#byId.get(sandboxId);
  }

  /**
   * Keeps `sandbox` as the state of `sandboxId`, encoding it only when it differs from the state
   * kept. Returns the new entry when it changed (to be sent to watch streams), else undefined.
   */
  set(sandboxId: string, sandbox: DriverSandbox, cr: CrKey): EncodedSandbox | undefined {
    const previous = this.#byId.get(sandboxId);
    const moved = previous === undefined || previous.cr.name !== cr.name || previous.cr.namespace !== cr.namespace;
    if (!moved && equals(DriverSandboxSchema, previous.sandbox, sandbox)) return undefined;
    const entry = encode(sandbox, cr);
    this.#byId.set(sandboxId, entry);
    this.#listBody = undefined;
    if (moved) this.#ordered = undefined;
    else if (this.#ordered) this.#ordered[this.#ordered.indexOf(previous)] = entry;
    return entry;
  }

  delete(sandboxId: string): boolean {
    const deleted = this.#byId.delete(sandboxId);
    if (deleted) {
      this.#ordered = undefined;
      this.#listBody = undefined;
    }
    return deleted;
  }

  /**
   * ListSandboxes' reply. The binary one carries every sandbox's bytes, joined once after a change
   * into one unknown field (protobuf-es writes its tag, then the bytes: those of the first
   * sandbox's length and payload, then every other sandbox's tag, length and payload), so Lists
   * between two changes share one buffer instead of each joining 10,000 pieces (~4 MB) again.
   */
  listReply(codec: ReplyCodec): ListSandboxesResponse {
    if (codec === "json") return create(ListSandboxesResponseSchema, { sandboxes: this.ordered().map((e) => e.sandbox) });
    this.#listBody ??= joinedList(this.ordered());
    return this.#listBody;
  }

  /**
   * Every sandbox by CR name, then namespace: the order does not depend on when the cache heard
   * of each sandbox, so the same state gives the same List (and the same bytes) after a restart;
   * the name comes first because it is what people sort by, the namespace only breaks ties
   * between workspaces outside shared mode.
   */
  ordered(): readonly EncodedSandbox[] {
    this.#ordered ??= [...this.#byId.values()].sort((a, b) => compareCrKeys(a.cr, b.cr));
    return this.#ordered;
  }
}

export function compareCrKeys(a: CrKey, b: CrKey): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  return 0;
}

function encode(sandbox: DriverSandbox, cr: CrKey): EncodedSandbox {
  const payload = toBinary(DriverSandboxSchema, sandbox);
  // Two small arrays, not one and a view into it: JSC moves a small typed array that gets a view
  // into a buffer of its own, which costs more than the second array (~2 MiB at 10,000).
  const sandboxData = new BinaryWriter().bytes(payload).finish();
  const event = new BinaryWriter().tag(EVENT_SANDBOX_FIELD, WireType.LengthDelimited).bytes(payload).finish();
  const eventData = new BinaryWriter().bytes(event).finish();
  const binaryEvent = create(WatchSandboxesEventSchema);
  binaryEvent.$unknown = [lengthDelimited(EVENT_FIELD, eventData)];
  return { sandbox, cr, sandboxData, eventData, binaryEvent };
}

function lengthDelimited(no: number, data: Uint8Array): UnknownField {
  return { no, wireType: WireType.LengthDelimited, data };
}

function joinedList(entries: readonly EncodedSandbox[]): ListSandboxesResponse {
  const response = create(ListSandboxesResponseSchema);
  if (entries.length === 0) return response;
  const tag = new BinaryWriter().tag(LIST_FIELD, WireType.LengthDelimited).finish();
  let length = -tag.length;
  for (const e of entries) length += tag.length + e.sandboxData.length;
  const data = new Uint8Array(length);
  let at = 0;
  entries.forEach((e, i) => {
    if (i > 0) {
      data.set(tag, at);
      at += tag.length;
    }
    data.set(e.sandboxData, at);
    at += e.sandboxData.length;
  });
  response.$unknown = [lengthDelimited(LIST_FIELD, data)];
  return response;
}

export function getResponse(entry: EncodedSandbox, codec: ReplyCodec): GetSandboxResponse {
  if (codec === "json") return create(GetSandboxResponseSchema, { sandbox: entry.sandbox });
  const response = create(GetSandboxResponseSchema);
  response.$unknown = [lengthDelimited(GET_FIELD, entry.sandboxData)];
  return response;
}

/** A `sandbox` watch event; `payload` is unset in the pre-encoded form, whose bytes carry it. The binary form is shared: never modify it. */
export function sandboxEvent(entry: EncodedSandbox, codec: ReplyCodec): WatchSandboxesEvent {
  if (codec === "json") return create(WatchSandboxesEventSchema, { payload: { case: "sandbox", value: { sandbox: entry.sandbox } } });
  return entry.binaryEvent;
}
