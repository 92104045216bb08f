// fincert certificate centre: the consent page of user-authorized CSC (#/csc/<id>).
//
// An institution's CSC client sent the holder here through /csc/v{1,2}/oauth2/authorize. The
// holder signs in with the portal's own sign-in (the page comes back here afterwards), sees
// the institution, the credential, the number of signatures, the hashes' count and the
// institution's description, and approves with the PIN keypad or a passkey, or refuses. A
// service request (scope=service) names no certificate: the holder allows the institution to
// act for them in the signing service (each signature still asks for the PIN). Either answer is
// the client's redirect URI (with the one-time code, or error=access_denied), where the
// browser goes at once. The code is never shown or kept here.

export const T = {
  ko: {
    "csc.title": "서명 권한 요청", "csc.intro": "아래 기관이 이 인증서로 서명할 권한을 요청합니다.",
    "csc.institution": "요청 기관", "csc.count.label": "서명", "csc.credential": "인증서", "csc.count": "서명 {n}건 (해시 {m}개)",
    "csc.description": "내용", "csc.approve": "PIN으로 승인", "csc.passkey": "패스키로 승인", "csc.refuse": "거절",
    "csc.refuse.confirm": "이 요청을 거절할까요? 기관에 거절했다고 알립니다.", "csc.signin": "먼저 로그인하세요. 로그인 후 이 요청으로 돌아옵니다.",
    "csc.leaving": "기관의 페이지로 돌아갑니다…",
    "csc.service.title": "서비스 이용 권한 요청", "csc.service.intro": "아래 기관이 나를 대신해 내 인증서 목록을 보고, 서명할 때마다 내 PIN 승인을 요청하도록 허용할까요? 한 시간 동안 유효하며, 서명에는 여전히 PIN이 필요합니다.",
    "csc.allow": "허용",
  },
  en: {
    "csc.title": "Signing authorization request", "csc.intro": "The institution below asks for authority to sign with this certificate.",
    "csc.institution": "Institution", "csc.count.label": "Signatures", "csc.credential": "Certificate", "csc.count": "{n} signature(s) ({m} hash(es))",
    "csc.description": "What is signed", "csc.approve": "Approve with PIN", "csc.passkey": "Approve with a passkey", "csc.refuse": "Refuse",
    "csc.refuse.confirm": "Refuse this request? The institution is told you refused.", "csc.signin": "Sign in first. You come back to this request afterwards.",
    "csc.leaving": "Returning to the institution's page…",
    "csc.service.title": "Service access request", "csc.service.intro": "Allow the institution below to see your certificates on your behalf and to ask for your PIN each time it needs a signature? This lasts one hour; every signature still needs your PIN.",
    "csc.allow": "Allow",
  },
};

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// ctx: { h, t, api, guarded, status, withPin, confirmDialog, getPasskey, token() }.
export function page(ctx, id) {
  const { h, t } = ctx;
  if (!ID.test(id)) return [h("h1", {}, t("csc.title")), h("p", {}, t("csc.signin"))];
  if (!ctx.token()) {
    sessionStorage.setItem("fincert.return", `#/csc/${id}`);
    return [h("h1", {}, t("csc.title")), h("p", { id: "csc-signin" }, t("csc.signin")), h("a", { href: "#/login", id: "csc-login" }, t("nav.login"))];
  }
  const box = h("section", { class: "card", id: "csc-request" });
  const area = h("div");
  const leave = (answer) => {
    ctx.status(t("csc.leaving"), "info");
    location.assign(answer.redirect_uri);
  };
  ctx.guarded(async () => {
    const r = await ctx.api("GET", `/v1/csc-authorizations/${id}`);
    const refuse = h("button", { type: "button", class: "danger", id: "csc-refuse", onclick: async () => {
      if (!await ctx.confirmDialog(t("csc.refuse.confirm"), t("csc.refuse"), { danger: true })) return;
      await ctx.guarded(async () => leave(await ctx.api("POST", `/v1/csc-authorizations/${id}/refuse`, {})));
    } }, t("csc.refuse"));
    if (r.scope === "service") {
      const allow = h("button", { type: "button", id: "csc-allow", onclick: () => ctx.guarded(async () =>
        leave(await ctx.api("POST", `/v1/csc-authorizations/${id}/allow`, {}))) }, t("csc.allow"));
      box.replaceChildren(
        h("h2", {}, t("csc.service.title")),
        h("p", { id: "csc-service" }, t("csc.service.intro")),
        h("dl", {},
          h("dt", {}, t("csc.institution")), h("dd", { id: "csc-institution" }, h("bdi", {}, r.institution)),
          r.description ? [h("dt", {}, t("csc.description")), h("dd", { id: "csc-description", dir: "auto" }, h("bdi", {}, r.description))] : []),
        h("div", { class: "row" }, allow, refuse));
      return;
    }
    const c = r.credential;
    const approve = h("button", { type: "button", id: "csc-approve", onclick: (ev) => ctx.withPin(area, t("pin.enter"), c.credential_id,
      async (pin) => leave(await ctx.api("POST", `/v1/csc-authorizations/${id}/approve`, { pin })), ev.currentTarget) }, t("csc.approve"));
    const passkey = h("button", { type: "button", class: "secondary", id: "csc-passkey", onclick: () => ctx.guarded(async () => {
      const started = await ctx.api("POST", `/v1/csc-authorizations/${id}/passkey/start`, {});
      const { credential, prf } = await ctx.getPasskey(started);
      leave(await ctx.api("POST", `/v1/csc-authorizations/${id}/passkey/finish`, { ceremony_id: started.ceremony_id, credential, prf }));
    }) }, t("csc.passkey"));
    box.replaceChildren(
      h("p", {}, t("csc.intro")),
      h("dl", {},
        h("dt", {}, t("csc.institution")), h("dd", { id: "csc-institution" }, h("bdi", {}, r.institution)),
        h("dt", {}, t("csc.credential")), h("dd", { id: "csc-credential" }, h("bdi", {}, `${c.subject} · ${c.serial}`)),
        h("dt", {}, t("csc.count.label")), h("dd", { id: "csc-count" }, t("csc.count", { n: c.num_signatures, m: c.hash_count })),
        r.description ? [h("dt", {}, t("csc.description")), h("dd", { id: "csc-description", dir: "auto" }, h("bdi", {}, r.description))] : []),
      h("div", { class: "row" }, approve, passkey, refuse), area);
  });
  return [h("h1", {}, t("csc.title")), box];
}
