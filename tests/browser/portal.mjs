// Browser tests of the portal in real headless Chromium, driven by playwright-core.
// Run by tests/api/portal.rs (which starts the service and prepares the customer, the OTP
// token and the institution), in two phases around a clock jump:
//   node portal.mjs enrol   — home, the four-step issuance wizard, registration with an
//                             institution, approval with the keypad PIN, a passkey through
//                             Chromium's virtual authenticator, approval with the passkey
//   node portal.mjs renew   — sign in with the PIN and renew inside the renewal window
// Prints one JSON line with what the Rust side checks. Screenshots go to $SHOTS.
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
const context = await browser.newContext({ viewport: { width: 420, height: 900 }, locale: "ko-KR" });
const page = await context.newPage();
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
  return { certificateId, keypadShuffled: first.length === 10 && second.length === 10 && first.join("") !== second.join(""), passkeys: credentials.length };
}

async function renew() {
  const certificateId = env("CERTIFICATE");
  await page.goto(`${BASE}/portal/#/login`);
  await page.fill("#cert-id", certificateId);
  await page.click("#login-pin");
  await typePin(PIN);
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
  return { certificates: await page.locator("section.cert").count() };
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
