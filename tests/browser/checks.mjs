// Checks every browser walk makes on a page state (tests/browser/portal.mjs, device.mjs).

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
