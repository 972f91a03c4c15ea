// HPACK (RFC 7541) for a test client that writes its own HTTP/2 frames: the encoder sends every field
// as a literal without indexing, so that any name or byte goes on the wire exactly as given (node's
// http2 client refuses many of the fields a fuzz must send); the decoder reads what the server sends
// back (static and dynamic table, Huffman), which is all a gRPC status needs.

/** A header field as bytes on the wire: latin1 strings, so every byte 0-255 survives. */
export type Field = [name: string, value: string];

/** RFC 7541 Appendix A. */
const STATIC_TABLE: readonly Field[] = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"], [":path", "/index.html"],
  [":scheme", "http"], [":scheme", "https"], [":status", "200"], [":status", "204"], [":status", "206"],
  [":status", "304"], [":status", "400"], [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""], ["accept", ""],
  ["access-control-allow-origin", ""], ["age", ""], ["allow", ""], ["authorization", ""], ["cache-control", ""],
  ["content-disposition", ""], ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""], ["date", ""], ["etag", ""],
  ["expect", ""], ["expires", ""], ["from", ""], ["host", ""], ["if-match", ""], ["if-modified-since", ""],
  ["if-none-match", ""], ["if-range", ""], ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""],
  ["location", ""], ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""],
  ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""], ["set-cookie", ""],
  ["strict-transport-security", ""], ["transfer-encoding", ""], ["user-agent", ""], ["vary", ""], ["via", ""],
  ["www-authenticate", ""],
];

/**
 * RFC 7541 Appendix B as code lengths, one letter a symbol ('a' = 5 bits), symbols 0-256 (256 is
 * EOS). The table is a canonical Huffman code, so the lengths alone give every code.
 */
const HUFFMAN_LENGTHS =
  "isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhfibccccccccccccccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgjixprpprrrsrssssststtrstssssqrsrsstrqprrssqsrrtqrssqqrqsrssprrrsrrsvvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwvz";

/** code length → (code → symbol). */
const HUFFMAN_DECODE: Map<number, Map<number, number>> = (() => {
  const lengths = [...HUFFMAN_LENGTHS].map((c) => c.charCodeAt(0) - 97 + 5);
  const order = lengths.map((_, symbol) => symbol).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const table = new Map<number, Map<number, number>>();
  let code = 0;
  let previous = lengths[order[0]!]!;
  order.forEach((symbol, i) => {
    const length = lengths[symbol]!;
    if (i > 0) code = (code + 1) * 2 ** (length - previous);
    previous = length;
    if (!table.has(length)) table.set(length, new Map());
    table.get(length)!.set(code, symbol);
  });
  return table;
})();

export class HpackError extends Error {}

function huffmanDecode(bytes: Uint8Array): string {
  let out = "";
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const symbol = HUFFMAN_DECODE.get(length)?.get(code);
      if (symbol === undefined) {
        if (length > 30) throw new HpackError("invalid Huffman code");
        continue;
      }
      if (symbol === 256) throw new HpackError("EOS in a Huffman string");
      out += String.fromCharCode(symbol);
      code = 0;
      length = 0;
    }
  }
  // Padding: fewer than 8 bits, all ones (the EOS prefix).
  if (length > 7 || code !== 2 ** length - 1) throw new HpackError("invalid Huffman padding");
  return out;
}

/** An integer with an N-bit prefix (RFC 7541 §5.1), appended to `out`. */
export function encodeInteger(value: number, prefixBits: number, firstByteFlags: number, out: number[]): void {
  const max = 2 ** prefixBits - 1;
  if (value < max) {
    out.push(firstByteFlags | value);
    return;
  }
  out.push(firstByteFlags | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

function encodeString(text: string, out: number[]): void {
  encodeInteger(text.length, 7, 0, out);
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff);
}

/** A header block of literal fields without indexing, new names (RFC 7541 §6.2.2), no Huffman. */
export function encodeLiteralBlock(fields: readonly Field[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    out.push(0x00);
    encodeString(name, out);
    encodeString(value, out);
  }
  return Buffer.from(out);
}

/** One connection's decoding state: the dynamic table persists from header block to header block. */
export class HpackDecoder {
  #dynamic: Field[] = [];
  #size = 0;
  #maxSize = 4096;

  decode(block: Uint8Array): Field[] {
    const fields: Field[] = [];
    let at = 0;
    const integer = (prefixBits: number): number => {
      if (at >= block.length) throw new HpackError("truncated integer");
      const max = 2 ** prefixBits - 1;
      let value = block[at++]! & max;
      if (value < max) return value;
      for (let shift = 0; ; shift += 7) {
        if (at >= block.length || shift > 28) throw new HpackError("bad integer");
        const byte = block[at++]!;
        value += (byte & 0x7f) * 2 ** shift;
        if (byte < 128) return value;
      }
    };
    const string = (): string => {
      if (at >= block.length) throw new HpackError("truncated string");
      const huffman = (block[at]! & 0x80) !== 0;
      const length = integer(7);
      if (at + length > block.length) throw new HpackError("truncated string");
      const bytes = block.subarray(at, (at += length));
      return huffman ? huffmanDecode(bytes) : Buffer.from(bytes).toString("latin1");
    };
    const entry = (index: number): Field => {
      const field = index <= STATIC_TABLE.length ? STATIC_TABLE[index - 1] : this.#dynamic[index - STATIC_TABLE.length - 1];
      if (index === 0 || !field) throw new HpackError(`no table entry ${index}`);
      return field;
    };
    while (at < block.length) {
      const byte = block[at]!;
      if (byte & 0x80) {
        fields.push(entry(integer(7)));
      } else if (byte & 0x40) {
        const index = integer(6);
        const field: Field = [index ? entry(index)[0] : string(), string()];
        this.#add(field);
        fields.push(field);
      } else if (byte & 0x20) {
        this.#maxSize = integer(5);
        this.#evict();
      } else {
        const index = integer(4);
        fields.push([index ? entry(index)[0] : string(), string()]);
      }
    }
    return fields;
  }

  #add(field: Field): void {
    this.#dynamic.unshift(field);
    this.#size += field[0].length + field[1].length + 32;
    this.#evict();
  }

  #evict(): void {
    while (this.#size > this.#maxSize && this.#dynamic.length) {
      const [name, value] = this.#dynamic.pop()!;
      this.#size -= name.length + value.length + 32;
    }
  }
}
