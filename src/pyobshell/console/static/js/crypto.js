// obshell's request encryption, as its web UI does it, written for this console:
//
// * the header JSON {Auth, Ts, Uri, Keys, session_id} is RSA-encrypted with the agent's public key
//   (GET /api/v1/secret: base64 DER PKCS#1 RSAPublicKey), PKCS#1 v1.5 padding, in chunks of
//   k - 11 bytes, the blocks concatenated and base64-encoded;
// * a body is AES-128-CBC with PKCS#7 padding under Keys = key(16) || iv(16), base64-encoded;
// * the login reply (the session id) comes back AES-CBC-encrypted under the same key and iv.
//
// AES goes through WebCrypto where the page has it (a secure context: https, or a loopback
// address); on plain http to another address browsers hide crypto.subtle, so the same AES-128-CBC
// is done here in plain JavaScript. Random bytes always come from crypto.getRandomValues, which
// every context has. No library: RSA is modular exponentiation over BigInt.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const HEADER_LIFETIME_S = 1800; // the web UI's Ts: its clock + 1800 s

export function randomBytes(n) {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

export function utf8(text) {
  return encoder.encode(text);
}

export function fromUtf8(bytes) {
  return decoder.decode(bytes);
}

export function b64encode(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

export function b64decode(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// -- RSA ------------------------------------------------------------------------------------

function bytesToBigInt(bytes) {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

function bigIntToBytes(value, length) {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  if (value !== 0n) throw new Error("RSA: value does not fit the modulus");
  return out;
}

function modPow(base, exponent, modulus) {
  let result = 1n;
  base %= modulus;
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
    exponent >>= 1n;
  }
  return result;
}

// One DER element at `at`: {tag, start (of its content), end}.
function derElement(bytes, at) {
  const tag = bytes[at];
  let length = bytes[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count < 1 || count > 4) throw new Error("RSA key: bad DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i];
    start += count;
  }
  const end = start + length;
  if (tag === undefined || end > bytes.length) throw new Error("RSA key: truncated DER");
  return { tag, start, end };
}

// The agent's public key: base64 DER of PKCS#1 RSAPublicKey (SEQUENCE {n, e}); an SPKI
// (SEQUENCE {algorithm, BIT STRING {RSAPublicKey}}) is accepted as well.
export function parsePublicKey(b64der) {
  let bytes = b64decode(b64der);
  let outer = derElement(bytes, 0);
  if (outer.tag !== 0x30) throw new Error("RSA key: not a DER SEQUENCE");
  let first = derElement(bytes, outer.start);
  if (first.tag === 0x30) { // SPKI: the key is inside the BIT STRING that follows
    const bits = derElement(bytes, first.end);
    if (bits.tag !== 0x03) throw new Error("RSA key: SPKI without a BIT STRING");
    bytes = bytes.subarray(bits.start + 1, bits.end);
    outer = derElement(bytes, 0);
    first = derElement(bytes, outer.start);
  }
  const second = derElement(bytes, first.end);
  if (first.tag !== 0x02 || second.tag !== 0x02) throw new Error("RSA key: modulus and exponent expected");
  const n = bytesToBigInt(bytes.subarray(first.start, first.end));
  const e = bytesToBigInt(bytes.subarray(second.start, second.end));
  const k = Math.ceil(n.toString(16).length / 2);
  if (k < 64) throw new Error("RSA key: modulus too small");
  return { n, e, k };
}

// RSAES-PKCS1-v1_5: 0x00 0x02 PS (at least 8 random non-zero bytes) 0x00 M, then m^e mod n.
export function rsaEncryptBlock(key, message) {
  const { n, e, k } = key;
  if (message.length > k - 11) throw new Error("RSA: message too long for one block");
  const padding = randomBytes(k - message.length - 3);
  for (let i = 0; i < padding.length; i++) {
    while (padding[i] === 0) padding[i] = randomBytes(1)[0];
  }
  const block = concat([Uint8Array.of(0, 2), padding, Uint8Array.of(0), message]);
  return bigIntToBytes(modPow(bytesToBigInt(block), e, n), k);
}

// obshell's "sectional" encryption: chunks of at most k - 11 bytes, blocks concatenated, base64.
export function rsaEncryptSectional(key, plaintext) {
  const chunk = key.k - 11;
  const blocks = [];
  let at = 0;
  do { // an empty plaintext is one block that encrypts zero bytes
    blocks.push(rsaEncryptBlock(key, plaintext.subarray(at, at + chunk)));
    at += chunk;
  } while (at < plaintext.length);
  return b64encode(concat(blocks));
}

// -- AES-128 (FIPS-197), for pages without WebCrypto ----------------------------------------

const SBOX = new Uint8Array(256);
const INV_SBOX = new Uint8Array(256);
(function buildSbox() {
  const rotl = (x, s) => ((x << s) | (x >> (8 - s))) & 0xff;
  let p = 1;
  let q = 1;
  do {
    p = (p ^ (p << 1) ^ (p & 0x80 ? 0x1b : 0)) & 0xff; // p * 3
    q = (q ^ (q << 1)) & 0xff; // q / 3
    q = (q ^ (q << 2)) & 0xff;
    q = (q ^ (q << 4)) & 0xff;
    if (q & 0x80) q ^= 0x09;
    SBOX[p] = q ^ rotl(q, 1) ^ rotl(q, 2) ^ rotl(q, 3) ^ rotl(q, 4) ^ 0x63;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) INV_SBOX[SBOX[i]] = i;
})();

const xtime = (b) => ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;

function mul(a, b) {
  let out = 0;
  while (b) {
    if (b & 1) out ^= a;
    a = xtime(a);
    b >>= 1;
  }
  return out;
}

function expandKey(key) {
  if (key.length !== 16) throw new Error("AES-128 needs a 16-byte key");
  const rk = new Uint8Array(176);
  rk.set(key);
  let rcon = 1;
  for (let i = 16; i < 176; i += 4) {
    let t = [rk[i - 4], rk[i - 3], rk[i - 2], rk[i - 1]];
    if (i % 16 === 0) {
      t = [SBOX[t[1]] ^ rcon, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]];
      rcon = xtime(rcon);
    }
    for (let j = 0; j < 4; j++) rk[i + j] = rk[i - 16 + j] ^ t[j];
  }
  return rk;
}

function addRoundKey(s, rk, round) {
  for (let i = 0; i < 16; i++) s[i] ^= rk[round * 16 + i];
}

function encryptBlock(rk, s) {
  addRoundKey(s, rk, 0);
  for (let round = 1; round <= 10; round++) {
    for (let i = 0; i < 16; i++) s[i] = SBOX[s[i]];
    const t = s.slice();
    for (let c = 0; c < 4; c++) for (let r = 1; r < 4; r++) s[r + 4 * c] = t[r + 4 * ((c + r) % 4)];
    if (round < 10) {
      for (let c = 0; c < 4; c++) {
        const [a0, a1, a2, a3] = s.subarray(4 * c, 4 * c + 4);
        s[4 * c] = xtime(a0) ^ xtime(a1) ^ a1 ^ a2 ^ a3;
        s[4 * c + 1] = a0 ^ xtime(a1) ^ xtime(a2) ^ a2 ^ a3;
        s[4 * c + 2] = a0 ^ a1 ^ xtime(a2) ^ xtime(a3) ^ a3;
        s[4 * c + 3] = xtime(a0) ^ a0 ^ a1 ^ a2 ^ xtime(a3);
      }
    }
    addRoundKey(s, rk, round);
  }
}

function decryptBlock(rk, s) {
  addRoundKey(s, rk, 10);
  for (let round = 9; round >= 0; round--) {
    const t = s.slice();
    for (let c = 0; c < 4; c++) for (let r = 1; r < 4; r++) s[r + 4 * ((c + r) % 4)] = t[r + 4 * c];
    for (let i = 0; i < 16; i++) s[i] = INV_SBOX[s[i]];
    addRoundKey(s, rk, round);
    if (round > 0) {
      for (let c = 0; c < 4; c++) {
        const [a0, a1, a2, a3] = s.subarray(4 * c, 4 * c + 4);
        s[4 * c] = mul(a0, 14) ^ mul(a1, 11) ^ mul(a2, 13) ^ mul(a3, 9);
        s[4 * c + 1] = mul(a0, 9) ^ mul(a1, 14) ^ mul(a2, 11) ^ mul(a3, 13);
        s[4 * c + 2] = mul(a0, 13) ^ mul(a1, 9) ^ mul(a2, 14) ^ mul(a3, 11);
        s[4 * c + 3] = mul(a0, 11) ^ mul(a1, 13) ^ mul(a2, 9) ^ mul(a3, 14);
      }
    }
  }
}

export function aesEncryptBlockRaw(key, block) { // one ECB block: for the FIPS-197 test vector
  const s = Uint8Array.from(block);
  encryptBlock(expandKey(key), s);
  return s;
}

function cbcEncryptJs(key, iv, plaintext) {
  const rk = expandKey(key);
  const pad = 16 - (plaintext.length % 16);
  const data = concat([plaintext, new Uint8Array(pad).fill(pad)]);
  let previous = iv;
  for (let at = 0; at < data.length; at += 16) {
    const s = data.subarray(at, at + 16);
    for (let i = 0; i < 16; i++) s[i] ^= previous[i];
    encryptBlock(rk, s);
    previous = s;
  }
  return data;
}

function cbcDecryptJs(key, iv, ciphertext) {
  if (ciphertext.length === 0 || ciphertext.length % 16) throw new Error("AES: ciphertext is not whole blocks");
  const rk = expandKey(key);
  const out = new Uint8Array(ciphertext.length);
  let previous = iv;
  for (let at = 0; at < ciphertext.length; at += 16) {
    const block = ciphertext.subarray(at, at + 16);
    const s = Uint8Array.from(block);
    decryptBlock(rk, s);
    for (let i = 0; i < 16; i++) out[at + i] = s[i] ^ previous[i];
    previous = block;
  }
  const pad = out[out.length - 1];
  if (pad < 1 || pad > 16 || out.subarray(out.length - pad).some((b) => b !== pad)) {
    throw new Error("AES: bad padding");
  }
  return out.subarray(0, out.length - pad);
}

function subtle(options) {
  if (options && options.webcrypto === false) return null;
  return (globalThis.crypto && globalThis.crypto.subtle) || null;
}

// AES-128-CBC with PKCS#7 padding (WebCrypto's AES-CBC pads the same way).
export async function aesCbcEncrypt(key, iv, plaintext, options) {
  const api = subtle(options);
  if (!api) return cbcEncryptJs(key, iv, plaintext);
  const imported = await api.importKey("raw", key, "AES-CBC", false, ["encrypt"]);
  return new Uint8Array(await api.encrypt({ name: "AES-CBC", iv }, imported, plaintext));
}

export async function aesCbcDecrypt(key, iv, ciphertext, options) {
  const api = subtle(options);
  if (!api) return cbcDecryptJs(key, iv, ciphertext);
  const imported = await api.importKey("raw", key, "AES-CBC", false, ["decrypt"]);
  return new Uint8Array(await api.decrypt({ name: "AES-CBC", iv }, imported, ciphertext));
}

// -- one request ----------------------------------------------------------------------------

// The header and body of one request, as obshell's web UI builds them:
//   uri: the exact request target (path and query as sent), bound by the agent byte for byte;
//   password: root@sys (sign-in only) or "", sessionId: the session after sign-in;
//   body: an object sent as JSON (encrypted), or null; keys: always when asked (login) or a body;
//   now: the agent's clock in seconds (Ts = now + 1800, a string).
// Returns {header, body (base64 text or null), key, iv}.
export async function encryptRequest(publicKey, { uri, password = "", sessionId = "", body = null, now,
                                                  withKeys = false, options } = {}) {
  const key = randomBytes(16);
  const iv = randomBytes(16);
  const header = { Auth: password, Ts: String(Math.floor(now) + HEADER_LIFETIME_S), Uri: uri };
  if (body !== null || withKeys) header.Keys = b64encode(concat([key, iv]));
  if (sessionId) header.session_id = sessionId;
  let encrypted = null;
  if (body !== null) encrypted = b64encode(await aesCbcEncrypt(key, iv, utf8(JSON.stringify(body)), options));
  return { header: rsaEncryptSectional(publicKey, utf8(JSON.stringify(header))), body: encrypted, key, iv };
}

// A value the agent answered AES-encrypted under a request's key and iv (the login's session id).
export async function decryptReply(key, iv, valueB64, options) {
  return fromUtf8(await aesCbcDecrypt(key, iv, b64decode(valueB64), options));
}
