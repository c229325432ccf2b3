/**
 * The body read as an HTTP client reads it: content codings (gzip and x-gzip, deflate zlib-wrapped or
 * raw, br, identity; stacked ones undone in reverse order) decoded with node:zlib streams under
 * back-pressure, and the text decoded from the byte-order mark, else the Content-Type charset, else
 * UTF-8.
 */
import { Duplex } from "node:stream";
import { TextDecoder } from "node:util";
import * as zlib from "node:zlib";

/** Content codings decoded, by Content-Encoding token (RFC 9110 8.4.1; x-gzip is gzip). */
const CODINGS: Record<string, "gzip" | "deflate" | "br" | "identity"> = { gzip: "gzip", "x-gzip": "gzip", deflate: "deflate", br: "br", identity: "identity" };

/**
 * One content coding undone with node:zlib. The zlib stream is opened at the first byte (deflate:
 * zlib-wrapped when the first byte names method 8 and the header checksum holds, else raw deflate,
 * as servers send both), so an empty body needs none; its output is read under back-pressure, so a
 * small input that expands hugely stops when the reader stops.
 */
class ContentDecoder extends Duplex {
  #inner?: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress;
  /** The reader asked for more (_read) and nothing was pushed past the high-water mark since. */
  #wanted = false;

  constructor(readonly coding: "gzip" | "deflate" | "br") {
    super();
  }

  #open(first: Buffer) {
    const zlibWrapped = (first[0] & 0x0f) === 8 && (first.length < 2 || ((first[0] << 8) | first[1]) % 31 === 0);
    const inner =
      this.coding === "gzip" ? zlib.createGunzip() : this.coding === "br" ? zlib.createBrotliDecompress() : zlibWrapped ? zlib.createInflate() : zlib.createInflateRaw();
    inner.on("readable", () => this.#pull());
    inner.on("end", () => this.push(null));
    inner.on("error", (err) => this.destroy(err));
    return inner;
  }

  /** Moves decoded bytes out only while the reader wants them; zlib stalls when its buffer is full. */
  #pull() {
    const inner = this.#inner;
    if (!inner) return;
    let chunk: Buffer | null;
    while (this.#wanted && (chunk = inner.read() as Buffer | null) !== null) this.#wanted = this.push(chunk);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void) {
    if (chunk.length === 0) return callback();
    this.#inner ??= this.#open(chunk);
    // Called back once zlib consumed the chunk, which waits while its output is not read.
    this.#inner.write(chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void) {
    if (this.#inner) this.#inner.end();
    else this.push(null);
    callback();
  }

  override _read() {
    this.#wanted = true;
    this.#pull();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void) {
    this.#inner?.destroy();
    callback(err);
  }
}

/**
 * The decoders of a Content-Encoding header, in the order to apply them (the reverse of the order
 * the codings were applied). A token this check does not know (`UTF-8` from a misconfigured PHP,
 * `zstd`) makes the whole body pass through as sent, as Chromium does (URLRequestHttpJob::
 * SetUpSourceStream: "Unknown encoding type. Pass through raw response body"); `note` then says so,
 * for the line of a body condition that fails on the raw bytes.
 */
export function contentDecoders(contentEncoding: string | undefined): { decoders: ContentDecoder[]; note?: string } {
  const tokens = (contentEncoding ?? "")
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");
  const decoders: ContentDecoder[] = [];
  for (const t of tokens.reverse()) {
    const coding = CODINGS[t];
    if (!coding) return { decoders: [], note: `Content-Encoding ${JSON.stringify(t)} is not one this check decodes (gzip, deflate, br): body read as sent, as browsers do` };
    if (coding !== "identity") decoders.push(new ContentDecoder(coding));
  }
  return { decoders };
}

/**
 * The body as text, as a browser decodes it (WHATWG Encoding "decode"): a byte-order mark (UTF-8,
 * UTF-16LE, UTF-16BE) decides and is removed, else the charset of Content-Type, else UTF-8.
 * Malformed bytes become U+FFFD. A charset label TextDecoder does not know is ignored, as browsers
 * ignore it: the text is read as UTF-8 and `note` says so, for the failure line of a condition that
 * then fails (a health answer is mostly ASCII, which reads the same; a bogus label alone must not
 * page "down").
 */
export function decodeBody(body: Buffer, contentType: string | undefined): { text: string; note?: string } {
  const { decoder, note } = textDecoderFor(body, contentType);
  return { text: decoder.decode(body), ...(note ? { note } : {}) };
}

/**
 * The TextDecoder of a body whose first bytes are `body` (at least 3 to see any byte-order mark), as
 * decodeBody chooses it; with `{ stream: true }` it decodes the body chunk by chunk.
 */
export function textDecoderFor(body: Buffer, contentType: string | undefined): { decoder: TextDecoder; note?: string } {
  let label = "utf-8";
  let note: string | undefined;
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) label = "utf-8";
  else if (body[0] === 0xff && body[1] === 0xfe) label = "utf-16le";
  else if (body[0] === 0xfe && body[1] === 0xff) label = "utf-16be";
  else {
    const m = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? "");
    const charset = (m?.[1] ?? m?.[2] ?? "").trim();
    if (charset) label = charset;
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label);
  } catch {
    note = `charset ${JSON.stringify(label)} of Content-Type is unknown: read as UTF-8`;
    decoder = new TextDecoder("utf-8");
  }
  return { decoder, ...(note ? { note } : {}) };
}
