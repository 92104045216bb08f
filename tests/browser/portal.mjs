// Browser tests of the portal in real headless Chromium, driven by playwright-core.
// Run by tests/api/portal.rs (which starts the service and prepares the customer, the OTP
// token, the institution and the PKCS#12 and NPKI files), in three phases, the last after a
// clock jump, each at $VIEWPORT (desktop 1280x800 or phone 390x844):
//   node portal.mjs enrol   — home, the four-step issuance wizard (terms in Korean, the
//                             optional one ticked on its own; a reload and a language switch
//                             keep the step and what was typed; the general-purpose fee
//                             agreed to first), registration with an institution, approval
//                             with the keypad PIN, a passkey through Chromium's virtual
//                             authenticator, a request that appears on the open list by
//                             itself, approved with the passkey, sign-out on the server
//                             (the old token is refused), sign in by choosing (identify, phone
//                             code, choose, "remember this device", PIN), another approval;
//                             signed out, the remembered certificate signs in without the
//                             identity check (a wrong PIN pointing to it, then the right PIN;
//                             then the passkey); change of PIN; five wrong
//                             PINs (tries left shown, the lock explained, the keypad gone);
//                             the PIN reset with the bound passkey; an approval with the new
//                             PIN; the usage history (filters, CSV download); signed out, the
//                             device forgets the certificate
//   node portal.mjs imports — sign in by choosing, import a PKCS#12 file and an NPKI pair,
//                             register both with the institution and approve a request with each;
//                             a request left past its deadline (the page's clock moved) loses its
//                             keypad and buttons to a sentence
//   node portal.mjs renew   — sign in by choosing inside the renewal window, turn automatic
//                             renewal on (the fee, read from the service, agreed to), see a
//                             request refused elsewhere leave the open list by itself, approve
//                             a request with the PIN and read that it renewed the certificate;
//                             suspend, resume and revoke with their confirmations (and,
//                             signed out, a suspended certificate resumed by sign-in by
//                             choosing and its PIN);
//                             then the idle countdown (the page's clock moved), "stay signed
//                             in", and the sign-out after 5 idle minutes (the token is refused)
// Every page state checked has touch targets of at least 44 px, 0 axe-core violations of the
// WCAG 2.2 AA rules, and a status line that is a sentence, never a code. Prints one JSON line
// with what the Rust side checks. Screenshots go to $SHOTS.
import { createRequire } from "node:module";
import * as checks from "./checks.mjs";
import { mkdirSync, readFileSync } from "node:fs";

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
const AXE = readFileSync(env("AXE"), "utf8");
const NEW_PIN = env("NEW_PIN");
const RESET_PIN = env("RESET_PIN");
const WRONG_PIN = env("WRONG_PIN");
let axeRuns = 0;
// The general-purpose fee the service is configured with (pki.general_purpose_fee_krw, set by
// the Rust side to something other than the default): the portal shows what the service says.
const FEE = Number(env("FEE_KRW")).toLocaleString("ko-KR");

async function axeCheck(where) {
  await checks.axeCheck(page, AXE, where);
  axeRuns += 1;
}

// One page state: touch targets, axe-core, messages as sentences, no fee but the service's,
// a screenshot.
async function checkpoint(where, name) {
  await touchTargets(where);
  await axeCheck(where);
  await noCodes();
  await onlyTheServicesFee(where);
  if (name) await shot(name);
}

// The keypad's digits are shuffled: press each PIN digit by its label, wherever it is.
async function typePin(pin) {
  await page.locator(".keypad").last().waitFor();
  for (const d of pin) await page.locator(`.keypad button[data-digit="${d}"]`).last().click();
}

async function expectStatus(text) {
  await page.locator("#status.info").filter({ hasText: text }).waitFor();
}

const touchTargets = (where) => checks.touchTargets(page, where);

async function expectError(text) {
  await page.locator("#status.error").filter({ hasText: text }).waitFor();
}

// The messages shown (status line, dialogs, notices) are sentences in the page's language:
// never a code, a "(code)" suffix, nor a browser's or gateway's own words.
const CODE = /\b[a-z]+_[a-z_]+\b|\([a-z_]+\)|Failed to fetch|Bad Gateway|NetworkError|Internal Server Error/;
async function noCodes() {
  const texts = await page.evaluate(() => [...document.querySelectorAll("#status, dialog, .locked, #idle-text, #reset-reissue")].map((el) => el.textContent || ""));
  for (const text of texts) if (CODE.test(text)) throw new Error(`a code in the message: ${text}`);
}

// The default fee (4,400) never appears: every amount shown comes from GET /v1/pricing.
async function onlyTheServicesFee(where) {
  const text = await page.evaluate(() => document.body.innerText);
  if (FEE !== "4,400" && text.includes("4,400")) throw new Error(`a fee not read from the service on ${where}`);
}

// Agrees in the confirmation dialog (its text checked first).
async function confirm(text) {
  const dialog = page.locator("dialog[open]");
  await dialog.filter({ hasText: text }).waitFor();
  await page.click("#dialog-ok");
  await dialog.waitFor({ state: "detached" });
}

async function tokenStatus(token) {
  return (await fetch(`${BASE}/v1/certificates`, { headers: { authorization: `Bearer ${token}` } })).status;
}

// The newest code sent to the customer's phone after `before` messages (delivery does not hold
// up the answer, so it may land a moment later).
const codeAfter = (before) => checks.codeAfter(BASE, before);
const lastMessage = () => checks.lastMessage(BASE);

// Identifies (a bad birth date typed as 8 digits, a wrong code on the way) up to the list of
// certificates; returns the card of `certificateId` there.
async function reachChoice(certificateId, prefix) {
  await page.goto(`${BASE}/portal/#/login`);
  await page.fill("#signin-name", "홍길동");
  await page.fill("#signin-birth", "1987-13-40");
  await page.fill("#signin-phone", "010-1234-5678");
  await page.click("#signin-sms");
  await expectError("생년월일");
  await noCodes();
  await page.fill("#signin-birth", "19870314");
  await checkpoint(`${prefix} sign-in: identify`, `${prefix}-signin-identify`);
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
  await checkpoint(`${prefix} sign-in: code`, `${prefix}-signin-code`);
  await page.fill("#signin-code", code);
  await page.click("#signin-verify");
  const choice = page.locator(`section.choice[data-id="${certificateId}"]`);
  await choice.waitFor();
  await checkpoint(`${prefix} sign-in: choose`, `${prefix}-signin-choose`);
  return choice;
}

// Sign in by choosing: identify, the phone code, choose the certificate (and, with
// `remember`, tick "remember this certificate on this device"), the keypad PIN.
async function signInByChoosing(certificateId, prefix, pin = PIN, remember = false) {
  const choice = await reachChoice(certificateId, prefix);
  await choice.locator("button.choose").click();
  if (remember) {
    await page.locator("#signin-remember").check();
    await checkpoint(`${prefix} sign-in: remember this device`, `${prefix}-signin-remember`);
  }
  await page.click("#login-pin");
  await page.locator(".keypad").waitFor();
  await checkpoint(`${prefix} sign-in: keypad`);
  await typePin(pin);
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

async function signatureRequest(token, certificateId, text, n, extra = {}) {
  const digest = Buffer.alloc(32, n).toString("base64");
  const resp = await fetch(`${BASE}/v1/signature-requests`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "idempotency-key": `portal-${n}` },
    body: JSON.stringify({ certificate_id: certificateId, digests: [digest], display_text: text, ...extra }),
  });
  if (resp.status !== 201) throw new Error(`request ${resp.status} ${await resp.text()}`);
  return (await resp.json()).id;
}

async function enrol() {
  await page.goto(`${BASE}/portal/`);
  await page.getByRole("heading", { name: "인증센터" }).waitFor();
  await checkpoint("home", "home");
  // Language switch and back.
  await page.click("#lang");
  await page.getByRole("heading", { name: "Certificate centre" }).waitFor();
  await checkpoint("home (English)", "home-en");
  await page.click("#lang");

  // Step 1: terms, in Korean, each marked required or optional. "Agree to all" ticks the
  // required ones only; going on without them says why; the optional term is ticked on its
  // own, and a reload keeps the boxes (and the enrolment).
  await page.click('a[href="#/enrol/issue"]');
  await page.locator("#terms-service").waitFor();
  const titles = await page.locator(".terms > label").allTextContents();
  if (titles.length !== 4 || !titles.every((x) => /[가-힣]/.test(x))) throw new Error(`terms not in Korean: ${titles}`);
  if (!titles.some((x) => x.includes("[선택]"))) throw new Error(`the optional term is not marked: ${titles}`);
  await page.click("#next");
  await expectError("필수 약관에 모두 동의해야");
  await page.locator("#agree").check();
  if (await page.locator("#terms-marketing").isChecked()) throw new Error("'agree to all' ticked the optional term");
  for (const code of ["service", "privacy", "identity-check"]) {
    if (!await page.locator(`#terms-${code}`).isChecked()) throw new Error(`'agree to all' left ${code}`);
  }
  await page.locator("#terms-marketing").check();
  await checkpoint("wizard: terms", "enrol-terms");
  await page.reload();
  await page.locator("#terms-service").waitFor();
  await page.waitForFunction(() => document.querySelector("#terms-marketing").checked && document.querySelector("#agree").checked);
  await page.click("#next");
  // Step 2: identity (a wrong birth date first: a clear error, nothing lost). A reload and a
  // language switch keep the step and what was typed.
  await page.fill("#name", "홍길동");
  await page.fill("#birth", "1990-01-01");
  await page.reload();
  await page.locator('label[for="name"]').filter({ hasText: "이름" }).waitFor();
  await page.click("#lang");
  await page.locator('label[for="name"]').filter({ hasText: "Name" }).waitFor();
  if (await page.inputValue("#name") !== "홍길동" || await page.inputValue("#birth") !== "1990-01-01") throw new Error("the wizard lost what was typed");
  await checkpoint("wizard: identity kept (English)", "enrol-identity-en");
  await page.click("#lang");
  await page.locator('label[for="name"]').filter({ hasText: "이름" }).waitFor();
  if (await page.inputValue("#name") !== "홍길동") throw new Error("the wizard lost what was typed");
  await page.fill("#phone", "010-1234-5678");
  await page.fill("#customer", "110-123-456789");
  await page.click("#next");
  await page.locator("#status.error").filter({ hasText: "본인 정보" }).waitFor();
  await checkpoint("wizard: identity error", "enrol-identity-error");
  await page.fill("#birth", "1987-03-14");
  await page.click("#next");
  // Step 3: the SMS code (read from the development outbox) ...
  await page.click("#send-sms");
  await expectStatus("인증번호");
  const msg = await (await fetch(`${BASE}/dev/outbox/01012345678`)).json();
  const code = msg.body.match(/\d{6}/)[0];
  await page.fill("#code", code);
  await page.click("#next");
  // ... and the security medium: only the hardware OTP the customer holds is offered, and no
  // security-card cells are asked for.
  await page.locator("#medium-kind").waitFor();
  const offered = await page.locator("#medium-kind option").evaluateAll((os) => os.map((o) => o.value));
  if (JSON.stringify(offered) !== '["hotp"]') throw new Error(`media offered: ${offered}`);
  if ((await page.locator("#medium-ask").textContent()).trim()) throw new Error("card cells asked of a customer with only an OTP");
  await page.selectOption("#medium-kind", "hotp");
  await page.fill("#answer", env("HOTP"));
  await checkpoint("wizard: medium", "enrol-medium");
  await page.click("#next");
  // Step 4: usage and the PIN, twice, on the shuffled keypad; the general-purpose fee is
  // agreed to before anything is charged (declining charges nothing and stays here).
  await page.selectOption("#usage", "general");
  await page.click("#next");
  await page.locator("dialog[open]").filter({ hasText: `${FEE}원` }).waitFor();
  await checkpoint("wizard: fee", "enrol-fee");
  await page.click("#dialog-cancel");
  await expectStatus("청구되지 않았습니다");
  await page.click("#next");
  await confirm(`${FEE}원`);
  await page.locator(".pin-label").filter({ hasText: "PIN 6자리" }).waitFor();
  const first = await page.locator(".keypad .digit").allTextContents();
  await typePin(PIN);
  await page.locator(".pin-label").filter({ hasText: "한 번 더" }).waitFor();
  const second = await page.locator(".keypad .digit").allTextContents();
  await typePin(PIN);
  await page.locator("#done").waitFor();
  await checkpoint("wizard: done", "enrol-done");
  const certificateId = (await page.locator("#new-cert").textContent()).trim();

  // My certificates: register the certificate with the institution.
  await page.goto(`${BASE}/portal/#/certificates`);
  const card = page.locator(`section.cert[data-id="${certificateId}"]`);
  await card.waitFor();
  await card.getByRole("button", { name: "기관에 등록" }).click();
  await expectStatus("저장");
  await page.locator(".consent").first().waitFor();
  await checkpoint("certificates", "certificates");

  // Registering another institution's certificate: by certificate, PKCS#12 or NPKI import.
  await page.goto(`${BASE}/portal/#/foreign`);
  await page.locator("#import-npki").waitFor();
  await checkpoint("foreign", "foreign");

  // A signature request, approved with the keypad PIN.
  const token = await institutionToken();
  await signatureRequest(token, certificateId, "Hana Bank 이체 1,000,000원 → 김민수 (110-123-456789)", 1);
  await page.goto(`${BASE}/portal/#/approvals`);
  const item = page.locator("section.approval").first();
  await item.locator(".display-text").filter({ hasText: "1,000,000원" }).waitFor();
  await checkpoint("approval", "approval");
  await item.locator(".approve-pin").click();
  await typePin(PIN);
  await expectStatus("서명했습니다");

  // A passkey through Chromium's virtual authenticator, bound to the certificate's key.
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true, hasPrf: true },
  });
  await page.goto(`${BASE}/portal/#/passkeys`);
  await page.fill("#passkey-name", "Chromium");
  await page.click("#add-passkey");
  await typePin(PIN);
  const added = page.locator(".passkey").filter({ hasText: "Chromium" });
  await added.waitFor();
  // The authenticator has PRF: the certificate's key is bound to its output (sole control),
  // and the page says so in a sentence.
  const soleControl = await added.getAttribute("data-sole-control");
  await added.locator(".passkey-control").filter({ hasText: "이 기기 없이는" }).waitFor();
  await checkpoint("passkeys", "passkeys");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });

  // Another request, approved with the passkey: it appears on the open list by itself (the
  // list refreshes every 10 seconds; the page's clock moved past one).
  await page.goto(`${BASE}/portal/#/approvals`);
  await page.locator("#no-approvals").waitFor();
  await signatureRequest(token, certificateId, "카드 결제 55,000원 승인", 2);
  await page.clock.fastForward("00:11");
  await page.locator("section.approval").filter({ hasText: "55,000원" }).waitFor({ timeout: 10000 });
  if (await page.locator("#no-approvals").count()) throw new Error("'nothing waiting' stays beside a new request");
  const second_item = page.locator("section.approval").first();
  await second_item.locator(".display-text").filter({ hasText: "55,000원" }).waitFor();
  await second_item.locator(".approve-passkey").click();
  await expectStatus("서명했습니다");
  await page.locator("#no-approvals").waitFor();
  await checkpoint("approvals: none");

  // Sign-out ends the session on the server: the old access token is refused.
  const old = await page.evaluate(() => sessionStorage.getItem("fincert.token"));
  if ((await tokenStatus(old)) !== 200) throw new Error("the session works before sign-out");
  await page.click("#nav-session");
  await expectStatus("로그아웃했습니다");
  const afterSignOut = await tokenStatus(old);
  if (afterSignOut !== 401) throw new Error(`the old token after sign-out: ${afterSignOut}`);
  await checkpoint("home after sign-out");

  // Sign in by choosing (this device to remember the certificate), then approve a third
  // request with the PIN.
  await signInByChoosing(certificateId, "enrol", PIN, true);
  await checkpoint("certificates after sign-in");
  await signatureRequest(token, certificateId, "증권 매수 주문 3,000,000원", 3);
  await page.goto(`${BASE}/portal/#/approvals`);
  const third = page.locator("section.approval").first();
  await third.locator(".display-text").filter({ hasText: "3,000,000원" }).waitFor();
  await third.locator(".approve-pin").click();
  await typePin(PIN);
  await expectStatus("서명했습니다");

  // Signed out, the sign-in page offers the remembered certificate first, and the passkey
  // signs in with it without the identity check. What the device keeps is the certificate's
  // id, kind and subject, never a PIN or a token.
  const kept = JSON.parse(await page.evaluate(() => localStorage.getItem("fincert.remembered")) || "[]");
  if (kept.length !== 1 || kept[0].id !== certificateId || Object.keys(kept[0]).sort().join() !== "id,kind,subject") throw new Error(`what the device remembers: ${JSON.stringify(kept)}`);
  await page.click("#nav-session");
  await expectStatus("로그아웃했습니다");
  await page.goto(`${BASE}/portal/#/login`);
  const known = page.locator(`section.known[data-id="${certificateId}"]`);
  await known.waitFor();
  await checkpoint("sign-in: remembered on this device", "signin-remembered");
  // Its PIN: a wrong one (nobody identified, so no tries left) points to the identity check,
  // and the keypad asks again for the right one.
  await known.locator("button.known-pin").click();
  await typePin(WRONG_PIN);
  await expectError("본인 확인으로 로그인하세요");
  await checkpoint("sign-in: remembered, wrong PIN");
  await typePin(PIN);
  await expectStatus("로그인했습니다");
  await page.locator(`section.cert[data-id="${certificateId}"]`).waitFor();
  // Its passkey.
  await page.click("#nav-session");
  await expectStatus("로그아웃했습니다");
  await page.goto(`${BASE}/portal/#/login`);
  await known.locator("button.known-passkey").click();
  await expectStatus("로그인했습니다");
  await page.locator(`section.cert[data-id="${certificateId}"]`).waitFor();

  // Change of PIN: current, new, new again.
  await page.goto(`${BASE}/portal/#/certificates`);
  const mine = page.locator(`section.cert[data-id="${certificateId}"]`);
  await mine.locator("button.change-pin").click();
  await page.locator(".pin-label").filter({ hasText: "지금 쓰는 PIN" }).waitFor();
  await checkpoint("change PIN: keypad", "pin-change");
  await typePin(PIN);
  await page.locator(".pin-label").filter({ hasText: "새 PIN" }).waitFor();
  await typePin(NEW_PIN);
  await page.locator(".pin-label").filter({ hasText: "한 번 더" }).waitFor();
  await typePin(NEW_PIN);
  await expectStatus("PIN을 바꿨습니다");

  // Five wrong current PINs: each says how many tries are left; the fifth explains the lock,
  // the keypad is gone and the button is off; the way out is the PIN reset.
  await mine.locator("button.change-pin").click();
  await page.locator(".pin-label").filter({ hasText: "지금 쓰는 PIN" }).waitFor();
  await typePin(WRONG_PIN);
  await page.locator(".pin-label").filter({ hasText: "새 PIN" }).waitFor();
  await typePin(RESET_PIN);
  await page.locator(".pin-label").filter({ hasText: "한 번 더" }).waitFor();
  await typePin(RESET_PIN);
  const triesShown = [];
  for (const left of [4, 3, 2, 1]) {
    await expectError(`남은 횟수 ${left}번`);
    triesShown.push(left);
    if (left === 4) await checkpoint("wrong PIN: tries left", "pin-tries-left");
    await page.locator(".pin-label").filter({ hasText: "지금 쓰는 PIN" }).waitFor();
    await typePin(WRONG_PIN);
  }
  await expectError("연속 5번 틀려 PIN이 잠겼습니다");
  await mine.locator(".locked").filter({ hasText: "재발급" }).waitFor();
  if (await page.locator(".keypad").count() !== 0) throw new Error("the keypad stays after the lock");
  if (!await mine.locator("button.change-pin").isDisabled()) throw new Error("the change-PIN button stays live after the lock");
  await checkpoint("PIN locked", "pin-locked");

  // The PIN reset: identity, phone code, security medium, then the bound passkey and a new PIN.
  await mine.locator("#reset-link").click();
  await page.getByRole("heading", { name: "PIN 재설정" }).waitFor();
  await page.fill("#name", "홍길동");
  await page.fill("#birth", "1987-03-14");
  await page.fill("#phone", "010-1234-5678");
  await page.fill("#customer", "110-123-456789");
  await checkpoint("PIN reset: identity", "reset-identity");
  await page.click("#next");
  const before = await lastMessage();
  await page.click("#send-sms");
  await expectStatus("인증번호");
  await page.fill("#code", await codeAfter(before));
  await page.click("#next");
  await page.selectOption("#medium-kind", "hotp");
  await page.fill("#answer", env("HOTP2"));
  await page.click("#next");
  await page.locator("#reset-passkey").waitFor();
  await checkpoint("PIN reset: passkey", "reset-passkey");
  await page.click("#reset-passkey");
  await page.locator(".pin-label").filter({ hasText: "PIN 6자리" }).waitFor();
  await typePin(RESET_PIN);
  await page.locator(".pin-label").filter({ hasText: "한 번 더" }).waitFor();
  await typePin(RESET_PIN);
  await page.locator("#reset-done").waitFor();
  await checkpoint("PIN reset: done", "reset-done");

  // The new PIN approves a fourth request.
  await signatureRequest(token, certificateId, "보험료 자동이체 120,000원 등록", 4);
  await page.goto(`${BASE}/portal/#/approvals`);
  const fourth = page.locator("section.approval").first();
  await fourth.locator(".display-text").filter({ hasText: "120,000원" }).waitFor();
  await fourth.locator(".approve-pin").click();
  await typePin(RESET_PIN);
  await expectStatus("서명했습니다");

  // The usage history: every signature, newest first; a filter; the CSV.
  await page.goto(`${BASE}/portal/#/certificates`);
  await mine.locator("a.history-link").click();
  const rows = page.locator("section.history-item");
  await rows.filter({ hasText: "120,000원" }).waitFor();
  const listed = await page.locator("section.history-item .display-text").allTextContents();
  for (const text of ["1,000,000원", "55,000원", "3,000,000원", "120,000원"]) {
    if (!listed.some((l) => l.includes(text))) throw new Error(`the history lacks ${text}: ${JSON.stringify(listed)}`);
  }
  await checkpoint("history", "history");
  await page.selectOption("#history-result", "rejected");
  await page.click("#history-search");
  await page.locator("#history-none").waitFor();
  await checkpoint("history: nothing matches");
  await page.selectOption("#history-result", "signed");
  await page.click("#history-search");
  await rows.first().waitFor();
  const download = page.waitForEvent("download");
  await page.click("#history-csv");
  const csvPath = await (await download).path();
  const csv = readFileSync(csvPath, "utf8");
  if (!csv.startsWith("id,kind,institution,display_text") || !csv.includes("55,000원")) throw new Error(`the CSV: ${csv.slice(0, 200)}`);
  await expectStatus("내려받았습니다");

  // Signed out, the device forgets the certificate: the sign-in page is the identity check
  // again.
  await page.click("#nav-session");
  await expectStatus("로그아웃했습니다");
  await page.goto(`${BASE}/portal/#/login`);
  await page.locator(`section.known[data-id="${certificateId}"] button.known-forget`).click();
  await expectStatus("이 기기에서 인증서를 잊었습니다");
  await page.locator("#signin-name").waitFor();
  await checkpoint("sign-in: forgotten on this device");
  if (await page.evaluate(() => localStorage.getItem("fincert.remembered")) !== null) throw new Error("the device still remembers a certificate");

  return { certificateId, soleControl, keypadShuffled: first.length === 10 && second.length === 10 && first.join("") !== second.join(""), passkeys: credentials.length, oldTokenAfterSignOut: afterSignOut, triesShown, historyRows: listed.length, csvLines: csv.trim().split("\r\n").length, axeRuns };
}

// Imports a PKCS#12 file and an NPKI pair, registers each with the institution, and approves
// a request with each (their PIN is the one chosen at import).
async function imports() {
  const certificateId = env("CERTIFICATE");
  await signInByChoosing(certificateId, "imports", RESET_PIN);
  await page.goto(`${BASE}/portal/#/foreign`);
  await page.locator("#import-p12").waitFor();
  // Nothing chosen: a sentence, nothing sent.
  await page.click("#import-npki");
  await expectError("파일을 고르세요");
  await page.setInputFiles("#p12", env("P12_FILE"));
  await page.fill("#p12-password", "wrong-password");
  await page.click("#import-p12");
  await typePin(PIN);
  await typePin(PIN);
  await expectError("비밀번호를 확인하세요");
  await checkpoint("import: wrong password", "import-wrong-password");
  await page.setInputFiles("#p12", env("P12_FILE"));
  await page.fill("#p12-password", env("P12_PASSWORD"));
  await page.click("#import-p12");
  await typePin(PIN);
  await typePin(PIN);
  await expectStatus("가져왔습니다");
  await page.locator('section.foreign[data-source="pkcs12"]').waitFor();
  await page.setInputFiles("#npki-cert", env("NPKI_CERT"));
  await page.setInputFiles("#npki-key", env("NPKI_KEY"));
  await page.fill("#npki-password", env("NPKI_PASSWORD"));
  await page.click("#import-npki");
  await typePin(PIN);
  await typePin(PIN);
  await expectStatus("가져왔습니다");
  const npki = page.locator('section.foreign[data-source="npki"]');
  await npki.waitFor();
  await checkpoint("imported", "imported");
  const ids = {};
  for (const source of ["pkcs12", "npki"]) {
    const card = page.locator(`section.foreign[data-source="${source}"]`);
    ids[source] = await card.getAttribute("data-id");
    const consented = page.waitForResponse((r) => r.url().endsWith("/v1/consents") && r.request().method() === "POST");
    await card.locator("button.consent-add").click();
    if ((await consented).status() !== 201) throw new Error(`consent for the ${source} import: ${(await consented).status()}`);
  }
  const token = await institutionToken();
  let n = 10;
  for (const source of ["pkcs12", "npki"]) {
    n += 1;
    await signatureRequest(token, ids[source], `${source} 인증서로 계약 서명 ${n}`, n);
    await page.goto(`${BASE}/portal/#/approvals`);
    await page.click("#approvals-refresh");
    const item = page.locator("section.approval").filter({ hasText: `${source} 인증서로` }).first();
    await item.waitFor();
    await item.locator(".approve-pin").click();
    await typePin(PIN);
    await expectStatus("서명했습니다");
    await item.waitFor({ state: "detached" });
  }
  await checkpoint("approvals after imports");

  // A request left until its deadline (30 seconds by the service; the page's clock moved past
  // it): the open keypad and the buttons give way to a sentence, so nothing can be approved.
  const late = await signatureRequest(token, ids.pkcs12, "pkcs12 인증서로 대출 약정 서명", 13, { expires_in: 30 });
  await page.click("#approvals-refresh");
  const lateItem = page.locator(`section.approval[data-id="${late}"]`);
  await lateItem.locator(".approve-pin").click();
  await lateItem.locator(".keypad").waitFor();
  await page.clock.fastForward("00:31");
  await page.locator(`section.approval[data-id="${late}"][data-expired="true"]`).waitFor();
  await lateItem.locator("p.expired").filter({ hasText: "이 요청은 더 이상 승인할 수 없습니다" }).waitFor();
  if (await lateItem.locator("button, .keypad").count()) throw new Error("an expired request still offers buttons or the keypad");
  await checkpoint("approval: expired", "approval-expired");
  return { pkcs12: ids.pkcs12, npki: ids.npki, expiredRequest: late, axeRuns };
}

async function renew() {
  const certificateId = env("CERTIFICATE");
  await signInByChoosing(certificateId, "renew", RESET_PIN);
  const card = page.locator(`section.cert[data-id="${certificateId}"]`);
  await card.locator(".renewal-open").waitFor();
  const left = await card.locator(".countdown").textContent();
  if (!/^(19|20|21)일/.test(left)) throw new Error(`countdown by the service clock: ${left}`);
  await shot("renewal-open");
  await checkpoint("renewal open", null);
  // Automatic renewal: off by default for a general-purpose certificate; turning it on asks
  // the person to agree to the fee the service charges (read from its settings).
  const auto = card.locator("input.auto-renew");
  await auto.waitFor();
  if (await auto.isChecked()) throw new Error("a general-purpose certificate renews itself only once the fee is agreed to");
  await auto.click();
  await page.locator("dialog[open]").filter({ hasText: `자동으로 갱신될 때마다 수수료 ${FEE}원` }).waitFor();
  await checkpoint("auto-renewal: fee", "auto-renew-fee");
  await page.click("#dialog-ok");
  await expectStatus("자동 갱신을 켰습니다");
  if (!await auto.isChecked()) throw new Error("the switch shows the service's setting");
  await checkpoint("auto-renewal on", "auto-renew-on");
  // A request decided elsewhere (refused from another device: here through the API with this
  // session) leaves the open list by itself at its next refresh.
  await page.goto(`${BASE}/portal/#/approvals`);
  await page.locator("#no-approvals").waitFor();
  const elsewhere = await signatureRequest(await institutionToken(), certificateId, "Hana Bank 계좌 해지 신청", 21);
  await page.clock.fastForward("00:11");
  const decidedElsewhere = page.locator(`section.approval[data-id="${elsewhere}"]`);
  await decidedElsewhere.waitFor({ timeout: 10000 });
  const session = await page.evaluate(() => sessionStorage.getItem("fincert.token"));
  const refused = await fetch(`${BASE}/v1/approvals/${elsewhere}/reject`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${session}` }, body: "{}" });
  if (refused.status !== 200) throw new Error(`refused elsewhere: ${refused.status} ${await refused.text()}`);
  await page.clock.fastForward("00:11");
  await decidedElsewhere.waitFor({ state: "detached", timeout: 10000 });
  await page.locator("#no-approvals").waitFor();
  // A signature approved with the PIN inside the renewal window renews the certificate too,
  // and the page says so in a sentence (with the fee charged and the new expiry).
  await signatureRequest(await institutionToken(), certificateId, "Hana Bank 자동이체 등록", 9);
  await page.goto(`${BASE}/portal/#/approvals`);
  const item = page.locator("section.approval").first();
  await item.locator(".display-text").filter({ hasText: "자동이체" }).waitFor();
  await item.locator(".approve-pin").click();
  await typePin(RESET_PIN);
  await expectStatus(`같은 PIN으로 인증서도 자동 갱신했고 수수료 ${FEE}원이 청구되었습니다`);
  const notice = await page.locator("#status").textContent();
  if (!/일련번호 …[0-9a-f]{8}\)는 .+까지 유효합니다/.test(notice)) throw new Error(`the renewal notice: ${notice}`);
  await checkpoint("auto-renewed", "auto-renewed");
  await page.goto(`${BASE}/portal/#/certificates`);
  await page.locator("section.cert").nth(1).waitFor();
  await card.locator(".renewal-open").waitFor({ state: "detached" });
  await checkpoint("renewed", "renewed");
  const certificates = await page.locator("section.cert").count();

  // The renewed certificate: suspend, resume; the old one: revoke, each confirmed first.
  const renewedId = await page.locator(`section.cert:not([data-id="${certificateId}"])`).first().getAttribute("data-id");
  const renewed = page.locator(`section.cert[data-id="${renewedId}"]`);
  await renewed.locator("button.suspend").click();
  await page.locator("dialog[open]").filter({ hasText: "정지할까요" }).waitFor();
  await checkpoint("suspend: confirmation", "suspend-confirm");
  await page.click("#dialog-ok");
  await expectStatus("정지했습니다");
  await page.locator(`section.cert[data-id="${renewedId}"][data-status="suspended"]`).waitFor();
  await checkpoint("suspended", "suspended");
  await renewed.locator("button.resume").click();
  await confirm("정지를 해제할까요");
  await expectStatus("정지를 해제했습니다");
  await page.locator(`section.cert[data-id="${renewedId}"][data-status="active"]`).waitFor();
  // Suspended again, then signed out: sign-in by choosing offers to resume it with the
  // identity just checked and its PIN (no session needed), and signs in.
  await renewed.locator("button.suspend").click();
  await confirm("정지할까요");
  await page.locator(`section.cert[data-id="${renewedId}"][data-status="suspended"]`).waitFor();
  await page.click("#nav-session");
  await expectStatus("로그아웃했습니다");
  const resumable = await reachChoice(renewedId, "renew-resume");
  await resumable.locator("button.resume").click();
  await resumable.locator(".keypad").waitFor();
  await checkpoint("resume by identity: keypad", "resume-by-identity");
  await typePin(RESET_PIN);
  await expectStatus("정지를 해제하고 로그인했습니다");
  await page.locator(`section.cert[data-id="${renewedId}"][data-status="active"]`).waitFor();
  await card.locator("button.revoke").click();
  await page.locator("dialog[open]").filter({ hasText: "되살릴 수 없고" }).waitFor();
  await checkpoint("revoke: confirmation", "revoke-confirm");
  await page.click("#dialog-ok");
  await expectStatus("폐기했습니다");
  const revoked = page.locator(`section.cert[data-id="${certificateId}"][data-status="revoked"]`);
  await revoked.waitFor();
  if (await revoked.locator(".countdown, .consent-add, button.renew").count()) throw new Error("a revoked certificate still counts down or offers registration");
  await checkpoint("revoked", "revoked");

  // Idle: a countdown in the last minute, "stay signed in" keeps the session, five idle
  // minutes end it on the server.
  const token = await page.evaluate(() => sessionStorage.getItem("fincert.token"));
  await page.clock.fastForward("04:05");
  await page.locator("#idle:not([hidden])").filter({ hasText: "초 뒤에 자동으로 로그아웃됩니다" }).waitFor();
  await checkpoint("idle warning", "idle-warning");
  await page.click("#idle-stay");
  await page.locator("#idle").waitFor({ state: "hidden" });
  await page.clock.fastForward("05:10");
  await expectStatus("5분 동안 사용하지 않아 로그아웃되었습니다");
  const idleToken = await tokenStatus(token);
  if (idleToken !== 401) throw new Error(`the token after the idle sign-out: ${idleToken}`);
  const refreshed = await page.evaluate(() => sessionStorage.getItem("fincert.token"));
  if (refreshed) throw new Error("the session is still kept in the page");
  return { certificates, renewedId, idleSignedOut: true, axeRuns };
}

try {
  const phases = { enrol, imports, renew };
  const phase = phases[process.argv[2]];
  if (!phase) throw new Error(`no phase ${process.argv[2]}`);
  const out = await phase();
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
