// The CSC consent page in real headless Chromium (playwright-core), run by
// tests/api/csc_oauth.rs, at $VIEWPORT (desktop 1280x800 or phone 390x844): the holder's
// browser follows the client's oauth2/authorize link with no session and lands on the
// portal's consent page, which asks them to sign in first; they sign in by choosing (name,
// birth date, phone, the code from the development outbox, the certificate, the keypad PIN)
// and come back to the request, read the institution, credential, count and description,
// approve with the on-screen PIN keypad, and are sent back to the client's (loopback)
// redirect URI with the code and state. With SCOPE=service the request names no certificate:
// the page says what the institution may do, and the holder allows it (no keypad). Every page
// state checked has touch targets of at least
// 44 px and 0 axe-core violations of the WCAG 2.2 AA rules. Prints one JSON line for the Rust
// side, which exchanges the code and signs.
import { createRequire } from "node:module";
import { mkdirSync, readFileSync } from "node:fs";
import * as checks from "./checks.mjs";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set`); return process.env[k]; };
const BASE = env("BASE");
const SHOTS = env("SHOTS");
const AXE = readFileSync(env("AXE"), "utf8");
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
const viewport = VIEWPORTS[env("VIEWPORT")];
if (!viewport) throw new Error(`VIEWPORT is desktop or phone, not ${process.env.VIEWPORT}`);
const phone = env("VIEWPORT") === "phone";
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({ executablePath: env("CHROMIUM"), args: ["--no-sandbox"] });
const errors = [];
let axeRuns = 0;
try {
  const context = await browser.newContext({ viewport, locale: "en-US", isMobile: phone, hasTouch: phone });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => errors.push(String(e)));
  const checkpoint = async (where, name) => {
    await checks.touchTargets(page, where);
    await checks.axeCheck(page, AXE, where);
    axeRuns += 1;
    await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  };
  await page.goto(`${BASE}/portal/`);
  await page.evaluate(() => localStorage.setItem("fincert.lang", "en"));

  // No session: the consent page asks for a sign-in and comes back afterwards.
  await page.goto(env("AUTHORIZE"));
  await page.locator("#csc-signin").waitFor();
  await checkpoint("consent: sign in first", "csc-signin-first");
  await page.click("#csc-login");
  await page.fill("#signin-name", "홍길동");
  await page.fill("#signin-birth", "1987-03-14");
  await page.fill("#signin-phone", "010-1234-5678");
  const before = await checks.lastMessage(BASE);
  await page.click("#signin-sms");
  await page.locator("#signin-sent").waitFor();
  await page.fill("#signin-code", await checks.codeAfter(BASE, before));
  await page.click("#signin-verify");
  const choice = page.locator(`section.choice[data-id="${env("CERT")}"]`);
  await choice.waitFor();
  await choice.locator("button.choose").click();
  await page.click("#login-pin");
  await page.locator(".keypad").waitFor();
  for (const d of env("PIN")) await page.keyboard.press(d);

  // Back at the request.
  await page.locator("#csc-institution").waitFor();
  if (env("SCOPE") === "service") {
    // A service request: no certificate, no keypad; the holder allows it.
    const shown = {
      institution: await page.locator("#csc-institution").innerText(),
      service: await page.locator("#csc-service").innerText(),
    };
    await checkpoint("service consent", "csc-service");
    await page.locator("#csc-allow").click();
    await page.waitForURL((u) => u.toString().startsWith(env("REDIRECT")));
    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
    console.log(JSON.stringify({ ok: true, url: page.url(), shown, axeRuns }));
  } else {
    const shown = {
      institution: await page.locator("#csc-institution").innerText(),
      credential: await page.locator("#csc-credential").innerText(),
      count: await page.locator("#csc-count").innerText(),
      description: await page.locator("#csc-description").innerText(),
    };
    await checkpoint("consent", "csc-consent");
    await page.locator("#csc-approve").click();
    await page.locator(".keypad").waitFor();
    await checkpoint("consent: keypad", "csc-keypad");
    for (const d of env("PIN")) await page.keyboard.press(d);
    await page.waitForURL((u) => u.toString().startsWith(env("REDIRECT")));
    const url = page.url();
    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
    console.log(JSON.stringify({ ok: true, url, shown, axeRuns }));
  }
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), errors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
