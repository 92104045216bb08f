// Browser tests of the portal in real headless Chromium, driven by playwright-core.
// Run by tests/api/portal.rs (which starts the service and prepares the customer, the OTP
// token and the institution), in two phases around a clock jump, each at $VIEWPORT (desktop
// 1280x800 or phone 390x844):
//   node portal.mjs enrol   — home, the four-step issuance wizard, registration with an
//                             institution, approval with the keypad PIN, a passkey through
//                             Chromium's virtual authenticator, approval with the passkey,
//                             sign-out on the server (the old token is refused), sign in by
//                             choosing (identify, phone code, choose, PIN), another approval
//   node portal.mjs renew   — sign in by choosing and renew inside the renewal window; then
//                             the idle countdown (the page's clock moved), "stay signed in",
//                             and the sign-out after 5 idle minutes (the token is refused)
// Every page state checked has touch targets of at least 44 px. Prints one JSON line with what
// the Rust side checks. Screenshots go to $SHOTS.
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set`); return process.env[k]; };
const BASE = env("BASE");
const PIN = env("PIN");
const SHOTS = env("SHOTS");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({ executablePath: env("CHROMIUM"), args: ["--no-sandbox"] });
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
const viewport = VIEWPORTS[env("VIEWPORT")];
if (!viewport) throw new Error(`VIEWPORT is desktop or phone, not ${process.env.VIEWPORT}`);
const context = await browser.newContext({ viewport, locale: "ko-KR", isMobile: env("VIEWPORT") === "phone", hasTouch: env("VIEWPORT") === "phone" });
const page = await context.newPage();
// The page's timers and clock are the test's to move (the idle countdown); time still flows.
await page.clock.install();
page.setDefaultTimeout(15000);
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

// The keypad's digits are shuffled: press each PIN digit by its label, wherever it is.
async function typePin(pin) {
  await page.locator(".keypad").last().waitFor();
  for (const d of pin) await page.locator(`.keypad button[data-digit="${d}"]`).last().click();
}

async function expectStatus(text) {
  await page.locator("#status.info").filter({ hasText: text }).waitFor();
}

// Every visible control (buttons, links, fields) is at least 44 x 44 px.
async function touchTargets(where) {
  const small = await page.evaluate(() => [...document.querySelectorAll("button, a, select, input, textarea")]
    .filter((el) => {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && style.visibility !== "hidden"
        && !["checkbox", "file"].includes(el.type);
    })
    .map((el) => { const r = el.getBoundingClientRect(); return { tag: el.tagName, id: el.id, text: (el.textContent || el.value || "").trim().slice(0, 30), w: Math.round(r.width), h: Math.round(r.height) }; })
    .filter((x) => x.w < 44 || x.h < 44));
  if (small.length) throw new Error(`touch targets under 44 px on ${where}: ${JSON.stringify(small)}`);
}

async function expectError(text) {
  await page.locator("#status.error").filter({ hasText: text }).waitFor();
}

// The status line is a sentence in the page's language, never a code.
async function noCodes() {
  const text = await page.locator("#status").textContent();
  if (/\b[a-z]+_[a-z_]+\b|\(\w+\)/.test(text)) throw new Error(`a code in the message: ${text}`);
}

async function tokenStatus(token) {
  return (await fetch(`${BASE}/v1/certificates`, { headers: { authorization: `Bearer ${token}` } })).status;
}

// The newest code sent to the customer's phone after `before` messages (delivery does not hold
// up the answer, so it may land a moment later).
async function codeAfter(before) {
  for (let i = 0; i < 100; i++) {
    const resp = await fetch(`${BASE}/dev/outbox/01012345678`);
    if (resp.ok) {
      const msg = await resp.json();
      if (msg.body !== before) return msg.body.match(/\d{6}/)[0];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no sign-in code arrived");
}

async function lastMessage() {
  const resp = await fetch(`${BASE}/dev/outbox/01012345678`);
  return resp.ok ? (await resp.json()).body : null;
}

// Sign in by choosing: identify (birth date typed as 8 digits), the phone code (a wrong one
// first), choose the certificate, the keypad PIN.
async function signInByChoosing(certificateId, prefix) {
  await page.goto(`${BASE}/portal/#/login`);
  await page.fill("#signin-name", "홍길동");
  await page.fill("#signin-birth", "1987-13-40");
  await page.fill("#signin-phone", "010-1234-5678");
  await page.click("#signin-sms");
  await expectError("생년월일");
  await noCodes();
  await page.fill("#signin-birth", "19870314");
  await touchTargets(`${prefix} sign-in: identify`);
  await shot(`${prefix}-signin-identify`);
  const before = await lastMessage();
  await page.click("#signin-sms");
  await page.locator("#signin-sent").filter({ hasText: "010-****-5678" }).waitFor();
  const code = await codeAfter(before);
  await page.fill("#signin-code", "12345");
  await page.click("#signin-verify");
  await expectError("6자리");
  await page.fill("#signin-code", code === "000000" ? "111111" : "000000");
  await page.click("#signin-verify");
  await expectError("인증번호가 올바르지 않습니다");
  await noCodes();
  await touchTargets(`${prefix} sign-in: code`);
  await shot(`${prefix}-signin-code`);
  await page.fill("#signin-code", code);
  await page.click("#signin-verify");
  const choice = page.locator(`section.choice[data-id="${certificateId}"]`);
  await choice.waitFor();
  await touchTargets(`${prefix} sign-in: choose`);
  await shot(`${prefix}-signin-choose`);
  await choice.locator("button.choose").click();
  await page.click("#login-pin");
  await typePin(PIN);
  await expectStatus("로그인했습니다");
  await page.locator(`section.cert[data-id="${certificateId}"]`).waitFor();
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

async function signatureRequest(token, certificateId, text, n) {
  const digest = Buffer.alloc(32, n).toString("base64");
  const resp = await fetch(`${BASE}/v1/signature-requests`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "idempotency-key": `portal-${n}` },
    body: JSON.stringify({ certificate_id: certificateId, digests: [digest], display_text: text }),
  });
  if (resp.status !== 201) throw new Error(`request ${resp.status} ${await resp.text()}`);
  return (await resp.json()).id;
}

async function enrol() {
  await page.goto(`${BASE}/portal/`);
  await page.getByRole("heading", { name: "인증센터" }).waitFor();
  await shot("home");
  // Language switch and back.
  await page.click("#lang");
  await page.getByRole("heading", { name: "Certificate centre" }).waitFor();
  await shot("home-en");
  await page.click("#lang");

  // Step 1: terms.
  await page.click('a[href="#/enrol/issue"]');
  await page.locator("#agree").check();
  await shot("enrol-terms");
  await page.click("#next");
  // Step 2: identity (a wrong birth date first: a clear error, nothing lost).
  await page.fill("#name", "홍길동");
  await page.fill("#birth", "1990-01-01");
  await page.fill("#phone", "010-1234-5678");
  await page.fill("#customer", "110-123-456789");
  await page.click("#next");
  await page.locator("#status.error").filter({ hasText: "본인 정보" }).waitFor();
  await shot("enrol-identity-error");
  await page.fill("#birth", "1987-03-14");
  await page.click("#next");
  // Step 3: the SMS code (read from the development outbox) ...
  await page.click("#send-sms");
  await expectStatus("인증번호");
  const msg = await (await fetch(`${BASE}/dev/outbox/01012345678`)).json();
  const code = msg.body.match(/\d{6}/)[0];
  await page.fill("#code", code);
  await page.click("#next");
  // ... and the security medium: the hardware OTP.
  await page.selectOption("#medium-kind", "hotp");
  await page.fill("#answer", env("HOTP"));
  await shot("enrol-medium");
  await page.click("#next");
  // Step 4: usage and the PIN, twice, on the shuffled keypad.
  await page.selectOption("#usage", "general");
  await page.click("#next");
  await page.locator(".pin-label").filter({ hasText: "PIN 6자리" }).waitFor();
  const first = await page.locator(".keypad .digit").allTextContents();
  await typePin(PIN);
  await page.locator(".pin-label").filter({ hasText: "한 번 더" }).waitFor();
  const second = await page.locator(".keypad .digit").allTextContents();
  await typePin(PIN);
  await page.locator("#done").waitFor();
  await shot("enrol-done");
  const certificateId = (await page.locator("#new-cert").textContent()).trim();

  // My certificates: register the certificate with the institution.
  await page.goto(`${BASE}/portal/#/certificates`);
  const card = page.locator(`section.cert[data-id="${certificateId}"]`);
  await card.waitFor();
  await card.getByRole("button", { name: "기관에 등록" }).click();
  await expectStatus("저장");
  await page.locator(".consent").first().waitFor();
  await shot("certificates");

  // Registering another institution's certificate: by certificate, or PKCS#12 import.
  await page.goto(`${BASE}/portal/#/foreign`);
  await page.locator("#import-p12").waitFor();
  await shot("foreign");

  // A signature request, approved with the keypad PIN.
  const token = await institutionToken();
  await signatureRequest(token, certificateId, "Hana Bank 이체 1,000,000원 → 김민수 (110-123-456789)", 1);
  await page.goto(`${BASE}/portal/#/approvals`);
  const item = page.locator("section.approval").first();
  await item.locator(".display-text").filter({ hasText: "1,000,000원" }).waitFor();
  await shot("approval");
  await item.locator(".approve-pin").click();
  await typePin(PIN);
  await expectStatus("서명했습니다");

  // A passkey through Chromium's virtual authenticator, bound to the certificate's key.
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await page.goto(`${BASE}/portal/#/passkeys`);
  await page.fill("#passkey-name", "Chromium");
  await page.click("#add-passkey");
  await typePin(PIN);
  await page.locator(".passkey").filter({ hasText: "Chromium" }).waitFor();
  await shot("passkeys");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });

  // Another request, approved with the passkey.
  await signatureRequest(token, certificateId, "카드 결제 55,000원 승인", 2);
  await page.goto(`${BASE}/portal/#/approvals`);
  const second_item = page.locator("section.approval").first();
  await second_item.locator(".display-text").filter({ hasText: "55,000원" }).waitFor();
  await second_item.locator(".approve-passkey").click();
  await expectStatus("서명했습니다");
  await page.locator("#no-approvals").waitFor();
  await touchTargets("approvals");

  // Sign-out ends the session on the server: the old access token is refused.
  const old = await page.evaluate(() => sessionStorage.getItem("fincert.token"));
  if ((await tokenStatus(old)) !== 200) throw new Error("the session works before sign-out");
  await page.click("#nav-session");
  await expectStatus("로그아웃했습니다");
  const afterSignOut = await tokenStatus(old);
  if (afterSignOut !== 401) throw new Error(`the old token after sign-out: ${afterSignOut}`);
  await touchTargets("home");

  // Sign in by choosing, then approve a third request with the PIN.
  await signInByChoosing(certificateId, "enrol");
  await touchTargets("certificates");
  await signatureRequest(token, certificateId, "증권 매수 주문 3,000,000원", 3);
  await page.goto(`${BASE}/portal/#/approvals`);
  const third = page.locator("section.approval").first();
  await third.locator(".display-text").filter({ hasText: "3,000,000원" }).waitFor();
  await third.locator(".approve-pin").click();
  await typePin(PIN);
  await expectStatus("서명했습니다");
  return { certificateId, keypadShuffled: first.length === 10 && second.length === 10 && first.join("") !== second.join(""), passkeys: credentials.length, oldTokenAfterSignOut: afterSignOut };
}

async function renew() {
  const certificateId = env("CERTIFICATE");
  await signInByChoosing(certificateId, "renew");
  const card = page.locator(`section.cert[data-id="${certificateId}"]`);
  await card.locator(".renewal-open").waitFor();
  const left = await card.locator(".countdown").textContent();
  if (!/^(19|20|21)일/.test(left)) throw new Error(`countdown by the service clock: ${left}`);
  await shot("renewal-open");
  await card.locator("button.renew").click();
  await typePin(PIN);
  await expectStatus("저장");
  await page.locator("section.cert").nth(1).waitFor();
  await shot("renewed");
  const certificates = await page.locator("section.cert").count();

  // Idle: a countdown in the last minute, "stay signed in" keeps the session, five idle
  // minutes end it on the server.
  const token = await page.evaluate(() => sessionStorage.getItem("fincert.token"));
  await page.clock.fastForward("04:05");
  await page.locator("#idle:not([hidden])").filter({ hasText: "초 뒤에 자동으로 로그아웃됩니다" }).waitFor();
  await touchTargets("idle warning");
  await shot("idle-warning");
  await page.click("#idle-stay");
  await page.locator("#idle").waitFor({ state: "hidden" });
  await page.clock.fastForward("05:10");
  await expectStatus("5분 동안 사용하지 않아 로그아웃되었습니다");
  const idleToken = await tokenStatus(token);
  if (idleToken !== 401) throw new Error(`the token after the idle sign-out: ${idleToken}`);
  const refreshed = await page.evaluate(() => sessionStorage.getItem("fincert.token"));
  if (refreshed) throw new Error("the session is still kept in the page");
  return { certificates, idleSignedOut: true };
}

try {
  const out = process.argv[2] === "renew" ? await renew() : await enrol();
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log(JSON.stringify({ ok: true, ...out }));
} catch (e) {
  await shot("failure").catch(() => {});
  const status = await page.locator("#status").textContent().catch(() => "");
  console.log(JSON.stringify({ ok: false, error: String(e), status, errors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
