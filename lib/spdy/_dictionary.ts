/**
 * The SPDY/3 header-compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1).
 *
 * The spec prints it as 1423 bytes; it is rebuilt here from its structure — header names and
 * values, each prefixed with a 32-bit big-endian length, then a run of bare text — because a
 * typo in a hand-copied byte table is invisible, while a typo here changes the Adler-32 that
 * `_compression_test.ts` checks against the id real browsers put in their zlib headers
 * (`0xe3c6a7c2`).
 *
 * @module
 */

/** The length-prefixed words, in dictionary order. */
const WORDS = [
  "options",
  "head",
  "post",
  "put",
  "delete",
  "trace",
  "accept",
  "accept-charset",
  "accept-encoding",
  "accept-language",
  "accept-ranges",
  "age",
  "allow",
  "authorization",
  "cache-control",
  "connection",
  "content-base",
  "content-encoding",
  "content-language",
  "content-length",
  "content-location",
  "content-md5",
  "content-range",
  "content-type",
  "date",
  "etag",
  "expect",
  "expires",
  "from",
  "host",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "pragma",
  "proxy-authenticate",
  "proxy-authorization",
  "range",
  "referer",
  "retry-after",
  "server",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "vary",
  "via",
  "warning",
  "www-authenticate",
  "method",
  "get",
  "status",
  "200 OK",
  "version",
  "HTTP/1.1",
  "url",
  "public",
  "set-cookie",
  "keep-alive",
  "origin",
];

/** The bare text that follows the words. */
const TAIL = "100101201202205206300302303304305306307402405406407408409410411412413414415416417" +
  "502504505" +
  "203 Non-Authoritative Information" +
  "204 No Content" +
  "301 Moved Permanently" +
  "400 Bad Request" +
  "401 Unauthorized" +
  "403 Forbidden" +
  "404 Not Found" +
  "500 Internal Server Error" +
  "501 Not Implemented" +
  "503 Service Unavailable" +
  "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 " +
  "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT" +
  "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml," +
  "text/plain,text/javascript,public" +
  "privatemax-age=gzip,deflate,sdch" +
  "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

function build(): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const w of WORDS) {
    const bytes = enc.encode(w);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, bytes.byteLength);
    parts.push(len, bytes);
  }
  parts.push(enc.encode(TAIL));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** The dictionary both zlib streams of a SPDY/3 connection are primed with. */
export const SPDY3_DICTIONARY: Uint8Array<ArrayBuffer> = build();
