// An HTTP/2 client that writes its own frames (RFC 9113) on a Unix socket, for requests that node's
// http2 client refuses to send: uppercase or invalid field names, bytes outside the field-value
// grammar, missing, duplicate or misplaced pseudo-headers, connection-specific fields, header blocks
// split over CONTINUATION frames, invalid HPACK. It reads back just enough to say how each stream
// ended: the response fields (HPACK-decoded), an RST_STREAM code, or the connection's GOAWAY/close.
import { connect, type Socket } from "node:net";
import { encodeLiteralBlock, HpackDecoder, type Field } from "./hpack";

export type { Field } from "./hpack";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const enum FrameType {
  Data = 0,
  Headers = 1,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  Goaway = 7,
  WindowUpdate = 8,
  Continuation = 9,
}
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's initial value: no frame this client sends is larger. */
const MAX_FRAME = 16_384;
/** Our receive window, kept wide open: a reply is never held up by this client. */
const WINDOW = 2 ** 31 - 1 - 65_535;

/** How one stream ended. */
export interface StreamOutcome {
  /** Response header fields, then trailer fields, in order. */
  headers: Field[];
  trailers: Field[];
  /** The server's RST_STREAM error code, when it reset the stream. */
  rstCode?: number;
  /** The GOAWAY error code, when the connection went away before the stream ended. */
  goawayCode?: number;
  /** The connection closed before the stream ended. */
  connectionClosed?: boolean;
  /** This client reset the stream (RST_STREAM CANCEL) before it ended. */
  cancelled?: boolean;
  dataBytes: number;
}

export interface RequestOptions {
  /** DATA frames' payload; with none, the HEADERS frame ends the stream. */
  body?: Uint8Array;
  /** A header block given as bytes, not fields (invalid HPACK). */
  rawBlock?: Buffer;
  /** Split the header block into this many HEADERS + CONTINUATION frames. */
  fragments?: number;
  /** Leave the request stream open after the body (no END_STREAM). */
  keepOpen?: boolean;
  /** A trailing header block after the body, which then ends the stream (RFC 9113 §8.1). */
  trailers?: readonly Field[];
  /** Reset the stream (RST_STREAM CANCEL) this long after sending it, unless it ended before. */
  cancelAfterMs?: number;
}

interface OpenStream {
  outcome: StreamOutcome;
  resolve: (outcome: StreamOutcome) => void;
}

export class RawHttp2Connection {
  readonly #socket: Socket;
  readonly #decoder = new HpackDecoder();
  readonly #streams = new Map<number, OpenStream>();
  #nextStreamId = 1;
  #buffered: Buffer = Buffer.alloc(0);
  #block: { streamId: number; flags: number; parts: Buffer[] } | undefined;
  #closed = false;
  /** The GOAWAY the server sent, if any. */
  goaway: { code: number; lastStreamId: number } | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => this.#onClose());
  }

  static async open(socketPath: string): Promise<RawHttp2Connection> {
    const socket = connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const connection = new RawHttp2Connection(socket);
    const windowUpdate = Buffer.alloc(4);
    windowUpdate.writeUInt32BE(WINDOW);
    socket.write(Buffer.concat([PREFACE, frame(FrameType.Settings, 0, 0, settingsPayload({ 0x4: WINDOW })), frame(FrameType.WindowUpdate, 0, 0, windowUpdate)]));
    return connection;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Streams sent whose end has not been seen yet. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** Sends one request and resolves once its stream has ended, however it ended. */
  request(fields: readonly Field[], opts: RequestOptions = {}): Promise<StreamOutcome> {
    const streamId = this.#nextStreamId;
    this.#nextStreamId += 2;
    const outcome: StreamOutcome = { headers: [], trailers: [], dataBytes: 0 };
    if (this.#closed) return Promise.resolve({ ...outcome, connectionClosed: true, goawayCode: this.goaway?.code });
    const done = new Promise<StreamOutcome>((resolve) => this.#streams.set(streamId, { outcome, resolve }));
    const block = opts.rawBlock ?? encodeLiteralBlock(fields);
    const endStream = !opts.body && !opts.keepOpen && !opts.trailers;
    const parts = split(block, opts.fragments ?? Math.max(1, Math.ceil(block.length / MAX_FRAME)));
    const frames = parts.map((part, i) =>
      frame(
        i === 0 ? FrameType.Headers : FrameType.Continuation,
        (i === parts.length - 1 ? END_HEADERS : 0) | (i === 0 && endStream ? END_STREAM : 0),
        streamId,
        part,
      ),
    );
    if (opts.body) {
      const chunks = split(Buffer.from(opts.body), Math.max(1, Math.ceil(opts.body.length / MAX_FRAME)));
      const last = chunks.length - 1;
      chunks.forEach((chunk, i) => frames.push(frame(FrameType.Data, i === last && !opts.keepOpen && !opts.trailers ? END_STREAM : 0, streamId, chunk)));
    }
    if (opts.trailers) frames.push(frame(FrameType.Headers, END_HEADERS | (opts.keepOpen ? 0 : END_STREAM), streamId, encodeLiteralBlock(opts.trailers)));
    this.#socket.write(Buffer.concat(frames));
    if (opts.cancelAfterMs !== undefined) {
      const timer = setTimeout(() => this.#cancel(streamId), opts.cancelAfterMs);
      void done.finally(() => clearTimeout(timer));
    }
    return done;
  }

  /** Ends a stream from this side (RST_STREAM CANCEL), as a client giving up on a call does. */
  #cancel(streamId: number): void {
    const stream = this.#streams.get(streamId);
    if (!stream || this.#closed) return;
    const code = Buffer.alloc(4);
    code.writeUInt32BE(8);
    this.#socket.write(frame(FrameType.RstStream, 0, streamId, code));
    stream.outcome.cancelled = true;
    this.#end(streamId);
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(chunk: Buffer): void {
    this.#buffered = this.#buffered.length ? Buffer.concat([this.#buffered, chunk]) : chunk;
    while (this.#buffered.length >= 9) {
      const length = this.#buffered.readUIntBE(0, 3);
      if (this.#buffered.length < 9 + length) return;
      const type = this.#buffered[3]!;
      const flags = this.#buffered[4]!;
      const streamId = this.#buffered.readUInt32BE(5) & 0x7fffffff;
      const payload = this.#buffered.subarray(9, 9 + length);
      this.#buffered = this.#buffered.subarray(9 + length);
      this.#frame(type, flags, streamId, payload);
    }
  }

  #frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case FrameType.Settings:
        if (!(flags & ACK)) this.#socket.write(frame(FrameType.Settings, ACK, 0, Buffer.alloc(0)));
        return;
      case FrameType.Ping:
        if (!(flags & ACK)) this.#socket.write(frame(FrameType.Ping, ACK, 0, payload));
        return;
      case FrameType.Headers: {
        let fragment = payload;
        if (flags & PADDED) fragment = fragment.subarray(1, fragment.length - payload[0]!);
        if (flags & PRIORITY) fragment = fragment.subarray(5);
        this.#block = { streamId, flags, parts: [fragment] };
        if (flags & END_HEADERS) this.#endBlock();
        return;
      }
      case FrameType.Continuation:
        this.#block?.parts.push(payload);
        if (flags & END_HEADERS) this.#endBlock();
        return;
      case FrameType.Data: {
        const stream = this.#streams.get(streamId);
        if (stream) stream.outcome.dataBytes += payload.length;
        if (flags & END_STREAM) this.#end(streamId);
        return;
      }
      case FrameType.RstStream: {
        const stream = this.#streams.get(streamId);
        if (stream) stream.outcome.rstCode = payload.readUInt32BE(0);
        this.#end(streamId);
        return;
      }
      case FrameType.Goaway: {
        const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
        // The first GOAWAY says why; a second one (Bun follows with INTERNAL_ERROR) only repeats it.
        this.goaway ??= { code: payload.readUInt32BE(4), lastStreamId };
        // Streams above the last one the server processed were never seen: they end now.
        for (const [id, stream] of this.#streams) {
          if (id > lastStreamId) {
            stream.outcome.goawayCode = this.goaway!.code;
            this.#end(id);
          }
        }
        return;
      }
      default:
        return;
    }
  }

  #endBlock(): void {
    const { streamId, flags, parts } = this.#block!;
    this.#block = undefined;
    // Decoded even for a stream no longer tracked: the dynamic table must stay in step.
    const fields = this.#decoder.decode(Buffer.concat(parts));
    const stream = this.#streams.get(streamId);
    if (stream) {
      if (stream.outcome.headers.length === 0) stream.outcome.headers = fields;
      else stream.outcome.trailers = fields;
    }
    if (flags & END_STREAM) this.#end(streamId);
  }

  #end(streamId: number): void {
    const stream = this.#streams.get(streamId);
    if (!stream) return;
    this.#streams.delete(streamId);
    // A stream the server ended without answering, on a connection it is ending, ended with it.
    if (this.goaway && !stream.outcome.headers.length && stream.outcome.rstCode === undefined) stream.outcome.goawayCode ??= this.goaway.code;
    stream.resolve(stream.outcome);
  }

  #onClose(): void {
    this.#closed = true;
    for (const [id, stream] of this.#streams) {
      stream.outcome.connectionClosed = true;
      if (this.goaway) stream.outcome.goawayCode ??= this.goaway.code;
      this.#end(id);
    }
  }
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function settingsPayload(settings: Record<number, number>): Buffer {
  const entries = Object.entries(settings);
  const out = Buffer.alloc(6 * entries.length);
  entries.forEach(([id, value], i) => {
    out.writeUInt16BE(Number(id), 6 * i);
    out.writeUInt32BE(value, 6 * i + 2);
  });
  return out;
}

/** `n` consecutive pieces of `bytes` (some may be empty). */
function split(bytes: Buffer, n: number): Buffer[] {
  const size = Math.ceil(bytes.length / n);
  return Array.from({ length: n }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
}

/** The value of the last field named `name`. */
export function field(fields: readonly Field[], name: string): string | undefined {
  return fields.findLast(([n]) => n === name)?.[1];
}
