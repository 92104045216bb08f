// fincert certificate centre: a small single-page front end over the JSON API.
// No dependencies, no build step, nothing loaded from outside this server. Session tokens live
// in sessionStorage (gone with the tab); PINs live only in the keypad's closure until submitted.
// Certificates kept in this browser (WebCrypto keys in IndexedDB) are device.js's.

import * as device from "./device.js";
import * as csc from "./csc.js";

const T = {
  ko: {
    brand: "fincert 인증센터", "nav.certificates": "내 인증서", "nav.approvals": "서명 요청", "nav.passkeys": "패스키",
    "nav.login": "로그인", "nav.logout": "로그아웃", footer: "금융인증서: 3년, 6자리 PIN 또는 패스키, 키는 클라우드에 · 공동인증서: 1년, 키는 내 기기에.",
    "home.title": "인증센터", "home.issue": "인증서 발급", "home.issue.d": "새 금융인증서를 발급합니다.",
    "home.reissue": "인증서 재발급", "home.reissue.d": "만료·분실·PIN 잠김 시 다시 발급합니다.",
    "home.renew": "인증서 갱신", "home.renew.d": "만료 30일 전부터 갱신할 수 있습니다.",
    "home.foreign": "타기관 인증서 등록", "home.foreign.d": "다른 기관에서 받은 인증서를 등록합니다.",
    "home.approvals": "서명 요청 확인", "home.approvals.d": "기관이 요청한 전자서명을 확인·승인합니다.",
    "step.terms": "약관 동의", "step.identity": "본인 확인", "step.phone": "휴대폰 인증", "step.medium": "보안매체", "step.credential": "PIN 설정",
    "terms.agree": "필수 약관에 모두 동의합니다", "terms.required": "[필수]", "terms.optional": "[선택]", "terms.read": "전문 보기",
    "terms.missing": "필수 약관에 모두 동의해야 다음 단계로 갈 수 있습니다.", "terms.optional.d": "선택 약관은 동의하지 않아도 발급받을 수 있습니다.", next: "다음", name: "이름", birth: "생년월일 (YYYY-MM-DD)", phone: "휴대폰 번호",
    customer: "고객번호(계좌번호)", "phone.sms": "문자(SMS)로 받기", "phone.ars": "전화(ARS)로 받기", "phone.code": "인증번호 6자리",
    "phone.sent": "인증번호를 보냈습니다", "medium.kind": "보안매체 종류", "medium.none": "등록된 보안매체가 없습니다. 거래하는 금융회사에서 보안카드나 OTP를 등록한 뒤 다시 시작해 주세요.", "medium.card": "보안카드", "medium.hotp": "OTP(이벤트)",
    "medium.totp": "OTP(시간)", "medium.motp": "모바일 OTP", "medium.answer": "응답", "medium.device": "기기 ID",
    "medium.card.ask": "보안카드 {a}번의 {ah} 두 자리와 {b}번의 {bh} 두 자리를 입력하세요", first: "앞", last: "뒤",
    usage: "용도", "usage.restricted": "용도제한 (은행·카드·보험, 무료)", "usage.general": "범용 (모든 전자거래, {fee}원)",
    "pin.set": "PIN 6자리를 입력하세요", "pin.confirm": "PIN을 한 번 더 입력하세요", "pin.enter": "PIN 6자리를 입력하세요",
    "pin.mismatch": "두 PIN이 다릅니다", clear: "전체 지우기", back: "지우기", ok: "확인", cancel: "취소",
    "done.title": "발급이 끝났습니다", certificate: "인증서", "login.title": "로그인",
    "login.passkey": "패스키로 로그인", "login.pin": "PIN으로 로그인", "certs.title": "내 인증서", kind: "종류", serial: "일련번호",
    status: "상태", valid: "유효기간", remaining: "남은 기간", days: "{d}일 {h}시간", "renew.open": "갱신 가능", renew: "갱신",
    fees: "납부한 수수료", "consents.title": "등록된 기관", withdraw: "해지", "consent.add": "기관에 등록", institution: "기관",
    "approvals.title": "서명 요청", "approvals.none": "대기 중인 요청이 없습니다.", approvePin: "PIN으로 승인", approvePasskey: "패스키로 승인",
    reject: "거절", signatures: "서명 {n}건", expires: "만료", signed: "서명했습니다", rejected: "거절했습니다",
    "approval.expired": "요청한 시간이 지나 이 요청은 더 이상 승인할 수 없습니다. 필요하면 기관에 다시 요청해 주세요.",
    "approvals.stale": "목록을 새로 고치지 못했습니다. 잠시 후 다시 시도합니다.",
    "passkeys.title": "패스키", "passkeys.none": "등록된 패스키가 없습니다.",
    "passkeys.sole": "이 기기 없이는 인증서 키를 열 수 없습니다.", "passkeys.shared": "이 기기는 PRF를 지원하지 않아, 인증서 키는 서비스가 보관한 정보로 열립니다.", "passkeys.add": "패스키 등록", "passkeys.name": "이름",
    remove: "삭제", "foreign.title": "타기관 인증서 등록", "foreign.pem": "인증서 (PEM)", register: "등록",
    "foreign.byCert": "인증서로 등록", "foreign.byP12": "인증서와 개인키 가져오기 (PKCS#12)", "foreign.p12": "PKCS#12 파일 (.p12, .pfx)",
    "foreign.password": "파일 비밀번호", "foreign.p12.d": "개인키는 KMS로 다시 봉인되어 클라우드에 보관되고, 파일과 비밀번호는 저장되지 않습니다. 새 PIN을 정하세요.", "need.login": "먼저 로그인하세요.",
    "kind.financial": "금융인증서", "kind.joint": "공동인증서", "status.active": "유효", "status.expired": "만료", "status.revoked": "폐지",
    "status.suspended": "정지", saved: "저장했습니다", issuer: "발급기관", "reissue.replaces": "재발급할 인증서 ID",
    "kind.financial.d": "금융인증서 (3년, 클라우드 보관)", "kind.joint.d": "공동인증서 (1년, 클라우드 보관)",
    "storage.cloud": "개인키는 클라우드에 보관되며 PIN 또는 패스키로만 사용할 수 있습니다.",
    "signin.intro": "본인 정보를 입력하면 휴대폰으로 인증번호를 보내 드립니다. 인증 후 내 인증서 목록에서 골라 로그인합니다.",
    "signin.sent": "입력한 정보가 고객 정보와 맞으면 {phone}(으)로 인증번호를 보냈습니다. 3분 안에 입력하세요.",
    "signin.verify": "확인", "signin.other": "다른 인증서 고르기", "signin.resend": "인증번호 다시 받기", "signin.restart": "처음부터 다시 하기",
    "signin.choose": "로그인할 인증서를 고르세요.", "signin.use": "이 인증서로 로그인", "signin.none": "로그인에 쓸 수 있는 인증서가 없습니다. 인증서를 발급하거나 재발급하세요.",
    "signin.unusable": "이 인증서는 지금 로그인에 쓸 수 없습니다.", "signin.resume": "정지 해제하고 로그인",
    "signin.resume.d": "정지된 인증서입니다. 본인 확인을 마쳤으니 이 인증서의 PIN을 입력하면 정지를 해제하고 로그인합니다.",
    "signin.suspended": "정지된 인증서는 본인 확인을 마친 지금 PIN으로 정지를 해제할 수 있습니다.", "resumed.in": "인증서 정지를 해제하고 로그인했습니다.", "signin.device": "기기에 보관된 인증서는 그 기기에서 로그인합니다.", "signin.chosen": "선택한 인증서: {subject}", expiry: "만료일",
    "remember.box": "이 기기에서 이 인증서 기억하기: 다음에는 본인 확인 없이 PIN이나 패스키로 로그인합니다. 여러 사람이 쓰는 기기에서는 선택하지 마세요.",
    "remember.intro": "이 기기에 기억된 인증서입니다. PIN이나 패스키로 로그인하세요.", "remember.other": "본인 확인으로 로그인",
    "remember.forget": "이 기기에서 잊기", "remember.forgot": "이 기기에서 인증서를 잊었습니다.",
    "remember.hint": "PIN을 잊었거나 잠겼다면 본인 확인으로 로그인하세요. 남은 횟수와 방법을 알려 드립니다.",
    "check.name": "이름을 한글 또는 영문으로 입력하세요.", "check.birth": "생년월일을 1987-03-14처럼 8자리로 입력하세요.",
    "check.phone": "휴대폰 번호를 010-1234-5678처럼 입력하세요.", "check.code": "인증번호 6자리를 숫자로 입력하세요.",
    "idle.warning": "{s}초 뒤에 자동으로 로그아웃됩니다.", "idle.stay": "로그인 유지", "idle.out": "5분 동안 사용하지 않아 로그아웃되었습니다.",
    "signed.out": "로그아웃했습니다.", "signed.in": "로그인했습니다.",
    "pin.current": "지금 쓰는 PIN 6자리를 입력하세요", "pin.new": "새 PIN 6자리를 입력하세요", "pin.change": "PIN 변경", "pin.changed": "PIN을 바꿨습니다. 이제 새 PIN을 쓰세요.",
    "pin.tries": "PIN이 올바르지 않습니다. 남은 횟수 {n}번: 연속 5번 틀리면 PIN이 잠깁니다.",
    "pin.nowLocked": "PIN을 연속 5번 틀려 PIN이 잠겼습니다. 연결된 패스키로 PIN을 재설정하거나, 패스키가 없으면 인증서를 재발급하세요.",
    "lock.title": "PIN이 잠겼습니다", "lock.d": "안전을 위해 PIN을 연속 5번 틀리면 잠기고, 시간이 지나도 풀리지 않습니다. 인증서 키에 연결된 패스키가 있으면 본인 확인 뒤 새 PIN을 정할 수 있습니다 (무료, 인증서는 그대로). 패스키가 없으면 재발급해야 합니다.",
    "lock.reset": "PIN 재설정", "lock.reissue": "재발급하기",
    "home.reset": "PIN 재설정", "home.reset.d": "PIN을 잊었거나 잠겼을 때, 연결된 패스키로 새 PIN을 정합니다.",
    "step.reset": "새 PIN", "reset.d": "인증서 키에 연결된 패스키로 확인한 뒤 새 PIN을 정합니다. 인증서와 키는 그대로이고 수수료는 없습니다.",
    "reset.passkey": "패스키로 확인하고 새 PIN 정하기", "reset.done": "PIN을 재설정했습니다. 새 PIN으로 로그인하세요.",
    "reset.nocert": "PIN을 재설정할 인증서를 알 수 없습니다. 로그인 화면에서 본인 확인 후 인증서를 고르면, PIN이 잠긴 경우 여기로 안내합니다.",
    "reset.for": "PIN을 재설정할 인증서: {subject}",
    history: "이용내역", "history.title": "전자서명 이용내역", "history.none": "조건에 맞는 이용내역이 없습니다.", "history.more": "더 보기",
    "history.csv": "CSV 파일로 내려받기", "history.search": "조회", "history.all": "전체", "history.downloaded": "CSV 파일을 내려받았습니다.",
    "hkind.signature": "전자서명", "hkind.login": "로그인", result: "결과", "result.signed": "서명함", "result.rejected": "거절함", "result.expired": "만료됨",
    from: "시작일", to: "종료일", requested: "요청 시각", decided: "처리 시각", format: "형식", digests: "서명 대상 {n}건", "history.kind": "이용 종류",
    suspend: "정지", resume: "정지 해제", revoke: "폐기",
    "suspend.confirm": "이 인증서를 정지할까요? 정지하는 동안에는 서명과 로그인에 쓸 수 없고, 언제든 정지를 해제할 수 있습니다.",
    "resume.confirm": "이 인증서의 정지를 해제할까요? 해제하면 다시 서명과 로그인에 쓸 수 있습니다.",
    "revoke.confirm": "이 인증서를 폐기할까요? 폐기한 인증서는 되살릴 수 없고, 다시 쓰려면 새로 발급해야 합니다.",
    "suspend.done": "인증서를 정지했습니다.", "resume.done": "인증서 정지를 해제했습니다.", "revoke.done": "인증서를 폐기했습니다.",
    "confirm.title": "확인해 주세요", "reject.confirm": "이 서명 요청을 거절할까요? 거절하면 기관에 거절했다고 알립니다.",
    "remove.confirm": "이 패스키를 삭제할까요? 삭제하면 이 패스키로 로그인·승인하거나 PIN을 재설정할 수 없습니다.",
    "fee.title": "수수료 안내", "fee.issue": "범용 인증서는 발급 수수료 {fee}원이 청구됩니다. 결제에 동의하면 발급할 때 청구됩니다. 용도제한 인증서는 무료입니다.",
    "fee.renew": "범용 인증서 갱신에는 수수료 {fee}원이 청구됩니다. 결제에 동의하면 갱신할 때 청구됩니다.", "fee.agree": "{fee}원 결제에 동의하고 계속", "fee.declined": "결제하지 않았습니다. 아무것도 청구되지 않았습니다.",
    "foreign.byNpki": "공동인증서 파일 가져오기 (signCert.der, signPri.key)", "foreign.npki.cert": "인증서 파일 (signCert.der)", "foreign.npki.key": "개인키 파일 (signPri.key)",
    "foreign.npki.password": "인증서 비밀번호", "foreign.missing": "가져올 파일을 고르세요.", "foreign.imported": "가져왔습니다. 새 PIN으로 쓸 수 있습니다.",
    "status.locked": "PIN 잠김", progress: "진행 단계", refresh: "새로 고침",
    "auto.label": "자동 갱신: 갱신 기간(만료 30일 전부터)에 PIN으로 서명하면 같은 PIN으로 인증서를 새로 발급합니다",
    "auto.on": "자동 갱신을 켰습니다.", "auto.off": "자동 갱신을 껐습니다.",
    "auto.fee": "범용 인증서는 자동으로 갱신될 때마다 수수료 {fee}원이 청구됩니다. 동의하면 자동 갱신을 켭니다.",
    "auto.renewed": "서명했습니다. 같은 PIN으로 인증서도 자동 갱신했습니다. 새 인증서(일련번호 …{serial})는 {date}까지 유효합니다.",
    "auto.renewed.fee": "서명했습니다. 같은 PIN으로 인증서도 자동 갱신했고 수수료 {fee}원이 청구되었습니다. 새 인증서(일련번호 …{serial})는 {date}까지 유효합니다.",
  },
  en: {
    brand: "fincert Certificate Centre", "nav.certificates": "My certificates", "nav.approvals": "Approvals", "nav.passkeys": "Passkeys",
    "nav.login": "Sign in", "nav.logout": "Sign out", footer: "Financial certificate: 3 years, 6-digit PIN or passkey, key in the cloud · joint certificate: 1 year, key on your device.",
    "home.title": "Certificate centre", "home.issue": "Issue a certificate", "home.issue.d": "Get a new financial certificate.",
    "home.reissue": "Reissue", "home.reissue.d": "After expiry, loss or a locked PIN.",
    "home.renew": "Renew", "home.renew.d": "Open from 30 days before expiry.",
    "home.foreign": "Register another institution's certificate", "home.foreign.d": "Use a certificate issued elsewhere.",
    "home.approvals": "Signature requests", "home.approvals.d": "See and approve what institutions ask you to sign.",
    "step.terms": "Terms", "step.identity": "Identity", "step.phone": "Phone", "step.medium": "Security medium", "step.credential": "PIN",
    "terms.agree": "I agree to all required terms", "terms.required": "[Required]", "terms.optional": "[Optional]", "terms.read": "Read the full text",
    "terms.missing": "Agree to every required term to go on.", "terms.optional.d": "You can be issued a certificate without agreeing to the optional term.", next: "Next", name: "Name", birth: "Birth date (YYYY-MM-DD)", phone: "Mobile number",
    customer: "Customer (account) number", "phone.sms": "Send by SMS", "phone.ars": "Call me (ARS)", "phone.code": "6-digit code",
    "phone.sent": "The code was sent", "medium.kind": "Security medium", "medium.none": "You have no security medium registered. Register a security card or OTP with your bank, then start again.", "medium.card": "Security card", "medium.hotp": "OTP (event)",
    "medium.totp": "OTP (time)", "medium.motp": "Mobile OTP", "medium.answer": "Answer", "medium.device": "Device id",
    "medium.card.ask": "Enter the {ah} two digits of cell {a} and the {bh} two digits of cell {b}", first: "first", last: "last",
    usage: "Usage", "usage.restricted": "Restricted (banking, card, insurance; free)", "usage.general": "General purpose (all e-services; {fee} KRW)",
    "pin.set": "Choose a 6-digit PIN", "pin.confirm": "Enter the PIN again", "pin.enter": "Enter your 6-digit PIN",
    "pin.mismatch": "The PINs differ", clear: "Clear", back: "Delete", ok: "OK", cancel: "Cancel",
    "done.title": "Your certificate is ready", certificate: "Certificate", "login.title": "Sign in",
    "login.passkey": "Sign in with a passkey", "login.pin": "Sign in with PIN", "certs.title": "My certificates", kind: "Kind", serial: "Serial",
    status: "Status", valid: "Valid until", remaining: "Remaining", days: "{d} days {h} hours", "renew.open": "Renewal open", renew: "Renew",
    fees: "Fees charged", "consents.title": "Registered institutions", withdraw: "Withdraw", "consent.add": "Register with", institution: "Institution",
    "approvals.title": "Signature requests", "approvals.none": "Nothing is waiting for you.", approvePin: "Approve with PIN", approvePasskey: "Approve with passkey",
    reject: "Reject", signatures: "{n} signature(s)", expires: "Expires", signed: "Signed", rejected: "Rejected",
    "approval.expired": "This request has expired and can no longer be approved. If you still need it, ask the institution to send it again.",
    "approvals.stale": "The list could not be refreshed; it will try again shortly.",
    "passkeys.title": "Passkeys", "passkeys.none": "No passkey yet.",
    "passkeys.sole": "Your certificate's key cannot be opened without this device.", "passkeys.shared": "This device has no PRF, so your certificate's key opens with what the service keeps.", "passkeys.add": "Add a passkey", "passkeys.name": "Name",
    remove: "Remove", "foreign.title": "Register another institution's certificate", "foreign.pem": "Certificate (PEM)", register: "Register",
    "foreign.byCert": "Register by its certificate", "foreign.byP12": "Import certificate and key (PKCS#12)", "foreign.p12": "PKCS#12 file (.p12, .pfx)",
    "foreign.password": "File password", "foreign.p12.d": "The key is re-sealed under KMS and kept in the cloud; the file and its password are not stored. Choose a new PIN.",
    "need.login": "Sign in first.", "kind.financial": "Financial", "kind.joint": "Joint", "status.active": "Valid", "status.expired": "Expired",
    "status.revoked": "Revoked", "status.suspended": "Suspended", saved: "Saved", issuer: "Issuer", "reissue.replaces": "Certificate to replace (id)",
    "kind.financial.d": "Financial certificate (3 years, kept in the cloud)", "kind.joint.d": "Joint certificate (1 year, kept in the cloud)",
    "storage.cloud": "The private key stays in the cloud and signs only with your PIN or passkey.",
    "signin.intro": "Enter your details and we will send a code to your phone. Then choose one of your certificates to sign in with.",
    "signin.sent": "If these details match a customer, a code was sent to {phone}. Enter it within 3 minutes.",
    "signin.verify": "Confirm", "signin.other": "Choose another certificate", "signin.resend": "Send another code", "signin.restart": "Start again",
    "signin.choose": "Choose the certificate to sign in with.", "signin.use": "Sign in with this certificate", "signin.none": "You have no certificate you can sign in with. Issue or reissue one.",
    "signin.unusable": "This certificate cannot be used to sign in now.", "signin.resume": "Resume and sign in",
    "signin.resume.d": "This certificate is suspended. You have confirmed who you are: enter its PIN to resume it and sign in.",
    "signin.suspended": "Now that you have confirmed who you are, a suspended certificate can be resumed with its PIN.", "resumed.in": "The certificate was resumed and you are signed in.", "signin.device": "A certificate kept on a device signs in from that device.", "signin.chosen": "Chosen certificate: {subject}", expiry: "Expires",
    "remember.box": "Remember this certificate on this device: next time, sign in with the PIN or a passkey without the identity check. Do not tick this on a device other people use.",
    "remember.intro": "Certificates remembered on this device. Sign in with the PIN or a passkey.", "remember.other": "Sign in with an identity check",
    "remember.forget": "Forget on this device", "remember.forgot": "This device no longer remembers the certificate.",
    "remember.hint": "If you forgot the PIN or it is locked, sign in with an identity check: it tells you the tries left and what to do.",
    "check.name": "Enter your name in Korean or Latin letters.", "check.birth": "Enter your birth date with 8 digits, like 1987-03-14.",
    "check.phone": "Enter your mobile number, like 010-1234-5678.", "check.code": "Enter the 6-digit code.",
    "idle.warning": "You will be signed out in {s} seconds.", "idle.stay": "Stay signed in", "idle.out": "You were signed out after 5 minutes without activity.",
    "signed.out": "You are signed out.", "signed.in": "You are signed in.",
    "pin.current": "Enter your current 6-digit PIN", "pin.new": "Choose a new 6-digit PIN", "pin.change": "Change PIN", "pin.changed": "Your PIN was changed. Use the new PIN from now on.",
    "pin.tries": "Wrong PIN. {n} tries left: the 5th wrong PIN in a row locks it.",
    "pin.nowLocked": "That was the 5th wrong PIN in a row, so the PIN is now locked. Reset it with the passkey bound to the certificate or, without one, reissue the certificate.",
    "lock.title": "The PIN is locked", "lock.d": "For your safety the PIN locks after 5 wrong tries in a row, and time does not unlock it. With a passkey bound to the certificate's key you can choose a new PIN after checking your identity (free; the certificate stays). Without one, the certificate must be reissued.",
    "lock.reset": "Reset the PIN", "lock.reissue": "Reissue",
    "home.reset": "Reset PIN", "home.reset.d": "Forgot the PIN or locked it? Choose a new one with your bound passkey.",
    "step.reset": "New PIN", "reset.d": "Confirm with the passkey bound to the certificate's key, then choose a new PIN. The certificate and key stay; there is no fee.",
    "reset.passkey": "Confirm with the passkey and choose a new PIN", "reset.done": "The PIN was reset. Sign in with the new PIN.",
    "reset.nocert": "We do not know which certificate to reset. Sign in by choosing: if the chosen certificate's PIN is locked, you are led here.",
    "reset.for": "Certificate whose PIN is reset: {subject}",
    history: "Usage history", "history.title": "Usage history", "history.none": "Nothing matches these conditions.", "history.more": "Show more",
    "history.csv": "Download as CSV", "history.search": "Search", "history.all": "All", "history.downloaded": "The CSV file was downloaded.",
    "hkind.signature": "Signature", "hkind.login": "Login", result: "Result", "result.signed": "Signed", "result.rejected": "Rejected", "result.expired": "Expired",
    from: "From", to: "To", requested: "Requested", decided: "Decided", format: "Format", digests: "{n} item(s) signed", "history.kind": "Kind of use",
    suspend: "Suspend", resume: "Resume", revoke: "Revoke",
    "suspend.confirm": "Suspend this certificate? While suspended it cannot sign or sign in; you can resume it at any time.",
    "resume.confirm": "Resume this certificate? It can sign and sign in again.",
    "revoke.confirm": "Revoke this certificate? A revoked certificate cannot be restored; to sign again you need a new one.",
    "suspend.done": "The certificate is suspended.", "resume.done": "The certificate is active again.", "revoke.done": "The certificate is revoked.",
    "confirm.title": "Please confirm", "reject.confirm": "Reject this signature request? The institution is told you rejected it.",
    "remove.confirm": "Remove this passkey? It can then no longer sign in, approve or reset the PIN.",
    "fee.title": "Fee", "fee.issue": "A general-purpose certificate costs {fee} KRW. If you agree, it is charged when the certificate is issued. Restricted-use certificates are free.",
    "fee.renew": "Renewing a general-purpose certificate costs {fee} KRW. If you agree, it is charged when it is renewed.", "fee.agree": "Agree to pay {fee} KRW and continue", "fee.declined": "Nothing was paid and nothing was charged.",
    "foreign.byNpki": "Import a joint certificate's files (signCert.der, signPri.key)", "foreign.npki.cert": "Certificate file (signCert.der)", "foreign.npki.key": "Private key file (signPri.key)",
    "foreign.npki.password": "Certificate password", "foreign.missing": "Choose the files to import.", "foreign.imported": "Imported. It works with the new PIN.",
    "status.locked": "PIN locked", progress: "Progress", refresh: "Refresh",
    "auto.label": "Automatic renewal: when you sign with your PIN in the renewal window (from 30 days before expiry), the same PIN renews the certificate",
    "auto.on": "Automatic renewal is on.", "auto.off": "Automatic renewal is off.",
    "auto.fee": "A general-purpose certificate is charged {fee} KRW each time it renews itself. If you agree, automatic renewal is turned on.",
    "auto.renewed": "Signed. The same PIN also renewed your certificate: the new one (serial …{serial}) is valid until {date}.",
    "auto.renewed.fee": "Signed. The same PIN also renewed your certificate, and {fee} KRW was charged: the new one (serial …{serial}) is valid until {date}.",
  },
};

// Every stable problem code the API can answer, in both languages (tests/api/portal.rs checks
// the table against the API's code list); anything else reads as a general sentence, never as
// a code.
const ERRORS = {
  ko: {
    display_text_not_allowed: "요청 문구에 보이지 않거나 방향을 바꾸는 문자가 있어 받을 수 없습니다. 요청한 기관에 문의하세요.",
    device_signature_invalid: "이 기기의 서명을 확인하지 못했습니다. 다시 하세요.", device_needs_content: "이 요청은 기기 보관 인증서로 서명할 수 없습니다.",
    key_not_on_device: "이 인증서는 클라우드에 있습니다. PIN이나 패스키로 승인하세요.", copy_not_found: "복사 코드가 틀렸거나 이미 사용했거나 만료되었습니다.",
    route_not_found: "요청한 기능을 찾을 수 없습니다. 화면을 새로 고친 뒤 다시 하세요.", method_not_allowed: "이 기능은 지금 쓸 수 없습니다. 화면을 새로 고친 뒤 다시 하세요.",
    invalid_json: "입력한 내용의 형식이 맞지 않습니다. 다시 확인하세요.", unsupported_media_type: "보낸 내용의 형식이 맞지 않습니다. 화면을 새로 고친 뒤 다시 하세요.",
    payload_too_large: "보낸 파일이나 내용이 너무 큽니다.", invalid_query: "조회 조건이 맞지 않습니다. 날짜와 조건을 다시 확인하세요.",
    invalid_path: "잘못된 주소입니다. 목록에서 다시 고르세요.", invalid_header: "요청을 처리할 수 없습니다. 화면을 새로 고친 뒤 다시 하세요.",
    service_unavailable: "잠시 서비스를 이용할 수 없습니다. 잠시 후 다시 하세요.", internal_error: "처리하지 못했습니다. 잠시 후 다시 하세요.",
    bad_request: "요청을 처리할 수 없습니다. 입력한 내용을 다시 확인하세요.", unauthorized: "로그인이 필요합니다. 다시 로그인하세요.",
    forbidden: "이 기능을 쓸 권한이 없습니다.", not_acceptable: "요청한 형식으로 답할 수 없습니다.", request_timeout: "시간이 너무 걸렸습니다. 다시 하세요.",
    length_required: "요청을 처리할 수 없습니다. 다시 하세요.", uri_too_long: "조회 조건이 너무 깁니다.", headers_too_large: "요청을 처리할 수 없습니다. 브라우저를 다시 연 뒤 하세요.",
    gateway_timeout: "서버의 응답이 늦습니다. 잠시 후 다시 하세요.", idempotency_in_progress: "같은 요청을 처리하고 있습니다. 잠시 기다리세요.",
    idempotency_key_reused: "같은 요청 번호로 다른 내용이 왔습니다. 다시 하세요.", dev_outbox_disabled: "개발용 수신함은 쓸 수 없습니다.",
    no_message: "받은 메시지가 없습니다.", rate_limited: "시도가 너무 많습니다. 잠시 후 다시 하세요.",
    enrolment_not_found: "발급 절차를 찾을 수 없습니다. 처음부터 다시 하세요.", enrolment_expired: "시간이 지나 처음부터 다시 시작해야 합니다.",
    wrong_step: "이미 처리되었거나 순서가 맞지 않는 단계입니다.", terms_not_agreed: "필수 약관에 동의해야 합니다.",
    identity_mismatch: "입력한 본인 정보가 기관 정보와 다릅니다.", wrong_code: "인증번호가 올바르지 않습니다.", code_expired: "인증번호가 만료되었습니다. 다시 받으세요.",
    too_many_codes: "인증번호를 너무 많이 요청했습니다. 처음부터 다시 하세요.", identity_verifier_unavailable: "본인 확인 서비스에 잠시 연결할 수 없습니다. 잠시 후 다시 하세요.",
    message_sender_unavailable: "인증번호를 보내지 못했습니다. 잠시 후 다시 하세요.", medium_not_registered: "이 종류의 보안매체가 등록되어 있지 않습니다. 등록한 보안매체를 고르세요.",
    no_open_challenge: "보안매체 질문이 만료되었습니다. 새 질문을 받았으니 다시 입력하세요.", wrong_medium_answer: "보안매체 응답이 올바르지 않습니다. 새 질문에 답하세요.",
    otp_replayed: "이미 사용한 OTP입니다. 새 번호를 입력하세요.", medium_attempts_exhausted: "보안매체 응답을 너무 많이 틀렸습니다. 거래 은행에 문의하세요.",
    weak_pin: "쉬운 PIN(같은 숫자, 연속 숫자, 생년월일, 지금 PIN)은 쓸 수 없습니다.", invalid_credential_choice: "선택한 인증서 종류와 보관 방식은 함께 쓸 수 없습니다.",
    invalid_token: "로그인이 만료되었습니다. 다시 로그인하세요.", invalid_refresh_token: "로그인이 만료되었습니다. 다시 로그인하세요.",
    refresh_token_reused: "보안을 위해 로그아웃되었습니다. 다시 로그인하세요.", webauthn_challenge_spent: "패스키 확인 시간이 지났습니다. 다시 하세요.",
    passkey_rejected: "패스키를 확인하지 못했습니다.", no_passkey: "이 인증서에 등록된 패스키가 없습니다. PIN으로 하세요.", passkey_not_found: "패스키를 찾을 수 없습니다.",
    device_challenge_spent: "기기 확인 시간이 지났습니다. 다시 하세요.", device_sign_in_failed: "기기에 보관된 인증서로 확인하지 못했습니다.",
    sign_in_not_found: "로그인 절차를 찾을 수 없습니다. 처음부터 다시 하세요.", sign_in_expired: "시간이 지나 처음부터 다시 로그인해야 합니다.",
    invalid_ticket: "인증 시간이 지났거나 이미 사용했습니다. 처음부터 다시 로그인하세요.", wrong_pin: "PIN이 올바르지 않습니다.",
    pin_locked: "PIN을 5번 틀려 잠겼습니다. 연결된 패스키로 PIN을 재설정하거나 인증서를 재발급하세요.",
    reissuance_required: "이 인증서에는 키에 연결된 패스키가 없어 PIN을 재설정할 수 없습니다. 인증서를 재발급해야 합니다 (범용 인증서는 수수료 {fee}원).",
    invalid_owner: "사용자 정보를 확인할 수 없습니다. 다시 로그인하세요.", key_not_found: "이 인증서의 키를 찾을 수 없습니다.", passkey_not_bound: "이 패스키는 이 인증서의 키에 연결되어 있지 않습니다.",
    passkey_already_bound: "이 패스키는 이미 이 인증서에 연결되어 있습니다.", activation_not_found: "승인 시간이 지났습니다. 다시 승인하세요.", activation_expired: "승인 시간이 지났습니다. 다시 승인하세요.",
    activation_exhausted: "승인한 서명 횟수를 다 썼습니다. 다시 승인하세요.", activations_full: "지금 요청이 많습니다. 잠시 후 다시 하세요.",
    unsupported_signature_scheme: "이 인증서로는 요청한 방식의 서명을 할 수 없습니다.", key_integrity: "키를 안전하게 열 수 없습니다. 고객센터에 문의하세요.",
    kms_unavailable: "키 관리 서비스에 잠시 연결할 수 없습니다.", invalid_profile: "인증서 정보가 발급 기준에 맞지 않습니다.", csr_signature_invalid: "인증서 요청의 서명이 올바르지 않습니다.",
    weak_key: "키가 너무 약해 쓸 수 없습니다.", malformed_input: "파일이나 입력한 내용을 읽을 수 없습니다. 올바른 파일인지 확인하세요.",
    fee_not_confirmed: "수수료가 바뀌었거나 동의하지 않았습니다. 현재 수수료 {fee}원을 확인하고 다시 진행해 주세요. 아무것도 청구되지 않았습니다.",
    auto_renewal_unavailable: "기기에 보관한 인증서나 다른 기관의 인증서는 자동으로 갱신할 수 없습니다.",
    renewal_not_open: "만료 30일 전부터 갱신할 수 있습니다.", already_renewed: "이미 갱신한 인증서입니다.", illegal_transition: "이 인증서의 지금 상태에서는 할 수 없는 일입니다.",
    concurrent_change: "다른 곳에서 동시에 바뀌었습니다. 화면을 새로 고친 뒤 다시 하세요.", invalid_key_source: "이 인증서의 키 보관 방식으로는 할 수 없는 일입니다.",
    certificate_not_found: "인증서를 찾을 수 없습니다.", ca_not_initialized: "인증서 발급 기관이 아직 준비되지 않았습니다.", issuing_ca_revoked: "발급 기관의 인증서가 폐지되어 발급할 수 없습니다.",
    ca_unavailable: "인증서 발급 기관에 잠시 연결할 수 없습니다. 잠시 후 다시 하세요.", untrusted_chain: "신뢰하는 기관이 발급한 인증서가 아닙니다.",
    certificate_not_valid_now: "유효기간이 아닌 인증서입니다.", not_a_signing_certificate: "개인 전자서명용 인증서가 아닙니다.", unrecognized_policy: "인증서의 용도를 알 수 없습니다.",
    pkcs12_unreadable: "파일을 열 수 없습니다. 파일 비밀번호를 확인하세요.", pkcs12_no_key: "파일에 개인키가 없습니다.", unsupported_key: "지원하지 않는 키이거나 인증서와 키가 맞지 않습니다.",
    already_registered: "이미 등록된 인증서입니다.", key_file_unreadable: "키 파일을 열 수 없습니다. 인증서 비밀번호를 확인하세요.",
    unsupported_key_file_cipher: "지원하지 않는 방식으로 암호화된 키 파일입니다.", kdf_too_costly: "키 파일의 암호화 설정이 지나치게 무거워 열 수 없습니다.",
    invalid_signature_request: "서명 요청의 내용이 올바르지 않습니다.", not_found: "찾을 수 없습니다.", institution_not_found: "기관을 찾을 수 없습니다.",
    institution_disabled: "이 기관은 지금 이용할 수 없습니다.", insufficient_scope: "이 기능을 쓸 권한이 없습니다.",
    usage_not_permitted: "용도제한 인증서는 이 기관에 쓸 수 없습니다.", certificate_not_usable: "이 인증서는 지금 쓸 수 없습니다 (만료, 정지, 폐지 또는 기기 보관).",
    key_on_device: "기기에 보관된 키는 그 기기에서 서명합니다.", algorithm_mismatch: "이 인증서의 키로는 요청한 알고리즘을 쓸 수 없습니다.",
    request_not_pending: "이미 처리되었거나 만료된 요청입니다.", approval_mismatch: "요청 내용이 바뀌어 승인할 수 없습니다.", consent_exists: "이미 이 기관에 등록된 인증서입니다.",
    network: "서버에 연결할 수 없습니다. 인터넷 연결을 확인하고 다시 하세요.", unknown: "처리하지 못했습니다. 다시 하세요. 계속되면 고객센터에 문의하세요.",
  },
  en: {
    display_text_not_allowed: "The request's text holds invisible or direction-changing characters, so it cannot be accepted. Please contact the institution that sent it.",
    device_signature_invalid: "This device's signature could not be verified. Please try again.", device_needs_content: "This request cannot be signed with a certificate kept on a device.",
    key_not_on_device: "This certificate is kept in the cloud; approve with your PIN or a passkey.", copy_not_found: "The copy code is wrong, was used already or has expired.",
    route_not_found: "This function could not be found. Reload the page and try again.", method_not_allowed: "This function cannot be used now. Reload the page and try again.",
    invalid_json: "Something you entered is not in the expected form. Please check it.", unsupported_media_type: "What was sent is not in the expected form. Reload the page and try again.",
    payload_too_large: "The file or text you sent is too large.", invalid_query: "The search conditions do not fit. Check the dates and filters.",
    invalid_path: "This address is not valid. Choose again from the list.", invalid_header: "The request could not be handled. Reload the page and try again.",
    service_unavailable: "The service is unavailable for a moment; try again shortly.", internal_error: "This could not be done. Please try again shortly.",
    bad_request: "The request could not be handled. Check what you entered.", unauthorized: "You need to sign in. Please sign in again.",
    forbidden: "You are not allowed to use this function.", not_acceptable: "The answer cannot be given in the form asked for.", request_timeout: "This took too long. Please try again.",
    length_required: "The request could not be handled. Please try again.", uri_too_long: "The search conditions are too long.", headers_too_large: "The request could not be handled. Reopen the browser and try again.",
    gateway_timeout: "The server is slow to answer. Please try again shortly.", idempotency_in_progress: "The same request is being handled. Please wait.",
    idempotency_key_reused: "A different request came with the same request number. Please try again.", dev_outbox_disabled: "The development outbox is not available.",
    no_message: "No message has arrived.", rate_limited: "Too many attempts; wait a moment.",
    enrolment_not_found: "This procedure could not be found. Please start again.", enrolment_expired: "This took too long; start again.",
    wrong_step: "This step was done already or is out of order.", terms_not_agreed: "Agree to the required terms first.",
    identity_mismatch: "These details do not match the institution's records.", wrong_code: "Wrong code.", code_expired: "The code expired; ask for a new one.",
    too_many_codes: "Too many codes were requested. Please start again.", identity_verifier_unavailable: "Identity checks are unavailable for a moment. Please try again shortly.",
    message_sender_unavailable: "The code could not be sent. Please try again shortly.", medium_not_registered: "No security medium of this kind is registered for you. Choose the one you have.",
    no_open_challenge: "The security medium question expired. A new one is shown; answer it.", wrong_medium_answer: "Wrong security medium answer. Answer the new question.",
    otp_replayed: "This OTP was used already; enter a new one.", medium_attempts_exhausted: "Too many wrong security medium answers. Contact your bank.",
    weak_pin: "Easy PINs (repeated or sequential digits, your birth date, the current PIN) are not allowed.", invalid_credential_choice: "This kind of certificate and this way of keeping it do not go together.",
    invalid_token: "Your session ended; sign in again.", invalid_refresh_token: "Your session ended. Please sign in again.",
    refresh_token_reused: "You were signed out to protect your account. Please sign in again.", webauthn_challenge_spent: "The passkey check took too long. Please try again.",
    passkey_rejected: "The passkey could not be verified.", no_passkey: "This certificate has no passkey. Use your PIN.", passkey_not_found: "The passkey could not be found.",
    device_challenge_spent: "The device check took too long. Please try again.", device_sign_in_failed: "The certificate kept on your device could not be verified.",
    sign_in_not_found: "This sign-in could not be found. Please start again.", sign_in_expired: "This sign-in took too long. Please start again.",
    invalid_ticket: "This sign-in took too long or was used already. Please sign in again.", wrong_pin: "Wrong PIN.",
    pin_locked: "The PIN is locked after 5 wrong tries. Reset it with the passkey bound to the certificate, or reissue the certificate.",
    reissuance_required: "This certificate has no passkey bound to its key, so its PIN cannot be reset. Reissue the certificate (a general-purpose certificate costs {fee} KRW).",
    invalid_owner: "Your account could not be recognised. Please sign in again.", key_not_found: "This certificate's key could not be found.", passkey_not_bound: "This passkey is not bound to this certificate's key.",
    passkey_already_bound: "This passkey is already bound to this certificate.", activation_not_found: "The approval has lapsed. Please approve again.", activation_expired: "The approval has lapsed. Please approve again.",
    activation_exhausted: "The approved signatures are used up. Please approve again.", activations_full: "The service is busy. Please try again shortly.",
    unsupported_signature_scheme: "This certificate cannot make the kind of signature asked for.", key_integrity: "The key could not be opened safely. Please contact support.",
    kms_unavailable: "The key service is unavailable for a moment.", invalid_profile: "The certificate details do not meet the issuing rules.", csr_signature_invalid: "The certificate request's signature is not valid.",
    weak_key: "The key is too weak to be used.", malformed_input: "The file or text could not be read. Check that it is the right file.",
    fee_not_confirmed: "The fee changed or was not agreed to. Please check the current fee of {fee} KRW and try again. Nothing was charged.",
    auto_renewal_unavailable: "A certificate kept on a device or issued by another institution cannot renew itself.",
    renewal_not_open: "Renewal opens 30 days before expiry.", already_renewed: "This certificate was renewed already.", illegal_transition: "This cannot be done in the certificate's current state.",
    concurrent_change: "It was changed elsewhere at the same time. Reload the page and try again.", invalid_key_source: "This cannot be done with the way this certificate's key is kept.",
    certificate_not_found: "The certificate could not be found.", ca_not_initialized: "The certification authority is not ready yet.", issuing_ca_revoked: "The issuing authority's certificate was revoked; nothing can be issued.",
    ca_unavailable: "The certification authority is unavailable for a moment. Please try again shortly.", untrusted_chain: "This certificate was not issued by an authority we trust.",
    certificate_not_valid_now: "This certificate is not within its validity period.", not_a_signing_certificate: "This is not a personal signing certificate.", unrecognized_policy: "This certificate's usage cannot be recognised.",
    pkcs12_unreadable: "The file could not be opened. Check its password.", pkcs12_no_key: "The file holds no private key.", unsupported_key: "The key is not supported or does not match the certificate.",
    already_registered: "This certificate is registered already.", key_file_unreadable: "The key file could not be opened. Check the certificate password.",
    unsupported_key_file_cipher: "The key file is encrypted in a way we do not support.", kdf_too_costly: "The key file's encryption settings are too heavy to open.",
    invalid_signature_request: "The signature request is not valid.", not_found: "Not found.", institution_not_found: "The institution could not be found.",
    institution_disabled: "This institution is not available now.", insufficient_scope: "You are not allowed to use this function.",
    usage_not_permitted: "A restricted-use certificate cannot be used with this institution.", certificate_not_usable: "This certificate cannot be used now (expired, suspended, revoked or kept on a device).",
    key_on_device: "A key kept on a device signs on that device.", algorithm_mismatch: "This certificate's key cannot use the algorithm asked for.",
    request_not_pending: "This request was already decided or has expired.", approval_mismatch: "The request changed; it cannot be approved.", consent_exists: "This certificate is already registered with the institution.",
    network: "The service could not be reached. Check your connection and try again.", unknown: "This could not be done. Please try again; if it keeps happening, contact support.",
  },
};

for (const l of ["ko", "en"]) { Object.assign(T[l], device.T[l]); Object.assign(ERRORS[l], device.ERRORS[l]); Object.assign(T[l], csc.T[l]); }

let lang = localStorage.getItem("fincert.lang") || "ko";
// The fees in force, read from the service (GET /v1/pricing, pki.general_purpose_fee_krw):
// never written here. A sentence's {fee} is the general-purpose fee, formatted; a charge is
// agreed to only once the fee is known (`pricing()` first), and the request then confirms it.
let prices = null;
let pricesLoading = null;
async function pricing() {
  if (prices) return prices;
  pricesLoading = pricesLoading || call("GET", "/v1/pricing").finally(() => { pricesLoading = null; });
  prices = await pricesLoading;
  return prices;
}
const feeText = (krw = prices && prices.general_purpose_fee_krw) => (Number.isInteger(krw) ? krw.toLocaleString("ko-KR") : "…");
const t = (k, vars = {}) => (T[lang][k] || k).replace(/\{(\w+)\}/g, (_, v) => vars[v] ?? (v === "fee" ? feeText() : ""));
const $ = (sel, root = document) => root.querySelector(sel);
const view = () => $("#view");

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v != null) el.setAttribute(k, v);
  }
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function status(msg, kind = "error") {
  const s = $("#status");
  s.className = kind;
  s.textContent = msg || "";
}

// ----- API -----
// The session: access token, refresh token and when the access token expires (by this
// browser's clock, from the answer's expires_in). Refreshed silently while the page is in use;
// ended on the server by sign-out or after IDLE_MS without activity.
const session = {
  get token() { return sessionStorage.getItem("fincert.token"); },
  get refresh() { return sessionStorage.getItem("fincert.refresh"); },
  get expiresAt() { return Number(sessionStorage.getItem("fincert.expires") || 0); },
  set(pair) {
    sessionStorage.setItem("fincert.token", pair.access_token);
    if (pair.refresh_token) sessionStorage.setItem("fincert.refresh", pair.refresh_token);
    sessionStorage.setItem("fincert.expires", String(Date.now() + pair.expires_in * 1000));
  },
  clear() { ["fincert.token", "fincert.refresh", "fincert.expires"].forEach((k) => sessionStorage.removeItem(k)); },
};

const IDLE_MS = 5 * 60 * 1000;
const WARN_MS = 60 * 1000;
let lastActive = Date.now();

async function call(method, path, body, token) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    const err = new Error("network");
    err.code = "network";
    throw err;
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(data.detail || data.error_description || "");
    // A gateway's own page (502, 504) has no code: it reads as the service being away.
    err.code = data.code || data.error || (resp.status >= 500 ? "service_unavailable" : "unknown");
    err.status = resp.status;
    // A wrong PIN told to its holder says how many tries are left before the lock.
    if (Number.isInteger(data.tries_left)) err.triesLeft = data.tries_left;
    // The fee changed since it was read: read it again, so the sentence and the next
    // confirmation name the fee in force.
    if (err.code === "fee_not_confirmed") { prices = null; await pricing().catch(() => {}); }
    throw err;
  }
  return data;
}

// One refresh at a time: concurrent callers share it. A refused refresh ends the session; a
// refresh that lands after sign-out (a new generation) is dropped, never revives the session.
let refreshing = null;
let generation = 0;
function refreshSession() {
  if (!session.refresh) return Promise.resolve(false);
  const mine = generation;
  refreshing ||= call("POST", "/v1/auth/refresh", { refresh_token: session.refresh })
    .then((pair) => { if (mine !== generation) return false; session.set(pair); return true; })
    .catch((e) => { if (e.status === 401 && mine === generation) session.clear(); return false; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

// A file the API answers (the history's CSV), fetched with the session.
async function download(path) {
  if (session.token && session.expiresAt - Date.now() < 60000) await refreshSession();
  let resp;
  try {
    resp = await fetch(path, { headers: { Authorization: `Bearer ${session.token}` } });
  } catch {
    const err = new Error("network");
    err.code = "network";
    throw err;
  }
  if (!resp.ok) {
    const data = await resp.json().catch(() => ({}));
    const err = new Error("");
    err.code = data.code || (resp.status >= 500 ? "service_unavailable" : "unknown");
    err.status = resp.status;
    throw err;
  }
  return resp.blob();
}

async function api(method, path, body) {
  if (session.token && session.expiresAt - Date.now() < 60000) await refreshSession();
  try {
    return await call(method, path, body, session.token);
  } catch (e) {
    if (e.status === 401 && e.code === "invalid_token" && session.refresh && await refreshSession()) {
      return call(method, path, body, session.token);
    }
    throw e;
  }
}

// Every message is a translated sentence, never a code.
// A `hint` the caller put on the error (a sentence too) follows it.
const message = (e) => {
  if (e.code === "wrong_pin" && Number.isInteger(e.triesLeft)) return t(e.triesLeft > 0 ? "pin.tries" : "pin.nowLocked", { n: e.triesLeft });
  const text = (ERRORS[lang][e.code] || ERRORS[lang].unknown).replace("{fee}", feeText());
  return e.hint ? `${text} ${e.hint}` : text;
};

// The fifth wrong PIN in a row (tries_left 0) or any later try: the PIN is locked.
const isLocked = (e) => e.code === "pin_locked" || (e.code === "wrong_pin" && e.triesLeft === 0);

async function guarded(fn) {
  try { return await fn(); } catch (e) {
    status(message(e));
    if (e.status === 401 && e.code === "invalid_token") { session.clear(); updateNav(); }
  }
}

// Ends the session on the server (its access and refresh tokens stop working everywhere),
// then here.
async function signOut(notice) {
  const refresh = session.refresh;
  generation += 1;
  session.clear();
  hideIdle();
  if (refresh) await call("POST", "/v1/auth/logout", { refresh_token: refresh }).catch(() => {});
  pendingNotice = notice;
  if (location.hash === "#/") route(); else location.hash = "#/";
}

// ----- inactivity: a countdown for the last minute, then sign-out -----
function hideIdle() { const w = $("#idle"); if (w) w.hidden = true; }

function idleTick() {
  if (!session.token) { hideIdle(); return; }
  const left = IDLE_MS - (Date.now() - lastActive);
  if (left <= 0) { signOut(t("idle.out")); return; }
  const w = $("#idle");
  if (left <= WARN_MS) {
    $("#idle-text").textContent = t("idle.warning", { s: Math.ceil(left / 1000) });
    if (w.hidden) { w.hidden = false; $("#idle-stay").focus(); }
    return;
  }
  hideIdle();
  // In use: keep the access token fresh before it lapses.
  if (session.expiresAt - Date.now() < 60000) refreshSession();
}

function stay() { lastActive = Date.now(); hideIdle(); refreshSession(); }

// ----- WebAuthn: JSON (base64url) <-> ArrayBuffer -----
const b64u = {
  decode: (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)).buffer,
  encode: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
};

// The WebAuthn `prf` extension: a ceremony's `prf` (base64url salts) goes into the options as
// it is, and the authenticator's output over the salt comes back beside the credential (a
// passkey bound with it cannot open the certificate's key without this device).
function prfInputs(prf) {
  if (!prf) return undefined;
  const out = {};
  if (prf.eval) out.eval = { first: b64u.decode(prf.eval.first) };
  if (prf.evalByCredential) {
    out.evalByCredential = {};
    for (const [id, v] of Object.entries(prf.evalByCredential)) out.evalByCredential[id] = { first: b64u.decode(v.first) };
  }
  return out;
}

function prfOutput(cred) {
  const results = cred.getClientExtensionResults().prf?.results;
  return results && results.first ? b64u.encode(results.first) : undefined;
}

async function createPasskey(started) {
  const pk = structuredClone(started.options.publicKey);
  pk.challenge = b64u.decode(pk.challenge);
  pk.user.id = b64u.decode(pk.user.id);
  (pk.excludeCredentials || []).forEach((c) => { c.id = b64u.decode(c.id); });
  if (started.prf) pk.extensions = { ...(pk.extensions || {}), prf: prfInputs(started.prf) };
  const cred = await navigator.credentials.create({ publicKey: pk });
  return {
    credential: {
      id: cred.id, rawId: b64u.encode(cred.rawId), type: cred.type, extensions: {},
      response: { attestationObject: b64u.encode(cred.response.attestationObject), clientDataJSON: b64u.encode(cred.response.clientDataJSON) },
    },
    prf: prfOutput(cred),
  };
}

async function getPasskey(started) {
  const pk = structuredClone(started.options.publicKey);
  pk.challenge = b64u.decode(pk.challenge);
  (pk.allowCredentials || []).forEach((c) => { c.id = b64u.decode(c.id); });
  if (started.prf) pk.extensions = { ...(pk.extensions || {}), prf: prfInputs(started.prf) };
  const cred = await navigator.credentials.get({ publicKey: pk });
  return {
    credential: {
      id: cred.id, rawId: b64u.encode(cred.rawId), type: cred.type, extensions: {},
      response: {
        authenticatorData: b64u.encode(cred.response.authenticatorData), clientDataJSON: b64u.encode(cred.response.clientDataJSON),
        signature: b64u.encode(cred.response.signature), userHandle: cred.response.userHandle ? b64u.encode(cred.response.userHandle) : null,
      },
    },
    prf: prfOutput(cred),
  };
}

// ----- PIN keypad: digits shuffled on every display; the PIN exists only here until submitted -----
function keypad(label, onDone) {
  const digits = [];
  const order = [...Array(10).keys()];
  const rnd = new Uint32Array(10);
  crypto.getRandomValues(rnd);
  for (let i = 9; i > 0; i--) { const j = rnd[i] % (i + 1); [order[i], order[j]] = [order[j], order[i]]; }
  const dots = h("div", { class: "dots", role: "img", "aria-label": `0/6` }, [...Array(6)].map(() => h("span")));
  const refresh = () => {
    [...dots.children].forEach((d, i) => d.classList.toggle("filled", i < digits.length));
    dots.setAttribute("aria-label", `${digits.length}/6`);
  };
  const push = (d) => {
    if (digits.length >= 6) return;
    digits.push(d);
    refresh();
    if (digits.length === 6) {
      const pin = digits.join("");
      digits.fill(0); digits.length = 0; refresh();
      onDone(pin);
    }
  };
  const keys = order.map((d) => h("button", { type: "button", class: "digit", "data-digit": d, "aria-label": String(d), onclick: () => push(d) }, String(d)));
  const pad = h("div", { class: "keypad", role: "group", "aria-label": label, tabindex: "0",
    onkeydown: (e) => { if (/^[0-9]$/.test(e.key)) { e.preventDefault(); push(Number(e.key)); } else if (e.key === "Backspace") { digits.pop(); refresh(); } } },
    h("p", { class: "pin-label" }, label), dots,
    h("div", { class: "keys" }, keys.slice(0, 9), h("button", { type: "button", class: "secondary", onclick: () => { digits.length = 0; refresh(); } }, t("clear")), keys[9],
      h("button", { type: "button", class: "secondary", onclick: () => { digits.pop(); refresh(); } }, t("back"))));
  return pad;
}

// The keypad leaves the page as soon as six digits are in: it never stays on screen ignoring
// input.
function askPin(container, label) {
  return new Promise((resolve) => {
    container.replaceChildren(keypad(label, (pin) => { container.replaceChildren(); resolve(pin); }));
    container.querySelector(".keypad").focus();
  });
}

// A confirmation in a modal dialog; resolves true only for the confirming button.
function confirmDialog(text, okLabel, { danger = false, title = "confirm.title" } = {}) {
  return new Promise((resolve) => {
    const titleId = "dialog-title";
    const finish = (yes) => { dialog.close(); dialog.remove(); resolve(yes); };
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": titleId, "aria-describedby": "dialog-text", oncancel: (e) => { e.preventDefault(); finish(false); } },
      h("h2", { id: titleId }, t(title)), h("p", { id: "dialog-text" }, text),
      h("div", { class: "row" },
        h("button", { type: "button", id: "dialog-ok", class: danger ? "danger" : "", onclick: () => finish(true) }, okLabel),
        h("button", { type: "button", id: "dialog-cancel", class: "secondary", onclick: () => finish(false) }, t("cancel"))));
    document.body.append(dialog);
    dialog.showModal();
    $("#dialog-cancel", dialog).focus();
  });
}

// Where a locked PIN is explained: the keypad is gone, the button that asked for it is off,
// and the way out (a PIN reset with the bound passkey, else reissuance) is offered.
function lockedNotice(area, certId, ...buttons) {
  for (const b of buttons) if (b) b.disabled = true;
  if (certId) sessionStorage.setItem("fincert.reset", certId);
  area.replaceChildren(h("section", { class: "card locked", role: "status" },
    h("h2", {}, t("lock.title")), h("p", {}, t("lock.d")),
    h("div", { class: "row" }, h("a", { href: "#/enrol/pin_reset", id: "reset-link" }, t("lock.reset")), h("a", { href: "#/enrol/reissue" }, t("lock.reissue")))));
}

// Asks for the PIN and runs `fn` with it; after a wrong PIN it says how many tries are left
// and asks again, after the lock it explains the lock. Other problems end it with their
// sentence. Resolves to fn's answer, or undefined.
async function withPin(area, label, certId, fn, ...buttons) {
  for (;;) {
    const pin = await askPin(area, label);
    try {
      return await fn(pin);
    } catch (e) {
      status(message(e));
      if (isLocked(e)) { lockedNotice(area, certId, ...buttons); return undefined; }
      if (e.status === 401 && e.code === "invalid_token") { session.clear(); updateNav(); }
      if (e.code !== "wrong_pin") return undefined;
    }
  }
}


// ----- views -----
function home() {
  const tile = (href, k) => h("a", { class: "tile", href }, h("strong", {}, t(k)), t(`${k}.d`));
  return [h("h1", {}, t("home.title")), h("div", { class: "tiles" },
    tile("#/enrol/issue", "home.issue"), tile("#/enrol/reissue", "home.reissue"), tile("#/certificates", "home.renew"),
    tile("#/foreign", "home.foreign"), tile("#/approvals", "home.approvals"), tile("#/enrol/pin_reset", "home.reset"))];
}

function needLogin() {
  return [h("p", {}, t("need.login")), h("a", { href: "#/login" }, t("nav.login"))];
}

// ----- formats, checked here before anything reaches the API -----
const checks = {
  name: (v) => /^\p{L}[\p{L} .-]{0,39}$/u.test(v.trim()) ? v.trim() : null,
  // 19870314 or 1987-03-14 (or with dots or slashes), a real day between 1900 and today.
  birth: (v) => {
    const m = v.trim().match(/^(\d{4})[-./]?(\d{2})[-./]?(\d{2})$/);
    if (!m) return null;
    const iso = `${m[1]}-${m[2]}-${m[3]}`;
    const d = new Date(`${iso}T00:00:00Z`);
    const real = !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso;
    return real && Number(m[1]) >= 1900 && d.getTime() <= Date.now() ? iso : null;
  },
  phone: (v) => {
    let d = v.replace(/[\s-]/g, "");
    if (d.startsWith("+82")) d = `0${d.slice(3)}`;
    return /^01[016789]\d{7,8}$/.test(d) ? d : null;
  },
  code: (v) => /^\d{6}$/.test(v.trim()) ? v.trim() : null,
};

// Reads a field through its check; a bad value is marked, focused and explained in a sentence.
function field(id, check, messageKey) {
  const el = $(`#${id}`);
  const value = checks[check](el.value);
  el.setAttribute("aria-invalid", value === null ? "true" : "false");
  if (value === null) { status(t(messageKey)); el.focus(); }
  return value;
}

// Certificates this device remembers, because the person ticked "remember" when signing in
// with them: their ids and what the list showed (kind, subject), never a PIN, a ticket or a
// token. Signing in with one skips the identity check; the PIN or the passkey still decides.
const remembered = {
  KEY: "fincert.remembered",
  list() {
    let v;
    try { v = JSON.parse(localStorage.getItem(this.KEY)); } catch { v = null; }
    const ok = (r) => r && /^[0-9a-f-]{36}$/.test(r.id) && typeof r.subject === "string" && r.subject.length <= 200
      && ["financial", "joint"].includes(r.kind);
    return Array.isArray(v) ? v.filter(ok).slice(0, 3) : [];
  },
  add(c) {
    const rest = this.list().filter((r) => r.id !== c.id);
    localStorage.setItem(this.KEY, JSON.stringify([{ id: c.id, kind: c.kind, subject: c.subject }, ...rest].slice(0, 3)));
  },
  forget(id) {
    const rest = this.list().filter((r) => r.id !== id);
    if (rest.length) localStorage.setItem(this.KEY, JSON.stringify(rest)); else localStorage.removeItem(this.KEY);
  },
};

// Sign-in: a certificate this device remembers (PIN or passkey), or sign-in by choosing:
// identify → phone code → choose a certificate → PIN or passkey. The selection ticket lives
// only in this closure.
function login() {
  const box = h("div", { id: "signin" });
  let pending = null;
  let choice = null;
  let remember = false;
  const input = (id, k, attrs = {}) => [h("label", { for: id }, t(k)), h("input", { id, ...attrs })];
  const signedIn = (pair, cert) => {
    if (remember) remembered.add(cert);
    generation += 1;
    session.set(pair);
    lastActive = Date.now();
    sessionStorage.setItem("fincert.cert", cert.id);
    pendingNotice = t("signed.in");
    // Back to the page that asked for the sign-in (a CSC consent page), else the certificates.
    const back = sessionStorage.getItem("fincert.return");
    sessionStorage.removeItem("fincert.return");
    location.hash = back && /^#\/csc\/[0-9a-f-]{36}$/.test(back) ? back : "#/certificates";
  };
  const show = (...children) => {
    box.replaceChildren(...children.flat(3));
    const first = box.querySelector("input, button");
    if (first) first.focus();
  };
  const identify = () => show(h("p", { class: "muted" }, t("signin.intro")),
    input("signin-name", "name", { autocomplete: "name", maxlength: "40" }),
    input("signin-birth", "birth", { inputmode: "numeric", autocomplete: "bday", maxlength: "10", placeholder: "1987-03-14" }),
    input("signin-phone", "phone", { inputmode: "tel", autocomplete: "tel", maxlength: "16", placeholder: "010-1234-5678" }),
    h("div", { class: "row" },
      h("button", { type: "button", id: "signin-sms", onclick: () => send("sms") }, t("phone.sms")),
      h("button", { type: "button", class: "secondary", id: "signin-ars", onclick: () => send("ars") }, t("phone.ars"))));
  const send = (channel) => {
    const name = field("signin-name", "name", "check.name");
    if (name === null) return;
    const birth = field("signin-birth", "birth", "check.birth");
    if (birth === null) return;
    const phone = field("signin-phone", "phone", "check.phone");
    if (phone === null) return;
    guarded(async () => {
      pending = await api("POST", "/v1/auth/sign-ins", { name, birth_date: birth, phone, channel });
      code();
    });
  };
  const code = () => {
    show(h("p", { id: "signin-sent" }, t("signin.sent", { phone: pending.phone })),
      input("signin-code", "phone.code", { inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" }),
      h("div", { class: "row" },
        h("button", { type: "button", id: "signin-verify", onclick: verify }, t("signin.verify")),
        h("button", { type: "button", class: "secondary", id: "signin-resend", onclick: () => guarded(async () => {
          pending = await api("POST", `/v1/auth/sign-ins/${pending.id}/code`, { channel: pending.channel });
          status(t("signin.sent", { phone: pending.phone }), "info");
        }) }, t("signin.resend")),
        h("button", { type: "button", class: "secondary", onclick: identify }, t("signin.restart"))));
  };
  const verify = () => {
    const value = field("signin-code", "code", "check.code");
    if (value === null) return;
    guarded(async () => {
      try {
        choice = await api("POST", `/v1/auth/sign-ins/${pending.id}/verify`, { code: value });
      } catch (e) {
        if (["sign_in_expired", "sign_in_not_found", "too_many_codes"].includes(e.code)) identify();
        throw e;
      }
      status("");
      choose();
    });
  };
  const choose = () => {
    const fetchedAt = Date.now();
    const items = choice.certificates.map((c) => {
      // A device-held key is not in this browser: that certificate signs in from its device.
      const usable = c.status === "active" && c.storage === "cloud";
      // A suspended one is resumed here, by the identity just checked and its PIN: a person
      // whose only certificate is suspended could not sign in to resume it.
      const resumable = c.status === "suspended" && c.storage === "cloud";
      const area = h("div");
      const badge = { active: "ok", suspended: "warn" }[c.status] || "err";
      return h("section", { class: "card choice", "data-id": c.id, "aria-label": c.subject },
        h("h2", {}, `${t(`kind.${c.kind}`)} · ${c.subject}`),
        h("dl", {}, h("dt", {}, t("usage")), h("dd", {}, t(`usage.${c.usage}`)), h("dt", {}, t("issuer")), h("dd", {}, c.issuer),
          h("dt", {}, t("status")), h("dd", {}, h("span", { class: `badge ${badge}` }, t(`status.${c.status}`))),
          h("dt", {}, t("expiry")), h("dd", {}, new Date(c.not_after).toLocaleDateString(lang === "ko" ? "ko-KR" : "en-GB")),
          h("dt", {}, t("remaining")), h("dd", {}, countdown(c.expires_in_secs, fetchedAt))),
        usable ? h("button", { type: "button", class: "choose", onclick: () => credential(c) }, t("signin.use"))
          : resumable ? [h("p", { class: "muted" }, t("signin.resume.d")),
            h("button", { type: "button", class: "resume", onclick: (ev) => withPin(area, t("pin.enter"), c.id, async (pin) => {
              const pair = await api("POST", "/v1/auth/resume", { certificate_id: c.id, pin, ticket: choice.ticket });
              signedIn(pair, c);
              pendingNotice = t("resumed.in");
            }, ev.currentTarget) }, t("signin.resume")), area]
          : h("p", { class: "muted" }, t(c.status === "active" ? "signin.device" : "signin.unusable")));
    });
    const any = (st) => choice.certificates.some((c) => c.status === st && c.storage === "cloud");
    show(h("p", {}, t(any("active") ? "signin.choose" : any("suspended") ? "signin.suspended" : "signin.none")), items);
  };
  const credential = (cert) => {
    const area = h("div");
    const ticket = choice.ticket;
    const keep = h("input", { type: "checkbox", id: "signin-remember" });
    keep.checked = remember;
    keep.addEventListener("change", () => { remember = keep.checked; });
    show(h("p", { id: "signin-chosen" }, t("signin.chosen", { subject: cert.subject })),
      h("label", { class: "remember" }, keep, t("remember.box")),
      h("div", { class: "row" },
        h("button", { type: "button", id: "login-pin", onclick: (ev) => withPin(area, t("pin.enter"), cert.id,
          async (pin) => signedIn(await api("POST", "/v1/auth/pin", { certificate_id: cert.id, pin, ticket }), cert), ev.currentTarget) }, t("login.pin")),
        h("button", { type: "button", class: "secondary", id: "login-passkey", onclick: () => guarded(async () => {
          const started = await api("POST", "/v1/auth/passkey/start", { certificate_id: cert.id, ticket });
          const { credential } = await getPasskey(started);
          signedIn(await api("POST", "/v1/auth/passkey/finish", { ceremony_id: started.ceremony_id, credential, ticket }), cert);
        }) }, t("login.passkey")),
        h("button", { type: "button", class: "secondary", id: "signin-other", onclick: choose }, t("signin.other"))),
      area);
  };
  // No ticket here: nobody was identified, so a wrong PIN never tells the tries left (and a
  // locked PIN looks like a wrong one); the hint points to the identity check that does.
  const known = () => {
    const items = remembered.list().map((r) => {
      const area = h("div");
      return h("section", { class: "card choice known", "data-id": r.id, "aria-label": r.subject },
        h("h2", {}, `${t(`kind.${r.kind}`)} · ${r.subject}`),
        h("div", { class: "row" },
          h("button", { type: "button", class: "known-pin", onclick: (ev) => withPin(area, t("pin.enter"), r.id, async (pin) => {
            try {
              signedIn(await api("POST", "/v1/auth/pin", { certificate_id: r.id, pin }), r);
            } catch (e) {
              if (e.code === "wrong_pin") e.hint = t("remember.hint");
              throw e;
            }
          }, ev.currentTarget) }, t("login.pin")),
          h("button", { type: "button", class: "secondary known-passkey", onclick: () => guarded(async () => {
            const started = await api("POST", "/v1/auth/passkey/start", { certificate_id: r.id });
            const { credential } = await getPasskey(started);
            signedIn(await api("POST", "/v1/auth/passkey/finish", { ceremony_id: started.ceremony_id, credential }), r);
          }) }, t("login.passkey")),
          h("button", { type: "button", class: "secondary known-forget", onclick: () => {
            remembered.forget(r.id);
            start();
            status(t("remember.forgot"), "info");
          } }, t("remember.forget"))),
        area);
    });
    show(h("p", { id: "signin-known" }, t("remember.intro")), items,
      h("button", { type: "button", class: "secondary", id: "signin-identify", onclick: identify }, t("remember.other")));
  };
  const start = () => (remembered.list().length ? known() : identify());
  start();
  return [h("h1", {}, t("login.title")), box];
}

const ALL_STEPS = ["terms", "identity", "phone", "medium", "credential"];

function enrol(purpose) {
  const box = h("div");
  // A PIN reset starts at the identity step and ends with the passkey and the new PIN.
  const STEPS = purpose === "pin_reset" ? ALL_STEPS.slice(1) : ALL_STEPS;
  const progress = h("ol", { class: "steps", "aria-label": t("progress") }, STEPS.map((s) => h("li", { "data-step": s }, t(purpose === "pin_reset" && s === "credential" ? "step.reset" : `step.${s}`))));
  let enrolment = null;
  // The wizard survives a reload or a language switch: the enrolment's id and what the person
  // typed that is no secret (never a code, a medium's answer or a PIN) are kept in this tab's
  // sessionStorage and put back; a finished, expired or unknown enrolment starts anew.
  const memoKey = `fincert.wizard.${purpose}`;
  const KEPT = ["name", "birth", "phone", "customer", "medium-kind", "device", "kind", "usage", "replaces"];
  const memo = {
    read() { try { return JSON.parse(sessionStorage.getItem(memoKey)) || {}; } catch { return {}; } },
    keep(patch) { sessionStorage.setItem(memoKey, JSON.stringify({ ...memo.read(), ...patch })); },
    clear() { sessionStorage.removeItem(memoKey); },
  };
  const remember = (ev) => {
    const el = ev.target;
    const kept = KEPT.includes(el.id) || el.id.startsWith("terms-");
    if (kept) memo.keep({ fields: { ...memo.read().fields, [el.id]: el.type === "checkbox" ? el.checked : el.value } });
  };
  box.addEventListener("input", remember);
  box.addEventListener("change", remember);
  const restore = () => {
    for (const [id, v] of Object.entries(memo.read().fields || {})) {
      const el = box.querySelector(`#${CSS.escape(id)}`);
      if (!el) continue;
      if (el.type === "checkbox") { if (el.checked !== v) { el.checked = v; el.dispatchEvent(new Event("change")); } continue; }
      if (el.tagName === "SELECT" && ![...el.options].some((o) => o.value === v)) continue;
      if (el.value !== v) { el.value = v; if (el.tagName === "SELECT") el.dispatchEvent(new Event("change")); }
    }
  };
  // The enrolment's calls: one that finds it gone or expired forgets it, so the next visit
  // starts anew.
  const eapi = (...args) => api(...args).catch((e) => {
    if (["enrolment_expired", "enrolment_not_found"].includes(e.code)) memo.clear();
    throw e;
  });
  const mark = (step) => [...progress.children].forEach((li, i) => {
    const cur = STEPS.indexOf(step);
    li.classList.toggle("done", i < cur);
    li.toggleAttribute("aria-current", i === cur);
    if (i === cur) li.setAttribute("aria-current", "step");
  });
  const show = async (step) => {
    mark(step);
    status("");
    box.replaceChildren(...(await steps[step]()).flat(3));
    restore();
    const first = box.querySelector("input, select, button");
    if (first) first.focus();
  };
  const advance = (e) => { enrolment = e; memo.keep({ id: e.id }); show(e.step); };
  const steps = {
    terms: async () => {
      // Each document has its own box, marked required or optional; "agree to all" ticks the
      // required ones only: the optional term is the person's own choice.
      const terms = await eapi("GET", `/v1/terms?lang=${lang}`);
      const boxes = terms.items.map((d) => h("input", { type: "checkbox", id: `terms-${d.code}`, "data-required": d.required ? "yes" : "no" }));
      const required = boxes.filter((b) => b.dataset.required === "yes");
      const agree = h("input", { type: "checkbox", id: "agree" });
      agree.addEventListener("change", () => required.forEach((b) => { b.checked = agree.checked; b.dispatchEvent(new Event("input", { bubbles: true })); }));
      const sync = () => { agree.checked = required.every((b) => b.checked); };
      required.forEach((b) => b.addEventListener("change", sync));
      return [h("h2", {}, t("step.terms")), h("label", { class: "agree-all" }, agree, t("terms.agree")),
        ...terms.items.map((d, i) => h("div", { class: "card terms", lang: d.lang },
          h("label", {}, boxes[i], h("span", { class: d.required ? "req" : "opt" }, t(d.required ? "terms.required" : "terms.optional")), " ", d.title),
          h("details", {}, h("summary", {}, t("terms.read")), h("p", {}, d.body || "")))),
        h("p", { class: "muted" }, t("terms.optional.d")),
        h("button", { type: "button", id: "next", onclick: () => guarded(async () => {
          sync();
          if (!agree.checked) { status(t("terms.missing")); required.find((b) => !b.checked).focus(); return; }
          const agreed = terms.items.filter((d, i) => boxes[i].checked).map((d) => ({ code: d.code, version: d.version }));
          advance(await eapi("POST", `/v1/enrolments/${enrolment.id}/terms`, { agreed }));
        }) }, t("next"))];
    },
    identity: async () => {
      const f = (id, k, attrs = {}) => [h("label", { for: id }, t(k)), h("input", { id, ...attrs })];
      return [h("h2", {}, t("step.identity")), f("name", "name", { autocomplete: "name" }), f("birth", "birth", { inputmode: "numeric" }),
        f("phone", "phone", { inputmode: "tel", autocomplete: "tel" }), f("customer", "customer", { inputmode: "numeric" }),
        h("button", { type: "button", id: "next", onclick: () => guarded(async () => advance(await eapi("POST", `/v1/enrolments/${enrolment.id}/identity`, {
          name: $("#name").value.trim(), birth_date: $("#birth").value.trim(), phone: $("#phone").value.trim(), customer_number: $("#customer").value.trim() }))) }, t("next"))];
    },
    phone: async () => {
      const send = (channel) => guarded(async () => { await eapi("POST", `/v1/enrolments/${enrolment.id}/phone-code`, { channel }); status(t("phone.sent"), "info"); $("#code").focus(); });
      return [h("h2", {}, t("step.phone")), h("div", { class: "row" },
          h("button", { type: "button", id: "send-sms", onclick: () => send("sms") }, t("phone.sms")),
          h("button", { type: "button", class: "secondary", id: "send-ars", onclick: () => send("ars") }, t("phone.ars"))),
        h("label", { for: "code" }, t("phone.code")), h("input", { id: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" }),
        h("button", { type: "button", id: "next", onclick: () => guarded(async () => advance(await eapi("POST", `/v1/enrolments/${enrolment.id}/phone-code/verify`, { code: $("#code").value.trim() }))) }, t("next"))];
    },
    medium: async () => {
      // Only the media the customer holds are offered (the first is asked for at once): an
      // OTP-only customer never sees card cells.
      const media = await guarded(() => eapi("GET", `/v1/enrolments/${enrolment.id}/media`));
      if (!media) return [h("h2", {}, t("step.medium")), h("button", { type: "button", class: "secondary", id: "medium-retry", onclick: () => show("medium") }, t("refresh"))];
      const held = media.kinds;
      if (!held.length) return [h("h2", {}, t("step.medium")), h("p", { id: "medium-none" }, t("medium.none"))];
      const kind = h("select", { id: "medium-kind" }, held.map((k) => h("option", { value: k }, t(`medium.${k}`))));
      const ask = h("p", { id: "medium-ask", class: "muted" });
      const device = h("div");
      const load = () => guarded(async () => {
        device.replaceChildren();
        ask.textContent = "";
        const c = await eapi("GET", `/v1/enrolments/${enrolment.id}/medium?kind=${kind.value}`);
        if (c.cells) {
          const half = (x) => t(x === "first" ? "first" : "last");
          ask.textContent = t("medium.card.ask", { a: c.cells.a[0], ah: half(c.cells.a[1]), b: c.cells.b[0], bh: half(c.cells.b[1]) });
        }
        if (kind.value === "motp") device.replaceChildren(h("label", { for: "device" }, t("medium.device")), h("input", { id: "device" }));
      });
      kind.addEventListener("change", load);
      await load();
      return [h("h2", {}, t("step.medium")), h("label", { for: "medium-kind" }, t("medium.kind")), kind, ask, device,
        h("label", { for: "answer" }, t("medium.answer")), h("input", { id: "answer", inputmode: "numeric", autocomplete: "off" }),
        h("button", { type: "button", id: "next", onclick: () => guarded(async () => {
          try {
            advance(await eapi("POST", `/v1/enrolments/${enrolment.id}/medium`, {
              kind: kind.value, answer: $("#answer").value.trim(), device_id: $("#device") ? $("#device").value.trim() : undefined }));
          } catch (e) {
            // A security card's challenge is single-use: after a wrong answer new cells are
            // asked for (the old ones would fail even when answered right).
            if (kind.value === "card" && ["wrong_medium_answer", "no_open_challenge"].includes(e.code)) {
              $("#answer").value = "";
              await load();
            }
            throw e;
          }
        }) }, t("next"))];
    },
    credential: async () => {
      const kind = h("select", { id: "kind" }, h("option", { value: "financial" }, t("kind.financial.d")), h("option", { value: "joint" }, t("kind.joint.d")));
      const usage = h("select", { id: "usage" }, h("option", { value: "restricted" }, t("usage.restricted")), h("option", { value: "general" }, t("usage.general")));
      const replaces = purpose === "reissue" ? h("input", { id: "replaces", autocomplete: "off", value: sessionStorage.getItem("fincert.cert") || "" }) : null;
      const pinArea = h("div");
      const storage = device.storageChoice(deviceCtx, kind);
      const go = h("button", { type: "button", id: "next", onclick: async () => {
        // A charge is agreed to before anything is recorded (for a key kept on the device,
        // after its password passed the browser's checks: nothing is sent before either).
        let confirmedFee;
        const feeAgreed = async () => {
          if (usage.value !== "general") return true;
          const p = await guarded(pricing);
          if (!p) return false;
          const fee = feeText(p.general_purpose_fee_krw);
          if (await confirmDialog(t("fee.issue", { fee }), t("fee.agree", { fee }), { title: "fee.title" })) { confirmedFee = p.general_purpose_fee_krw; return true; }
          status(t("fee.declined"), "info");
          return false;
        };
        let pin, kept;
        if (storage.onDevice()) {
          kept = await guarded(() => storage.prepare());
          if (!kept || !await feeAgreed()) return;
        } else {
          if (!await feeAgreed()) return;
          go.disabled = true;
          pin = await askPin(pinArea, t("pin.set"));
          const again = await askPin(pinArea, t("pin.confirm"));
          pinArea.replaceChildren();
          go.disabled = false;
          if (pin !== again) { status(t("pin.mismatch")); return; }
        }
        await guarded(async () => {
          const choice = kept ? { kind: kind.value, usage: usage.value, csr: kept.csr } : { kind: kind.value, usage: usage.value, pin };
          if (replaces) choice.replaces = replaces.value.trim();
          if (confirmedFee !== undefined) choice.fee_confirmed_krw = confirmedFee;
          const send = () => eapi("POST", `/v1/enrolments/${enrolment.id}/complete`, choice);
          let done;
          try { done = await send(); } catch (e) {
            // A charge the request did not confirm (a reissuance is charged by the replaced
            // certificate's usage, or the fee changed): nothing was issued and the step stays
            // open, so ask with the fee in force and send again.
            if (e.code !== "fee_not_confirmed" || !prices) throw e;
            const fee = feeText(prices.general_purpose_fee_krw);
            if (!await confirmDialog(t("fee.issue", { fee }), t("fee.agree", { fee }), { title: "fee.title" })) { status(t("fee.declined"), "info"); return; }
            choice.fee_confirmed_krw = prices.general_purpose_fee_krw;
            done = await send();
          }
          if (done.session) session.set(done.session);
          const cert = done.certificate || done;
          if (kept) await kept.finish(cert);
          sessionStorage.setItem("fincert.cert", cert.id);
          memo.clear();
          mark("done");
          status("");
          box.replaceChildren(h("h2", { id: "done" }, t("done.title")), h("dl", {}, h("dt", {}, t("certificate")), h("dd", { id: "new-cert" }, cert.id), h("dt", {}, t("serial")), h("dd", {}, cert.serial)),
            h("div", { class: "row" }, h("a", { href: "#/certificates" }, t("nav.certificates")), h("a", { href: "#/passkeys" }, t("passkeys.add"))));
        });
      } }, t("next"));
      return [h("h2", {}, t("step.credential")), h("label", { for: "kind" }, t("kind")), kind, storage.element,
        h("label", { for: "usage" }, t("usage")), usage,
        replaces ? [h("label", { for: "replaces" }, t("reissue.replaces")), replaces] : [], go, pinArea];
    },
  };
  if (purpose === "pin_reset") steps.credential = () => resetStep();
  // The last step of a PIN reset: the passkey bound to the certificate's key opens it, then
  // the new PIN (twice); without a bound passkey the answer says reissuance is the way.
  const resetStep = async () => {
    const certId = sessionStorage.getItem("fincert.reset") || sessionStorage.getItem("fincert.cert");
    if (!certId) return [h("h2", {}, t("step.reset")), h("p", { id: "reset-nocert" }, t("reset.nocert")), h("a", { href: "#/login" }, t("nav.login"))];
    const area = h("div");
    const go = h("button", { type: "button", id: "reset-passkey", onclick: async () => {
      go.disabled = true;
      try {
        let started;
        try {
          started = await eapi("POST", `/v1/enrolments/${enrolment.id}/pin-reset/passkey`, { certificate_id: certId });
        } catch (e) {
          status(message(e));
          if (e.code === "reissuance_required") {
            area.replaceChildren(h("p", { id: "reset-reissue" }, ERRORS[lang].reissuance_required.replace("{fee}", feeText())), h("a", { href: "#/enrol/reissue" }, t("lock.reissue")));
          }
          return;
        }
        const { credential, prf } = await getPasskey(started);
        for (;;) {
          const pin = await newPin(area);
          if (!pin) continue;
          try {
            await eapi("POST", `/v1/enrolments/${enrolment.id}/pin-reset`, { ceremony_id: started.ceremony_id, credential, prf, new_pin: pin });
            break;
          } catch (e) {
            status(message(e));
            // A weak PIN is refused before the passkey's answer is spent: choose another.
            if (e.code !== "weak_pin") return;
          }
        }
        sessionStorage.removeItem("fincert.reset");
        memo.clear();
        mark("done");
        status("");
        box.replaceChildren(h("h2", { id: "reset-done" }, t("reset.done")), h("div", { class: "row" }, h("a", { href: "#/login" }, t("nav.login"))));
      } catch (e) {
        status(message(e));
      } finally {
        go.disabled = false;
      }
    } }, t("reset.passkey"));
    return [h("h2", {}, t("step.reset")), h("p", {}, t("reset.d")), go, area];
  };
  guarded(async () => {
    const saved = memo.read().id;
    if (saved) {
      const e = await call("GET", `/v1/enrolments/${encodeURIComponent(saved)}`).catch(() => null);
      if (e && e.purpose === purpose && e.step !== "completed") { advance(e); return; }
      memo.clear();
    }
    advance(await api("POST", "/v1/enrolments", { purpose }));
  });
  return [h("h1", {}, t({ reissue: "home.reissue", pin_reset: "home.reset" }[purpose] || "home.issue")), progress, box];
}

// Counts down from the service's own "seconds left" (not the viewer's clock).
function countdown(secondsLeft, fetchedAt) {
  const ms = secondsLeft * 1000 - (Date.now() - fetchedAt);
  const d = Math.max(0, Math.floor(ms / 86400000));
  const hrs = Math.max(0, Math.floor((ms % 86400000) / 3600000));
  return t("days", { d, h: hrs });
}

function certificates() {
  if (!session.token) return needLogin();
  const list = h("div", { id: "cert-list" });
  const consents = h("div", { id: "consents" });
  guarded(async () => {
    const [certs, cons, insts] = await Promise.all([api("GET", "/v1/certificates"), api("GET", "/v1/consents"), api("GET", "/v1/institutions")]);
    const fetchedAt = Date.now();
    list.replaceChildren(h("p", {}, `${t("fees")}: ${certs.fees_charged_krw.toLocaleString()} KRW`), ...certs.items.map((c) => {
      const area = h("div");
      const live = c.status === "active" || c.status === "suspended";
      const cloud = c.storage === "cloud";
      const badge = { active: "ok", suspended: "warn" }[c.status] || "err";
      const select = h("select", { "aria-label": `${t("institution")} (${c.subject})` }, insts.items.map((i) => h("option", { value: i.id }, `${i.name} (${i.sector})`)));
      // A state change asks first, then says what happened.
      const change = (action, danger, body) => async () => {
        if (!await confirmDialog(t(`${action}.confirm`), t(action), { danger })) return;
        await guarded(async () => { await api("POST", `/v1/certificates/${c.id}/${action}`, body); if (action === "revoke") remembered.forget(c.id); pendingNotice = t(`${action}.done`); route(true); });
      };
      const renewButton = h("button", { type: "button", class: "renew", onclick: async () => {
        const body = {};
        if (c.usage === "general") {
          const p = await guarded(pricing);
          if (!p) return;
          const fee = feeText(p.general_purpose_fee_krw);
          if (!await confirmDialog(t("fee.renew", { fee }), t("fee.agree", { fee }), { title: "fee.title" })) { status(t("fee.declined"), "info"); return; }
          body.fee_confirmed_krw = p.general_purpose_fee_krw;
        }
        const done = await withPin(area, t("pin.enter"), c.id, (pin) => api("POST", `/v1/certificates/${c.id}/renew`, { ...body, pin }), renewButton);
        if (done) { pendingNotice = t("saved"); route(true); }
      } }, t("renew"));
      const pinButton = h("button", { type: "button", class: "secondary change-pin", onclick: () => changePin(c, area, pinButton) }, t("pin.change"));
      const auto = c.status === "active" && cloud ? autoRenewal(c) : "";
      return h("section", { class: "card cert", "data-id": c.id, "data-status": c.status, "aria-label": c.subject },
        h("h2", {}, `${t(`kind.${c.kind}`)} · ${c.subject}`),
        h("dl", {}, h("dt", {}, t("usage")), h("dd", {}, t(`usage.${c.usage}`)), h("dt", {}, t("serial")), h("dd", {}, c.serial),
          h("dt", {}, t("issuer")), h("dd", {}, c.issuer),
          h("dt", {}, t("status")), h("dd", {}, h("span", { class: `badge ${badge}` }, t(`status.${c.status}`))),
          h("dt", {}, t("valid")), h("dd", {}, new Date(c.not_after).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB")),
          // A revoked or expired certificate has nothing left to count down.
          live ? [h("dt", {}, t("remaining")), h("dd", { class: "countdown" }, countdown(c.expires_in_secs, fetchedAt))] : []),
        c.renewal_open && live ? h("p", {}, h("span", { class: "badge warn renewal-open" }, t("renew.open"))) : "",
        h("div", { class: "row" },
          c.renewal_open && c.status === "active" ? renewButton : "",
          c.status === "active" && cloud ? pinButton : "",
          h("a", { href: `#/history/${c.id}`, class: "history-link" }, t("history")),
          c.status === "active" ? h("button", { type: "button", class: "secondary suspend", onclick: change("suspend", false) }, t("suspend")) : "",
          c.status === "suspended" ? h("button", { type: "button", class: "secondary resume", onclick: change("resume", false) }, t("resume")) : "",
          live ? h("button", { type: "button", class: "danger revoke", onclick: change("revoke", true, { reason: "unspecified" }) }, t("revoke")) : ""),
        auto,
        c.status === "active" ? h("div", { class: "row" }, select, h("button", { type: "button", class: "secondary consent-add", onclick: () => guarded(async () => {
          await api("POST", "/v1/consents", { institution_id: select.value, certificate_id: c.id }); status(t("saved"), "info"); route(true);
        }) }, t("consent.add"))) : "",
        area);
    }));
    consents.replaceChildren(h("h2", {}, t("consents.title")), ...cons.items.map((c) => h("div", { class: "card consent" },
      `${c.institution.name} (${c.institution.sector}) · ${c.certificate_id.slice(0, 8)}…`,
      h("button", { type: "button", class: "danger", onclick: () => guarded(async () => { await api("DELETE", `/v1/consents/${c.id}`); route(true); }) }, t("withdraw")))));
  });
  return [h("h1", {}, t("certs.title")), list, consents];
}

// Automatic renewal of one certificate: a switch showing the service's setting; turning it on
// for a general-purpose certificate asks the person to agree to the fee (read from the
// service) first, and the setting then records exactly that fee.
function autoRenewal(c) {
  const box = h("input", { type: "checkbox", class: "auto-renew", disabled: true });
  const wrap = h("label", { class: "auto-renewal", hidden: true }, box, t("auto.label"));
  guarded(async () => {
    const setting = await api("GET", `/v1/certificates/${c.id}/auto-renewal`);
    if (!setting.available) return;
    box.checked = setting.active;
    box.disabled = false;
    wrap.hidden = false;
  });
  box.addEventListener("change", async () => {
    const on = box.checked;
    box.checked = !on;
    const body = { enabled: on };
    if (on && c.usage === "general") {
      const p = await guarded(pricing);
      if (!p) return;
      const fee = feeText(p.general_purpose_fee_krw);
      if (!await confirmDialog(t("auto.fee", { fee }), t("fee.agree", { fee }), { title: "fee.title" })) { status(t("fee.declined"), "info"); return; }
      body.fee_confirmed_krw = p.general_purpose_fee_krw;
    }
    await guarded(async () => {
      const setting = await api("PUT", `/v1/certificates/${c.id}/auto-renewal`, body);
      box.checked = setting.active;
      status(t(setting.enabled ? "auto.on" : "auto.off"), "info");
    });
  });
  return wrap;
}

// What an approval says: signed, and when the same PIN renewed the certificate, the new one's
// serial and expiry (and the fee charged, which the person agreed to in the setting).
function approvedNotice(v) {
  if (v.status !== "signed") return t("rejected");
  if (!v.renewed) return t("signed");
  const date = new Date(v.renewed.not_after).toLocaleDateString(lang === "ko" ? "ko-KR" : "en-GB");
  const serial = v.renewed.serial.slice(-8);
  return v.renewed.fee_krw > 0 ? t("auto.renewed.fee", { fee: feeText(v.renewed.fee_krw), serial, date }) : t("auto.renewed", { serial, date });
}

// Change of PIN: the current PIN, then the new one twice; a wrong current PIN says how many
// tries are left and asks for it again (the new PIN is kept), the fifth explains the lock.
async function changePin(c, area, button) {
  button.disabled = true;
  try {
    let current = await askPin(area, t("pin.current"));
    const next = await askPin(area, t("pin.new"));
    const again = await askPin(area, t("pin.confirm"));
    if (next !== again) { status(t("pin.mismatch")); return; }
    for (;;) {
      try {
        await api("POST", `/v1/certificates/${c.id}/pin`, { current_pin: current, new_pin: next });
        status(t("pin.changed"), "info");
        return;
      } catch (e) {
        status(message(e));
        if (isLocked(e)) { lockedNotice(area, c.id, button); return; }
        if (e.code !== "wrong_pin") return;
        current = await askPin(area, t("pin.current"));
      }
    }
  } finally {
    if (!area.querySelector(".locked")) button.disabled = false;
  }
}

// Usage history (전자서명 이용내역) of one certificate: filters, pages by the API's cursor
// ("show more"), and the CSV export (fetched with the session, saved as a file).
function history(certId) {
  if (!session.token) return needLogin();
  const list = h("div", { id: "history-list" });
  const more = h("button", { type: "button", class: "secondary", id: "history-more", hidden: true }, t("history.more"));
  const option = (value, k) => h("option", { value }, t(k));
  const kind = h("select", { id: "history-kind" }, option("", "history.all"), option("signature", "hkind.signature"), option("login", "hkind.login"));
  const result = h("select", { id: "history-result" }, option("", "history.all"), option("signed", "result.signed"), option("rejected", "result.rejected"), option("expired", "result.expired"));
  const from = h("input", { id: "history-from", type: "date" });
  const to = h("input", { id: "history-to", type: "date" });
  const when = (iso) => (iso ? new Date(iso).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB") : "—");
  // The filters as a query: dates are whole local days, "to" up to the end of its day.
  const query = () => {
    const q = new URLSearchParams();
    if (kind.value) q.set("kind", kind.value);
    if (result.value) q.set("result", result.value);
    if (from.value) q.set("from", new Date(`${from.value}T00:00:00`).toISOString());
    if (to.value) { const d = new Date(`${to.value}T00:00:00`); d.setDate(d.getDate() + 1); q.set("to", d.toISOString()); }
    return q;
  };
  let cursor = null;
  const item = (x) => h("section", { class: "card history-item", "data-id": x.id, "aria-label": `${x.institution} · ${when(x.requested_at)}` },
    h("h2", {}, x.institution), h("p", { class: "display-text" }, x.display_text),
    h("dl", {}, h("dt", {}, t("history.kind")), h("dd", {}, t(`hkind.${x.kind}`)),
      h("dt", {}, t("result")), h("dd", {}, h("span", { class: `badge ${x.result === "signed" ? "ok" : "warn"}` }, t(`result.${x.result}`))),
      h("dt", {}, t("requested")), h("dd", {}, when(x.requested_at)), h("dt", {}, t("decided")), h("dd", {}, when(x.decided_at)),
      h("dt", {}, t("format")), h("dd", {}, `${x.format} · ${t("digests", { n: x.digests.length })}`)));
  const load = (append) => guarded(async () => {
    const q = query();
    if (append && cursor) q.set("cursor", cursor);
    const page = await api("GET", `/v1/certificates/${certId}/history?${q}`);
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    const items = page.items.map(item);
    if (append) list.append(...items);
    else list.replaceChildren(...(items.length ? items : [h("p", { id: "history-none" }, t("history.none"))]));
  });
  more.addEventListener("click", () => load(true));
  const csv = h("button", { type: "button", class: "secondary", id: "history-csv", onclick: () => guarded(async () => {
    const blob = await download(`/v1/certificates/${certId}/history.csv?${query()}`);
    const a = h("a", { href: URL.createObjectURL(blob), download: `fincert-history-${certId.slice(0, 8)}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    status(t("history.downloaded"), "info");
  }) }, t("history.csv"));
  load(false);
  return [h("h1", {}, t("history.title")),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(false); } },
      h("div", {}, h("label", { for: "history-kind" }, t("history.kind")), kind), h("div", {}, h("label", { for: "history-result" }, t("result")), result),
      h("div", {}, h("label", { for: "history-from" }, t("from")), from), h("div", {}, h("label", { for: "history-to" }, t("to")), to),
      h("div", { class: "row" }, h("button", { type: "submit", id: "history-search" }, t("history.search")), csv)),
    list, more];
}

// The list refreshes itself every POLL_MS while it is on screen and the tab is visible: a new
// request appears, and one decided elsewhere (another device, the institution) goes, unless
// the person is in the middle of answering it (its own answer then says it is gone). A
// request past its deadline keeps its sentence until the page is left.
const POLL_MS = 10 * 1000;
function approvals() {
  if (!session.token) return needLogin();
  const list = h("div", { id: "approval-list" });
  const stale = h("p", { id: "approvals-stale", class: "muted", role: "status" });
  const shown = new Map();
  const card = (a, fetchedAt) => {
    const area = h("div");
    const done = (v) => { status(approvedNotice(v), "info"); route(true); };
    // Its deadline by this browser's clock, from the service's seconds left (the two clocks
    // need not agree): at the deadline its buttons give way to a sentence.
    const deadline = fetchedAt + a.expires_in_secs * 1000;
    const actions = h("div", { class: "row" },
        h("button", { type: "button", class: "approve-pin", onclick: (ev) => withPin(area, t("pin.enter"), a.certificate_id,
          async (pin) => done(await api("POST", `/v1/approvals/${a.id}/approve`, { pin, request_digest: a.request_digest })), ev.currentTarget) }, t("approvePin")),
        h("button", { type: "button", class: "secondary approve-passkey", onclick: () => guarded(async () => {
          const started = await api("POST", `/v1/approvals/${a.id}/passkey/start`, {});
          const { credential, prf } = await getPasskey(started);
          done(await api("POST", `/v1/approvals/${a.id}/passkey/finish`, { ceremony_id: started.ceremony_id, credential, prf }));
        }) }, t("approvePasskey")),
        device.approveButton(deviceCtx, a, done),
        h("button", { type: "button", class: "danger reject", onclick: async () => {
          if (!await confirmDialog(t("reject.confirm"), t("reject"), { danger: true })) return;
          await guarded(async () => done(await api("POST", `/v1/approvals/${a.id}/reject`, {})));
        } }, t("reject")));
    const c = h("section", { class: "card approval", "data-id": a.id, "aria-label": a.institution.name },
      h("h2", {}, a.institution.name), h("p", { class: "display-text", dir: "auto" }, h("bdi", {}, a.display_text)),
      h("p", { class: "muted" }, `${t("signatures", { n: a.digest_count })} · ${t("expires")} ${new Date(deadline).toLocaleTimeString()}`),
      actions, area);
    c.busy = () => area.childElementCount > 0 || document.querySelector("dialog[open]") !== null;
    setTimeout(() => {
      c.dataset.expired = "true";
      actions.remove();
      area.replaceChildren(h("p", { class: "expired", role: "status" }, t("approval.expired")));
    }, Math.max(0, deadline - Date.now()));
    return c;
  };
  const load = async () => {
    const pending = await api("GET", "/v1/approvals");
    const fetchedAt = Date.now();
    const live = new Set(pending.items.map((a) => a.id));
    for (const [id, c] of shown) {
      if (!live.has(id) && c.dataset.expired !== "true" && !c.busy()) { c.remove(); shown.delete(id); }
    }
    for (const a of pending.items) {
      if (shown.has(a.id)) continue;
      const c = card(a, fetchedAt);
      shown.set(a.id, c);
      list.append(c);
    }
    const none = $("#no-approvals", list);
    if (!shown.size && !none) list.append(h("p", { id: "no-approvals" }, t("approvals.none")));
    if (shown.size && none) none.remove();
  };
  guarded(load);
  const timer = setInterval(() => {
    if (!document.body.contains(list) || !session.token) { clearInterval(timer); return; }
    if (document.hidden) return;
    load().then(() => { stale.textContent = ""; }, (e) => {
      if (e.status === 401) { clearInterval(timer); guarded(() => Promise.reject(e)); return; }
      stale.textContent = t("approvals.stale");
    });
  }, POLL_MS);
  return [h("h1", {}, t("approvals.title")), h("button", { type: "button", class: "secondary", id: "approvals-refresh", onclick: () => route() }, t("refresh")), stale, list];
}

function passkeys() {
  if (!session.token) return needLogin();
  const list = h("div", { id: "passkey-list" });
  const area = h("div");
  const name = h("input", { id: "passkey-name", value: "My phone" });
  guarded(async () => {
    const keys = await api("GET", "/v1/passkeys");
    list.replaceChildren(...(keys.items.length ? keys.items.map((k) => h("div", { class: "card passkey", "data-sole-control": String(k.sole_control) }, `${k.name}${k.bound_to_key ? " 🔑" : ""}`,
      k.bound_to_key ? h("p", { class: "passkey-control" }, t(k.sole_control ? "passkeys.sole" : "passkeys.shared")) : "",
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!await confirmDialog(t("remove.confirm"), t("remove"), { danger: true })) return;
        await guarded(async () => { await api("DELETE", `/v1/passkeys/${k.id}`); route(true); });
      } }, t("remove"))))
      : [h("p", {}, t("passkeys.none"))]));
  });
  return [h("h1", {}, t("passkeys.title")), list, h("label", { for: "passkey-name" }, t("passkeys.name")), name,
    h("button", { type: "button", id: "add-passkey", onclick: async () => {
      const pin = await askPin(area, t("pin.enter"));
      area.replaceChildren();
      await guarded(async () => {
        const started = await api("POST", "/v1/passkeys/register/start", {});
        const { credential, prf } = await createPasskey(started);
        await api("POST", "/v1/passkeys/register/finish", { ceremony_id: started.ceremony_id, credential, prf, name: name.value.trim(), certificate_id: sessionStorage.getItem("fincert.cert"), pin });
        status(t("saved"), "info");
        route(true);
      });
    } }, t("passkeys.add")), area];
}

// A new PIN, twice on the keypad; null (and a sentence) when the two differ.
async function newPin(area) {
  const pin = await askPin(area, t("pin.set"));
  const again = await askPin(area, t("pin.confirm"));
  if (pin !== again) { status(t("pin.mismatch")); return null; }
  return pin;
}

function foreign() {
  if (!session.token) return needLogin();
  const list = h("div", { id: "foreign-list" });
  guarded(async () => {
    const [items, insts] = await Promise.all([api("GET", "/v1/foreign-certificates"), api("GET", "/v1/institutions")]);
    list.replaceChildren(...(items.items || []).map((c) => {
      // A certificate whose key fincert holds works like an issued one: register it with an
      // institution, and approve its requests with its PIN.
      const select = h("select", { "aria-label": `${t("institution")} (${c.subject})` }, insts.items.map((i) => h("option", { value: i.id }, `${i.name} (${i.sector})`)));
      return h("section", { class: "card foreign", "data-id": c.id, "data-source": c.source, "aria-label": c.subject },
        h("h2", {}, c.subject), h("dl", {}, h("dt", {}, t("issuer")), h("dd", {}, c.issuer || ""), h("dt", {}, t("serial")), h("dd", {}, c.serial),
          h("dt", {}, t("usage")), h("dd", {}, t(`usage.${c.usage}`)), h("dt", {}, t("expiry")), h("dd", {}, new Date(c.not_after).toLocaleDateString(lang === "ko" ? "ko-KR" : "en-GB"))),
        c.key_held ? h("div", { class: "row" }, select, h("button", { type: "button", class: "secondary consent-add", onclick: () => guarded(async () => {
          await api("POST", "/v1/consents", { institution_id: select.value, certificate_id: c.id }); status(t("saved"), "info");
        }) }, t("consent.add"))) : "");
    }));
  });
  const pem = h("textarea", { id: "pem", rows: "6" });
  const file = h("input", { id: "p12", type: "file", accept: ".p12,.pfx,application/x-pkcs12" });
  const password = h("input", { id: "p12-password", type: "password", autocomplete: "off" });
  const signCert = h("input", { id: "npki-cert", type: "file", accept: ".der,.cer,.crt" });
  const signPri = h("input", { id: "npki-key", type: "file", accept: ".key" });
  const npkiPassword = h("input", { id: "npki-password", type: "password", autocomplete: "off" });
  const area = h("div");
  const npkiArea = h("div");
  const toB64 = async (f) => {
    const bytes = new Uint8Array(await f.arrayBuffer());
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  };
  // An import: the files read here, a new PIN, then the API; the password field is emptied
  // whatever happens.
  const importWith = async (pinArea, pw, send) => {
    const pin = await newPin(pinArea);
    if (!pin) return;
    await guarded(async () => {
      try { await send(pin); } finally { pw.value = ""; }
      pendingNotice = t("foreign.imported");
      route(true);
    });
  };
  return [h("h1", {}, t("foreign.title")), list,
    h("h2", {}, t("foreign.byCert")), h("label", { for: "pem" }, t("foreign.pem")), pem,
    h("button", { type: "button", id: "register-pem", onclick: () => guarded(async () => {
      await api("POST", "/v1/foreign-certificates", { certificate: pem.value.trim() }); status(t("saved"), "info"); route(true);
    }) }, t("register")),
    h("h2", {}, t("foreign.byP12")), h("p", { class: "muted" }, t("foreign.p12.d")),
    h("label", { for: "p12" }, t("foreign.p12")), file, h("label", { for: "p12-password" }, t("foreign.password")), password,
    h("button", { type: "button", id: "import-p12", onclick: () => {
      if (!file.files.length) { status(t("foreign.missing")); file.focus(); return; }
      return importWith(area, password, async (pin) => api("POST", "/v1/foreign-certificates/pkcs12", { pkcs12: await toB64(file.files[0]), password: password.value, pin }));
    } }, t("register")), area,
    h("h2", {}, t("foreign.byNpki")), h("p", { class: "muted" }, t("foreign.p12.d")),
    h("label", { for: "npki-cert" }, t("foreign.npki.cert")), signCert, h("label", { for: "npki-key" }, t("foreign.npki.key")), signPri,
    h("label", { for: "npki-password" }, t("foreign.npki.password")), npkiPassword,
    h("button", { type: "button", id: "import-npki", onclick: () => {
      if (!signCert.files.length || !signPri.files.length) { status(t("foreign.missing")); (signCert.files.length ? signPri : signCert).focus(); return; }
      return importWith(npkiArea, npkiPassword, async (pin) => api("POST", "/v1/foreign-certificates/npki", {
        sign_cert: await toB64(signCert.files[0]), sign_pri: await toB64(signPri.files[0]), password: npkiPassword.value, pin }));
    } }, t("register")), npkiArea];
}

// What device.js may use of this page.
const deviceCtx = {
  h, t: (k, v) => t(k, v), api, call, guarded, status, route: (keep) => route(keep),
  signedIn(pair, id) { session.set(pair); sessionStorage.setItem("fincert.cert", id); updateNav(); },
};

// What csc.js (the CSC consent page) may use of this page.
const cscCtx = { h, t: (k, v) => t(k, v), api, guarded, status, withPin, confirmDialog, getPasskey, token: () => session.token };

const routes = { "": home, certificates, approvals, passkeys, foreign, login, device: () => device.page(deviceCtx), "enrol/issue": () => enrol("issue"), "enrol/reissue": () => enrol("reissue"), "enrol/pin_reset": () => enrol("pin_reset") };

// Renders the page for the current hash; navigation clears the message line, an in-place
// refresh after an action keeps it.
let pendingNotice = null;
function updateNav() {
  $("#nav-session").textContent = session.token ? t("nav.logout") : t("nav.login");
}

function route(keepStatus = false) {
  if (!keepStatus) status("");
  if (pendingNotice) { status(pendingNotice, "info"); pendingNotice = null; }
  const path = location.hash.replace(/^#\/?/, "");
  const [first, arg] = path.split("/");
  const render = routes[path] || (first === "history" && arg ? () => history(arg) : first === "csc" && arg ? () => csc.page(cscCtx, arg) : home);
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  updateNav();
  $("#idle-stay").textContent = t("idle.stay");
  $("#lang").textContent = lang === "ko" ? "English" : "한국어";
  $("#lang").lang = lang === "ko" ? "en" : "ko";
  view().replaceChildren(...[render()].flat(3));
  view().focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#lang").addEventListener("click", () => { lang = lang === "ko" ? "en" : "ko"; localStorage.setItem("fincert.lang", lang); route(); });
  $("#nav-session").addEventListener("click", (e) => { if (session.token) { e.preventDefault(); signOut(t("signed.out")); } });
  $("#idle-stay").addEventListener("click", stay);
  for (const ev of ["pointerdown", "keydown", "input"]) document.addEventListener(ev, () => { lastActive = Date.now(); }, { capture: true, passive: true });
  setInterval(idleTick, 1000);
  window.addEventListener("hashchange", () => route());
  // The fees are the service's (sentences name them): read before the first page is drawn.
  pricing().catch(() => {}).finally(() => route());
});
