// fincert certificate centre: joint certificates kept in this browser.
//
// The key is made here with WebCrypto (ECDSA P-256) and never leaves the browser in the clear:
// fincert receives a PKCS#10 request (built below with a small DER encoder), certifies it, and
// from then on this module signs sign-in challenges and institutions' requests locally; the
// server verifies every signature against the certificate before it counts.
//
// Three ways to keep the key, chosen in the wizard's last step:
// - "device":   non-extractable CryptoKey in IndexedDB. Nothing (not even this script) can read
//               it out, so it can never be copied to another device.
// - "copyable": the key is made extractable once, its PKCS#8 is encrypted at once under the
//               person's copy password (PBKDF2-SHA-256, AES-256-GCM) and kept beside a
//               non-extractable re-import used for signing. Copying needs that password.
// - "keyfile":  as "copyable", and an NPKI-style pair is downloaded: signCert.der and
//               signPri.key (PKCS#8 EncryptedPrivateKeyInfo, PBES2: PBKDF2-HMAC-SHA-256 +
//               AES-256-CBC) under the same password.
//
// Copy (인증서 복사): the PKCS#8 is opened with the copy password, encrypted under a fresh
// 12-character secret (PBKDF2 → AES-256-GCM) and left in fincert's one-time mailbox; the person
// types "<10-digit code>-<secret>" on the other device. fincert sees only ciphertext and the
// code; the secret never leaves the two browsers.

export const T = {
  ko: {
    "nav.device": "이 기기", "storage": "보관 위치", "storage.cloud.o": "클라우드 (PIN·패스키)", "storage.device.o": "이 브라우저 (복사 불가)",
    "storage.copyable.o": "이 브라우저 (다른 기기로 복사 가능)", "storage.keyfile.o": "암호화된 키 파일 내려받기 (NPKI 형식)",
    "storage.device.d": "키는 이 브라우저 안에서 만들어지고 밖으로 꺼낼 수 없습니다. 다른 기기로 복사할 수 없습니다.",
    "storage.copyable.d": "복사를 위해 키를 한 번만 꺼내어 바로 비밀번호로 암호화해 둡니다. 이 비밀번호를 아는 사람만 키를 복사할 수 있습니다.",
    "storage.keyfile.d": "키를 한 번 꺼내어 비밀번호로 암호화한 파일(signPri.key)과 인증서(signCert.der)를 내려받습니다. 파일을 안전하게 보관하세요.",
    "device.password": "키 비밀번호 (10자 이상)", "device.password.short": "비밀번호는 10자 이상이어야 합니다.",
    "device.title": "이 기기의 인증서", "device.none": "이 브라우저에 보관된 인증서가 없습니다.",
    "device.signin": "이 인증서로 로그인", "device.copy": "다른 기기로 복사", "device.copy.code": "다른 기기에서 10분 안에 이 코드를 입력하세요 (한 번만 쓸 수 있습니다):",
    "device.receive": "다른 기기에서 복사해 오기", "device.receive.code": "복사 코드", "device.receive.go": "가져오기",
    "device.received": "인증서를 이 브라우저에 저장했습니다.", "device.sign": "이 기기에서 서명", "device.signed.in": "로그인했습니다.",
    "device.copyable": "복사 가능", "device.bound": "복사 불가", "device.bad_code": "복사 코드 형식이 맞지 않습니다.",
    "device.bad_password": "비밀번호가 맞지 않습니다.", "device.no_key": "이 인증서의 키가 이 브라우저에 없습니다.",
    "device.keyfile": "키 파일을 내려받았습니다: signCert.der, signPri.key",
  },
  en: {
    "nav.device": "This device", "storage": "Where the key is kept", "storage.cloud.o": "In the cloud (PIN, passkey)", "storage.device.o": "In this browser (cannot be copied)",
    "storage.copyable.o": "In this browser (can be copied to another device)", "storage.keyfile.o": "Download an encrypted key file (NPKI style)",
    "storage.device.d": "The key is made inside this browser and can never be taken out of it, so it cannot be copied to another device.",
    "storage.copyable.d": "To allow copying, the key is taken out once and encrypted at once under your password; only someone with that password can copy it.",
    "storage.keyfile.d": "The key is taken out once, encrypted under your password into signPri.key, and downloaded with signCert.der. Keep the files safe.",
    "device.password": "Key password (10 characters or more)", "device.password.short": "The password needs 10 characters or more.",
    "device.title": "Certificates on this device", "device.none": "No certificate is kept in this browser.",
    "device.signin": "Sign in with this certificate", "device.copy": "Copy to another device", "device.copy.code": "Enter this code on the other device within 10 minutes (it works once):",
    "device.receive": "Copy from another device", "device.receive.code": "Copy code", "device.receive.go": "Fetch",
    "device.received": "The certificate is now kept in this browser.", "device.sign": "Sign on this device", "device.signed.in": "You are signed in.",
    "device.copyable": "copyable", "device.bound": "not copyable", "device.bad_code": "The copy code is not in the expected form.",
    "device.bad_password": "The password is not right.", "device.no_key": "This certificate's key is not in this browser.",
    "device.keyfile": "Key file downloaded: signCert.der, signPri.key",
  },
};

export const ERRORS = {
  ko: {
    device_signature_invalid: "이 기기의 서명을 확인하지 못했습니다. 다시 하세요.", device_needs_content: "이 요청은 기기 보관 인증서로 서명할 수 없습니다.",
    key_not_on_device: "이 인증서는 클라우드에 있습니다. PIN이나 패스키로 승인하세요.", key_on_device: "이 인증서의 키는 기기에 있습니다. 그 기기에서 서명하세요.",
    copy_not_found: "복사 코드가 틀렸거나 이미 사용했거나 만료되었습니다.", certificate_not_found: "인증서를 찾을 수 없습니다.",
    device_challenge_spent: "로그인 시간이 지났습니다. 다시 하세요.", device_sign_in_failed: "이 기기의 키로 로그인하지 못했습니다.",
    invalid_key_source: "보관 방식이 이 인증서 종류에 맞지 않습니다.", bad_csr: "인증서 요청을 만들지 못했습니다.",
    device_unsupported: "이 브라우저는 기기 보관 인증서를 지원하지 않습니다.", csr_signature_invalid: "인증서 요청의 서명이 맞지 않습니다. 다시 하세요.",
    weak_key: "이 키는 쓸 수 없습니다. 다시 하세요.", invalid_profile: "금융인증서의 키는 클라우드에만 보관할 수 있습니다.", malformed_input: "인증서 요청을 읽지 못했습니다. 다시 하세요.",
    "device.password.short": "비밀번호는 10자 이상이어야 합니다.", "device.bad_password": "비밀번호가 맞지 않습니다.",
    "device.no_key": "이 인증서의 키가 이 브라우저에 없습니다.", "device.bound": "이 인증서는 복사할 수 없게 만들어졌습니다.",
    "device.bad_code": "복사 코드 형식이 맞지 않습니다.",
  },
  en: {
    device_signature_invalid: "This device's signature could not be verified. Please try again.", device_needs_content: "This request cannot be signed with a certificate kept on a device.",
    key_not_on_device: "This certificate is kept in the cloud; approve with your PIN or a passkey.", key_on_device: "This certificate's key is on a device; sign there.",
    copy_not_found: "The copy code is wrong, was used already or has expired.", certificate_not_found: "The certificate could not be found.",
    device_challenge_spent: "The sign-in took too long. Please try again.", device_sign_in_failed: "Signing in with this device's key failed.",
    invalid_key_source: "This way of keeping the key does not fit this kind of certificate.", bad_csr: "The certificate request could not be made.",
    device_unsupported: "This browser cannot keep certificates on the device.", csr_signature_invalid: "The certificate request's signature does not match. Please try again.",
    weak_key: "This key cannot be used. Please try again.", invalid_profile: "A financial certificate's key is kept only in the cloud.", malformed_input: "The certificate request could not be read. Please try again.",
    "device.password.short": "The password needs 10 characters or more.", "device.bad_password": "The password is not right.",
    "device.no_key": "This certificate's key is not in this browser.", "device.bound": "This certificate was made so that it cannot be copied.",
    "device.bad_code": "The copy code is not in the expected form.",
  },
};

// ----- small helpers -----
const enc = new TextEncoder();
const b64 = {
  encode: (bytes) => { let s = ""; for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b); return btoa(s); },
  decode: (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)),
};
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
};
const fail = (code) => Object.assign(new Error(code), { code });

// ----- DER (only what a PKCS#10 request and PBES2 need) -----
function derLen(n) {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes = [];
  while (n > 0) { bytes.unshift(n & 0xff); n >>= 8; }
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}
const tlv = (tag, ...content) => { const c = concat(...content); return concat(Uint8Array.of(tag), derLen(c.length), c); };
export const der = {
  seq: (...c) => tlv(0x30, ...c),
  set: (...c) => tlv(0x31, ...c),
  ctx0: (...c) => tlv(0xa0, ...c),
  octets: (b) => tlv(0x04, b),
  bits: (b) => tlv(0x03, Uint8Array.of(0), b),
  null: () => Uint8Array.of(0x05, 0),
  // A non-negative INTEGER from big-endian bytes: leading zeros dropped, a zero added before a high bit.
  uint(bytes) {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const v = bytes.slice(i);
    return tlv(0x02, v[0] & 0x80 ? concat(Uint8Array.of(0), v) : v);
  },
  int(n) {
    const bytes = [];
    do { bytes.unshift(n & 0xff); n = Math.floor(n / 256); } while (n > 0);
    return der.uint(Uint8Array.from(bytes));
  },
  oid(dotted) {
    const parts = dotted.split(".").map(Number);
    const out = [parts[0] * 40 + parts[1]];
    for (const p of parts.slice(2)) {
      const group = [p & 0x7f];
      for (let v = p >>> 7; v > 0; v >>>= 7) group.unshift(0x80 | (v & 0x7f));
      out.push(...group);
    }
    return tlv(0x06, Uint8Array.from(out));
  },
};

// WebCrypto's ECDSA signature is r||s (IEEE P1363); X.509, CMS and fincert want ECDSA-Sig-Value.
export function p1363ToDer(sig) {
  const s = new Uint8Array(sig);
  const half = s.length / 2;
  return der.seq(der.uint(s.slice(0, half)), der.uint(s.slice(half)));
}

const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
const SIGN = { name: "ECDSA", hash: "SHA-256" };

async function signDer(privateKey, message) {
  return p1363ToDer(await crypto.subtle.sign(SIGN, privateKey, message));
}

// PKCS#10 (RFC 2986): an empty subject (fincert writes the enrolled identity, never the
// request's), the SubjectPublicKeyInfo WebCrypto exports, no attributes, ecdsa-with-SHA256.
export async function buildCsr(keyPair) {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keyPair.publicKey));
  const info = der.seq(der.int(0), der.seq(), spki, der.ctx0());
  const sig = await signDer(keyPair.privateKey, info);
  return der.seq(info, der.seq(der.oid("1.2.840.10045.4.3.2")), der.bits(sig));
}

// ----- passwords and secrets -----
const PBKDF2_ITERATIONS = 310000;

async function passwordKey(secret, salt, cipher, iterations = PBKDF2_ITERATIONS) {
  const base = await crypto.subtle.importKey("raw", enc.encode(secret), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, { name: cipher, length: 256 }, false, ["encrypt", "decrypt"]);
}

// salt(16) || iv(12) || AES-256-GCM(plain), under a key derived from `secret`.
async function seal(secret, plain) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await passwordKey(secret, salt, "AES-GCM");
  return concat(salt, iv, new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plain)));
}

async function open(secret, sealed, badCode) {
  const salt = sealed.slice(0, 16), iv = sealed.slice(16, 28);
  const key = await passwordKey(secret, salt, "AES-GCM");
  try { return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed.slice(28))); } catch { throw fail(badCode); }
}

// PKCS#8 EncryptedPrivateKeyInfo under PBES2 (RFC 8018): PBKDF2-HMAC-SHA-256, AES-256-CBC;
// `openssl pkcs8 -inform DER` opens it.
export async function encryptedKeyFile(pkcs8, password) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const key = await passwordKey(password, salt, "AES-CBC");
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, pkcs8));
  const kdf = der.seq(der.oid("1.2.840.113549.1.5.12"),
    der.seq(der.octets(salt), der.int(PBKDF2_ITERATIONS), der.seq(der.oid("1.2.840.113549.2.9"), der.null())));
  const scheme = der.seq(der.oid("2.16.840.1.101.3.4.1.42"), der.octets(iv));
  return der.seq(der.seq(der.oid("1.2.840.113549.1.5.13"), der.seq(kdf, scheme)), der.octets(ct));
}

// Copy secrets: 12 characters of an alphabet without look-alikes (60 bits).
const ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ0123456789";
function copySecret() {
  const r = crypto.getRandomValues(new Uint8Array(12));
  return [...r].map((b) => ALPHABET[b & 31]).join("");
}
const formatCode = (code, secret) => `${code}-${secret.slice(0, 4)}-${secret.slice(4, 8)}-${secret.slice(8)}`;
// "<10 digits>-XXXX-XXXX-XXXX" (spaces, dashes and case forgiven) → [code, secret].
export function parseCopyCode(text) {
  const s = text.toUpperCase().replace(/[\s-]/g, "");
  const m = /^([0-9]{10})([A-HJKMNP-TV-Z0-9]{12})$/.exec(s);
  return m ? [m[1], m[2]] : null;
}

// ----- IndexedDB: one record per certificate -----
function idb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open("fincert-device", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("certs", { keyPath: "id" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(fail("device_unsupported"));
  });
}
async function tx(mode, fn) {
  const db = await idb();
  return new Promise((resolve, reject) => {
    const t = db.transaction("certs", mode);
    const req = fn(t.objectStore("certs"));
    t.oncomplete = () => { db.close(); resolve(req.result); };
    t.onerror = () => { db.close(); reject(fail("device_unsupported")); };
  });
}
export const kept = {
  all: () => tx("readonly", (s) => s.getAll()),
  get: (id) => tx("readonly", (s) => s.get(id)),
  put: (rec) => tx("readwrite", (s) => s.put(rec)),
};

// ----- issuance: the wizard's hook -----
// Returns { csr (base64), finish(certificateView) } for a device-kept key made as `mode` asks.
export async function prepare(mode, password) {
  if (!window.crypto?.subtle || !window.indexedDB) throw fail("device_unsupported");
  if (mode !== "device" && (password || "").length < 10) throw fail("device.password.short");
  let pair, wrapped = null, keyfile = null;
  if (mode === "device") {
    pair = await crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]);
  } else {
    // Extractable once: its PKCS#8 is encrypted now, then the signing key is re-imported
    // non-extractable and the extractable one is dropped.
    const once = await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]);
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", once.privateKey));
    wrapped = await seal(password, pkcs8);
    if (mode === "keyfile") keyfile = await encryptedKeyFile(pkcs8, password);
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, ECDSA, false, ["sign"]);
    pkcs8.fill(0);
    pair = { privateKey, publicKey: once.publicKey };
  }
  const csr = await buildCsr(pair);
  return {
    csr: b64.encode(csr),
    async finish(cert) {
      await kept.put({ id: cert.id, subject: cert.subject, certificate: cert.der, privateKey: pair.privateKey, wrapped, created: Date.now() });
      if (keyfile) {
        download("signCert.der", b64.decode(cert.der));
        download("signPri.key", keyfile);
      }
    },
  };
}

// The wizard's storage choice (step 4): cloud for every kind; on this device only for a joint
// certificate. `kind` is the wizard's kind select.
export function storageChoice(ctx, kind) {
  const { h, t } = ctx;
  const select = h("select", { id: "storage" });
  const about = h("p", { class: "muted", id: "storage-about" });
  const password = h("input", { id: "device-password", type: "password", autocomplete: "new-password", minlength: "10" });
  const pwBox = h("div", { hidden: true }, h("label", { for: "device-password" }, t("device.password")), password);
  const modes = () => (kind.value === "joint" ? ["cloud", "device", "copyable", "keyfile"] : ["cloud"]);
  const describe = () => {
    about.textContent = t(select.value === "cloud" ? "storage.cloud" : `storage.${select.value}.d`);
    pwBox.hidden = select.value === "cloud" || select.value === "device";
  };
  const fill = () => {
    const was = select.value;
    select.replaceChildren(...modes().map((m) => h("option", { value: m }, t(`storage.${m}.o`))));
    if (modes().includes(was)) select.value = was;
    describe();
  };
  kind.addEventListener("change", fill);
  select.addEventListener("change", describe);
  fill();
  return {
    element: h("div", {}, h("label", { for: "storage" }, t("storage")), select, about, pwBox),
    onDevice: () => select.value !== "cloud",
    async prepare() {
      const made = await prepare(select.value, password.value);
      password.value = "";
      return made;
    },
  };
}

function download(name, bytes) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ----- using the key -----
async function keyOf(id) {
  const rec = await kept.get(id);
  if (!rec) throw fail("device.no_key");
  return rec;
}

// Device sign-in: the key signs a fresh challenge; the answer is a session.
export async function signIn(ctx, id) {
  const rec = await keyOf(id);
  const c = await ctx.call("POST", "/v1/auth/device/challenge", { certificate_id: id });
  const signature = await signDer(rec.privateKey, enc.encode(c.challenge));
  const pair = await ctx.call("POST", "/v1/auth/device", {
    certificate_id: id, challenge_id: c.challenge_id, challenge: c.challenge, algorithm: "ecdsa-p256-sha256", signature: b64.encode(signature),
  });
  ctx.signedIn(pair, id);
}

// Approves a request on this device: what to sign comes from the server, the key signs each
// payload here, the server verifies before accepting.
export async function approve(ctx, approval) {
  const rec = await keyOf(approval.certificate_id);
  const ask = await ctx.api("GET", `/v1/approvals/${approval.id}/device`);
  const signatures = [];
  for (const p of ask.payloads) signatures.push(b64.encode(await signDer(rec.privateKey, b64.decode(p))));
  return ctx.api("POST", `/v1/approvals/${approval.id}/device`, { request_digest: ask.request_digest, signatures });
}

// The approvals page's hook: a "sign on this device" button, only where this browser holds the key.
export function approveButton(ctx, approval, done) {
  const slot = ctx.h("span", { class: "device-slot" });
  kept.get(approval.certificate_id).then((rec) => {
    if (!rec) return;
    slot.replaceWith(ctx.h("button", { type: "button", class: "approve-device", onclick: () => ctx.guarded(async () => done(await approve(ctx, approval))) }, ctx.t("device.sign")));
  }).catch(() => {});
  return slot;
}

// Copy out: open the PKCS#8 with the copy password, seal it under a fresh secret, leave it.
export async function copyOut(ctx, id, password) {
  const rec = await keyOf(id);
  if (!rec.wrapped) throw fail("device.bound");
  const pkcs8 = await open(password, rec.wrapped, "device.bad_password");
  const secret = copySecret();
  const body = enc.encode(JSON.stringify({ v: 1, id, subject: rec.subject, pkcs8: b64.encode(pkcs8) }));
  pkcs8.fill(0);
  const pkg = await seal(secret, body);
  body.fill(0);
  const made = await ctx.api("POST", "/v1/device-copies", { certificate_id: id, package: b64.encode(pkg) });
  return formatCode(made.code, secret);
}

// Copy in: fetch once with the code's first half, open with its second half, keep the key
// (non-extractable for signing, re-sealed under this device's copy password).
export async function copyIn(ctx, text, password) {
  const parsed = parseCopyCode(text);
  if (!parsed) throw fail("device.bad_code");
  if ((password || "").length < 10) throw fail("device.password.short");
  const [code, secret] = parsed;
  const got = await ctx.call("POST", "/v1/device-copies/claim", { code });
  const plain = await open(secret, b64.decode(got.package), "copy_not_found");
  const inner = JSON.parse(new TextDecoder().decode(plain));
  plain.fill(0);
  if (inner.id !== got.certificate_id) throw fail("copy_not_found");
  const pkcs8 = b64.decode(inner.pkcs8);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, ECDSA, false, ["sign"]);
  const wrapped = await seal(password, pkcs8);
  pkcs8.fill(0);
  await kept.put({ id: got.certificate_id, subject: inner.subject, certificate: got.certificate, privateKey, wrapped, created: Date.now() });
  return got.certificate_id;
}

// ----- the page: #/device -----
export function page(ctx) {
  const { h, t } = ctx;
  const list = h("div", { id: "device-list" });
  const out = h("div", { id: "device-copy-out" });
  const passwordField = (id) => [h("label", { for: id }, t("device.password")), h("input", { id, type: "password", autocomplete: "new-password", minlength: "10" })];
  ctx.guarded(async () => {
    const recs = await kept.all();
    if (!recs.length) { list.replaceChildren(h("p", { id: "device-none" }, t("device.none"))); return; }
    list.replaceChildren(...recs.map((r) => {
      const pw = `copy-password-${r.id}`;
      return h("section", { class: "card device-cert", "data-id": r.id, "aria-label": r.subject },
        h("h2", {}, r.subject), h("p", { class: "muted" }, `${r.id} · ${t(r.wrapped ? "device.copyable" : "device.bound")}`),
        h("div", { class: "row" },
          h("button", { type: "button", class: "device-signin", onclick: () => ctx.guarded(async () => { await signIn(ctx, r.id); ctx.status(t("device.signed.in"), "info"); }) }, t("device.signin"))),
        r.wrapped ? [...passwordField(pw), h("button", { type: "button", class: "secondary device-copy", onclick: () => ctx.guarded(async () => {
          const code = await copyOut(ctx, r.id, document.getElementById(pw).value);
          document.getElementById(pw).value = "";
          ctx.status("");
          out.replaceChildren(h("p", {}, t("device.copy.code")), h("p", { class: "copy-code", id: "copy-code" }, code));
        }) }, t("device.copy"))] : []);
    }));
  });
  const code = h("input", { id: "receive-code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false" });
  return [h("h1", {}, t("device.title")), list, out,
    h("h2", {}, t("device.receive")), h("label", { for: "receive-code" }, t("device.receive.code")), code, ...passwordField("receive-password"),
    h("button", { type: "button", id: "receive-go", onclick: () => ctx.guarded(async () => {
      if (!parseCopyCode(code.value)) { ctx.status(t("device.bad_code")); return; }
      await copyIn(ctx, code.value, document.getElementById("receive-password").value);
      document.getElementById("receive-password").value = "";
      ctx.status(t("device.received"), "info");
      ctx.route(true);
    }) }, t("device.receive.go"))];
}
