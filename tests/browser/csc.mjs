// The CSC consent page in real headless Chromium (playwright-core), run by
// tests/api/csc_oauth.rs: the holder's browser follows the client's oauth2/authorize link,
// lands on the portal's consent page, reads the institution, credential, count and
// description, approves with the on-screen PIN keypad, and is sent back to the client's
// (loopback) redirect URI with the code and state. The holder's session is put in place the
// way the portal's sign-in leaves it (sessionStorage), so this walk starts at the consent page.
// Prints one JSON line for the Rust side, which exchanges the code and signs.
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set`); return process.env[k]; };
const BASE = env("BASE");
const SHOTS = env("SHOTS");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({ executablePath: env("CHROMIUM"), args: ["--no-sandbox"] });
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${BASE}/portal/`);
  await page.evaluate(([token, cert]) => {
    localStorage.setItem("fincert.lang", "en");
    sessionStorage.setItem("fincert.token", token);
    sessionStorage.setItem("fincert.expires", String(Date.now() + 240000));
    sessionStorage.setItem("fincert.cert", cert);
  }, [env("TOKEN"), env("CERT")]);
  await page.goto(env("AUTHORIZE"));
  await page.locator("#csc-institution").waitFor();
  const shown = {
    institution: await page.locator("#csc-institution").innerText(),
    credential: await page.locator("#csc-credential").innerText(),
    count: await page.locator("#csc-count").innerText(),
    description: await page.locator("#csc-description").innerText(),
  };
  await page.screenshot({ path: `${SHOTS}/csc-consent.png`, fullPage: true });
  await page.locator("#csc-approve").click();
  await page.locator(".keypad").waitFor();
  for (const d of env("PIN")) await page.keyboard.press(d);
  await page.waitForURL((u) => u.toString().startsWith(env("REDIRECT")));
  const url = page.url();
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log(JSON.stringify({ ok: true, url, shown }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), errors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
