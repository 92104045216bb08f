// What the browser walks share (tests/browser/portal.mjs, device.mjs, csc.mjs): the checks
// made on a page state, and the development outbox's codes.

// Every visible control (buttons, links, fields) is at least 44 x 44 px; a checkbox or a file
// field counts by its label, which the walks check instead.
export async function touchTargets(page, where) {
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

// axe-core on the page as it is now (injected through the DevTools protocol, which the page's
// content security policy does not govern): no violation of the WCAG 2.0/2.1/2.2 A and AA rules.
export async function axeCheck(page, axeSource, where) {
  if (!await page.evaluate(() => typeof window.axe === "object")) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] }, resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(" ")}: ${n.failureSummary}`) }));
  });
  if (violations.length) throw new Error(`axe-core violations on ${where}: ${JSON.stringify(violations)}`);
}

// The development outbox (`enrolment.expose_dev_outbox`): the last message to the test
// customer's phone, and the 6-digit code of the first message after `before`.
const PHONE = "01012345678";
export async function lastMessage(base) {
  const resp = await fetch(`${base}/dev/outbox/${PHONE}`);
  return resp.ok ? (await resp.json()).body : null;
}

export async function codeAfter(base, before) {
  for (let i = 0; i < 100; i++) {
    const resp = await fetch(`${base}/dev/outbox/${PHONE}`);
    if (resp.ok) {
      const msg = await resp.json();
      if (msg.body !== before) return msg.body.match(/\d{6}/)[0];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no code arrived");
}
