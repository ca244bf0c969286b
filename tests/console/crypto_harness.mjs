// Runs the console's crypto module (src/pyobshell/console/static/js/crypto.js) under Node for
// tests/console/test_console_crypto.py: reads one JSON document on stdin, writes one on stdout.
//   {"module": path, "public_key": b64, "requests": [{uri, password, session_id, body, now,
//    with_keys, webcrypto}], "replies": [{key, iv, value, webcrypto}], "fips": true}
import { pathToFileURL } from "node:url";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);
const c = await import(pathToFileURL(job.module).href);
const key = job.public_key ? c.parsePublicKey(job.public_key) : null;
const out = { requests: [], replies: [] };
for (const r of job.requests || []) {
  const made = await c.encryptRequest(key, {
    uri: r.uri, password: r.password || "", sessionId: r.session_id || "", body: r.body ?? null,
    now: r.now, withKeys: !!r.with_keys, options: { webcrypto: r.webcrypto !== false },
  });
  out.requests.push({ header: made.header, body: made.body, key: c.b64encode(made.key), iv: c.b64encode(made.iv) });
}
for (const r of job.replies || []) {
  out.replies.push(await c.decryptReply(c.b64decode(r.key), c.b64decode(r.iv), r.value, { webcrypto: r.webcrypto !== false }));
}
if (job.fips) {
  const hex = (s) => Uint8Array.from(Buffer.from(s, "hex"));
  out.fips = Buffer.from(c.aesEncryptBlockRaw(hex("000102030405060708090a0b0c0d0e0f"),
                                              hex("00112233445566778899aabbccddeeff"))).toString("hex");
}
if (key) out.k = key.k;
process.stdout.write(JSON.stringify(out));
