// A joint certificate kept in the browser, in real headless Chromium driven by playwright-core.
// Run by tests/api/portal.rs (which starts the service and prepares the customer, the OTP
// token and the institution):
//   - profile A (its own user-data-dir): the issuance wizard with "in this browser, copyable"
//     in step 4 — the key made by WebCrypto, only a CSR sent — then sign-in with the key,
//     registration with the institution and a request signed in the browser;
//   - the copy: profile A leaves an encrypted package and shows the code;
//   - profile B (another user-data-dir): the code fetches and opens the package, the key is
//     kept there, signs in and signs a second request.
// At $VIEWPORT (desktop 1280x800 or phone 390x844); every page state checked has touch targets
// of at least 44 px, 0 axe-core violations of the WCAG 2.2 AA rules and a status line that is a
// sentence. Prints one JSON line with the certificate and the two request ids for the Rust
// side, which checks the signatures server-side and with openssl.
import { createRequire } from "node:module";
import * as checks from "./checks.mjs";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set`); return process.env[k]; };
const BASE = env("BASE");
const SHOTS = env("SHOTS");
const PASSWORD = "correct horse battery";
mkdirSync(SHOTS, { recursive: true });

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
const viewport = VIEWPORTS[env("VIEWPORT")];
if (!viewport) throw new Error(`VIEWPORT is desktop or phone, not ${process.env.VIEWPORT}`);
const phone = env("VIEWPORT") === "phone";
const AXE = readFileSync(env("AXE"), "utf8");
let axeRuns = 0;

const profiles = [mkdtempSync(join(tmpdir(), "fincert-device-a-")), mkdtempSync(join(tmpdir(), "fincert-device-b-"))];
const launch = (dir) => chromium.launchPersistentContext(dir, {
  executablePath: env("CHROMIUM"), args: ["--no-sandbox"], viewport, locale: "ko-KR", isMobile: phone, hasTouch: phone,
});
const contexts = [];
const errors = [];
let page;

async function open(dir) {
  const context = await launch(dir);
  contexts.push(context);
  const p = context.pages()[0] || await context.newPage();
  p.setDefaultTimeout(20000);
  p.on("pageerror", (e) => errors.push(String(e)));
  return p;
}

const shot = (name) => page.screenshot({ path: `${SHOTS}/device-${name}.png`, fullPage: true });
const expectStatus = (text) => page.locator("#status.info").filter({ hasText: text }).waitFor();

const touchTargets = (where) => checks.touchTargets(page, where);

// The status line is a sentence, never a code.
async function noCodes() {
  const text = await page.locator("#status").textContent();
  if (/\b[a-z]+_[a-z_]+\b|\(\w+\)|device\./.test(text)) throw new Error(`a code in the message: ${text}`);
}

async function axeCheck(where) {
  await checks.axeCheck(page, AXE, where);
  axeRuns += 1;
}

// One page state: touch targets, axe-core, the message a sentence, a screenshot.
async function checkpoint(where, name) {
  await touchTargets(where);
  await axeCheck(where);
  await noCodes();
  if (name) await shot(name);
}

async function institutionToken() {
  const resp = await fetch(`${BASE}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic " + Buffer.from(`${env("CLIENT_ID")}:${env("CLIENT_SECRET")}`).toString("base64") },
    body: "grant_type=client_credentials",
  });
  if (!resp.ok) throw new Error(`token ${resp.status}`);
  return (await resp.json()).access_token;
}

// A raw request with content (a browser signs messages, not bare digests).
async function signatureRequest(token, certificateId, text, n) {
  const resp = await fetch(`${BASE}/v1/signature-requests`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "idempotency-key": `device-${n}` },
    body: JSON.stringify({ certificate_id: certificateId, content: Buffer.from(`${text} #${n}`).toString("base64"), display_text: text }),
  });
  if (resp.status !== 201) throw new Error(`request ${resp.status} ${await resp.text()}`);
  return (await resp.json()).id;
}

async function signInOnDevice(certificateId) {
  await page.goto(`${BASE}/portal/#/device`);
  const card = page.locator(`section.device-cert[data-id="${certificateId}"]`);
  await card.waitFor();
  await card.locator(".device-signin").click();
  await expectStatus("로그인했습니다");
  return card;
}

async function approveOnDevice(text) {
  await page.goto(`${BASE}/portal/#/approvals`);
  const item = page.locator("section.approval").filter({ hasText: text });
  await item.locator(".approve-device").click();
  await expectStatus("서명했습니다");
}

async function run() {
  page = await open(profiles[0]);
  await page.goto(`${BASE}/portal/`);
  await page.click('a[href="#/enrol/issue"]');
  await page.locator("#agree").check();
  await page.click("#next");
  await page.fill("#name", "홍길동");
  await page.fill("#birth", "1987-03-14");
  await page.fill("#phone", "010-1234-5678");
  await page.fill("#customer", "110-123-456789");
  await page.click("#next");
  await page.click("#send-sms");
  await expectStatus("인증번호");
  const msg = await (await fetch(`${BASE}/dev/outbox/01012345678`)).json();
  await page.fill("#code", msg.body.match(/\d{6}/)[0]);
  await page.click("#next");
  await page.selectOption("#medium-kind", "hotp");
  await page.fill("#answer", env("HOTP"));
  await page.click("#next");
  // Step 4: a joint certificate kept in this browser, copyable under a password.
  await page.selectOption("#kind", "joint");
  await page.selectOption("#usage", "general");
  await page.selectOption("#storage", "copyable");
  await page.locator("#storage-about").filter({ hasText: "비밀번호" }).waitFor();
  // Too short a password is refused in the browser, before anything is sent.
  await page.fill("#device-password", "short");
  await page.click("#next");
  await page.locator("#status.error").filter({ hasText: "10자" }).waitFor();
  await noCodes();
  await page.fill("#device-password", PASSWORD);
  await checkpoint("wizard: storage", "enrol-storage");
  await page.click("#next");
  // The general-purpose fee is agreed to once the key is made, before anything is sent.
  const fee = page.locator("dialog[open]");
  await fee.filter({ hasText: "4,400원" }).waitFor();
  await page.click("#dialog-ok");
  await page.locator("#done").waitFor();
  await checkpoint("wizard: done", "enrol-done");
  const certificateId = (await page.locator("#new-cert").textContent()).trim();
  const kept = await page.evaluate(() => new Promise((resolve) => {
    const req = indexedDB.open("fincert-device", 1);
    req.onsuccess = () => {
      const get = req.result.transaction("certs").objectStore("certs").getAll();
      get.onsuccess = () => resolve(get.result.map((r) => ({ id: r.id, type: r.privateKey.type, extractable: r.privateKey.extractable, algorithm: r.privateKey.algorithm.namedCurve })));
    };
  }));

  // Sign in with the key, register with the institution, sign a request in the browser.
  const card = await signInOnDevice(certificateId);
  await checkpoint("device: signed in", "device");
  await page.goto(`${BASE}/portal/#/certificates`);
  const cert = page.locator(`section.cert[data-id="${certificateId}"]`);
  await cert.waitFor();
  await checkpoint("certificates: on this device", "certificates");
  await cert.getByRole("button", { name: "기관에 등록" }).click();
  await expectStatus("저장");
  const token = await institutionToken();
  const first = await signatureRequest(token, certificateId, "Hana Bank 이체 700,000원", 1);
  await approveOnDevice("700,000원");
  await checkpoint("approved on the device", "approved-a");

  // Copy out: the copy password opens the key, a one-time code carries it.
  await signInOnDevice(certificateId);
  const pw = page.locator(`input[id="copy-password-${certificateId}"]`);
  await pw.fill("wrong password!!");
  await card.locator(".device-copy").click();
  await page.locator("#status.error").filter({ hasText: "비밀번호" }).waitFor();
  await noCodes();
  await pw.fill(PASSWORD);
  await page.locator(`section.device-cert[data-id="${certificateId}"] .device-copy`).click();
  const code = (await page.locator("#copy-code").textContent()).trim();
  await checkpoint("device: copy code", "copy-code");

  // Profile B: fetch with the code, keep it, sign in, sign.
  page = await open(profiles[1]);
  await page.goto(`${BASE}/portal/#/device`);
  await page.locator("#device-none").waitFor();
  await checkpoint("profile B: no certificate yet", "device-b-empty");
  await page.fill("#receive-code", "12-34");
  await page.click("#receive-go");
  await page.locator("#status.error").filter({ hasText: "코드" }).waitFor();
  await noCodes();
  await page.fill("#receive-code", code.toLowerCase());
  await page.fill("#receive-password", "another device pw");
  await page.click("#receive-go");
  await expectStatus("저장했습니다");
  await signInOnDevice(certificateId);
  await checkpoint("profile B: signed in", "device-b");
  const second = await signatureRequest(token, certificateId, "카드 결제 33,000원", 2);
  await approveOnDevice("33,000원");
  await checkpoint("profile B: approved", "approved-b");
  // The code worked once.
  const again = await fetch(`${BASE}/v1/device-copies/claim`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: code.slice(0, 10) }) });
  return { axeRuns, certificateId, requests: [first, second], kept, codeShape: /^[0-9]{10}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(code), claimAgain: again.status };
}

try {
  const out = await run();
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log(JSON.stringify({ ok: true, ...out }));
} catch (e) {
  if (page) await shot("failure").catch(() => {});
  const status = page ? await page.locator("#status").textContent().catch(() => "") : "";
  console.log(JSON.stringify({ ok: false, error: String(e), status, errors }));
  process.exitCode = 1;
} finally {
  for (const c of contexts) await c.close().catch(() => {});
  for (const d of profiles) rmSync(d, { recursive: true, force: true });
}
