"""Judges a CMS signature the way a CAdES/PAdES validator does, with pyHanko (not fincert).

Usage: cades_validate.py [--pades] CMS_DER ROOT_DER [CONTENT]

CMS_DER is a ContentInfo holding SignedData; ROOT_DER the one trust anchor; CONTENT the signed
bytes of a detached signature (left out for an attached one). --pades judges the CMS of a PDF
signature (PAdES-B-B, ETSI EN 319 142-1 §6.3): detached, and no signing-time attribute, the
PDF's signature dictionary carries the time. Prints one JSON object:

- indication / subindication: pyHanko's basic validation of ETSI EN 319 102-1 §5.3
  (`ades_basic_validation`: signer certificate identification with the signing-certificate
  attribute, signature integrity, X.509 path to the anchor), e.g. PASSED / OK or
  INDETERMINATE / NO_SIGNING_CERTIFICATE_FOUND;
- intact, valid, trusted: pyHanko's status flags (digest matches, signature verifies, path to
  the anchor with the key usage a signer needs);
- signing_certificate_v2: "matches" (pyHanko's `check_ess_certid` against the signer
  certificate), "mismatch" or "absent"; issuer_serial: whether the ESSCertIDv2 carries one;
- missing: the signed attributes that CAdES-B-B (ETSI EN 319 122-1 §5.2, 5.3, 6.3) or
  PAdES-B-B requires and the signature lacks (pyHanko accepts a signature without
  signing-certificate-v2, so that presence is checked here); forbidden: those present that
  the profile excludes (signing-time for PAdES, encapsulated content for PAdES);
- certificates: the SHA-256 (hex) of each certificate the SignedData carries;
- baseline_b: PASSED, signing-certificate-v2 matching, nothing missing or forbidden.

Offline: no revocation checks (revocation data is what B-LT adds) and no fetching of
anything.
"""

import asyncio
import hashlib
import json
import sys

from asn1crypto import cms, tsp, x509
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.general import check_ess_certid, find_unique_cms_attribute
from pyhanko.sign.validation.ades import ades_basic_validation
from pyhanko.sign.validation.generic_cms import get_signing_cert_attr
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

CADES_REQUIRED = ["content_type", "message_digest", "signing_time", "signing_certificate_v2"]
PADES_REQUIRED = ["content_type", "message_digest", "signing_certificate_v2"]
PADES_FORBIDDEN = ["signing_time"]


def signer_certificate(signed_data, signer_info):
    """The certificate the signer identifier names, from the SignedData's certificates."""
    sid = signer_info["sid"]
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if (
                cert.issuer == sid.chosen["issuer"]
                and cert.serial_number == sid.chosen["serial_number"].native
            ):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


async def judge(cms_der, root_der, content, pades):
    info = cms.ContentInfo.load(cms_der)
    signed_data = info["content"]
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        return {"error": f"{len(signer_infos)} signer infos"}
    signer_info = signer_infos[0]
    attrs = signer_info["signed_attrs"]

    present = {a["type"].native for a in attrs}
    missing = []
    for name in PADES_REQUIRED if pades else CADES_REQUIRED:
        try:
            find_unique_cms_attribute(attrs, name)
        except Exception:  # absent or multi-valued: either way not B-B
            missing.append(name)
    forbidden = []
    if pades:
        forbidden = [name for name in PADES_FORBIDDEN if name in present]
        if signed_data["encap_content_info"]["content"].native is not None:
            forbidden.append("encapsulated_content")

    cert = signer_certificate(signed_data, signer_info)
    # pyHanko's reading of the attribute (it prefers v2 over v1); only v2 counts for B-B.
    ess = get_signing_cert_attr(attrs)
    if not isinstance(ess, tsp.SigningCertificateV2):
        ess_verdict = "absent"
        issuer_serial = False
    else:
        first = ess["certs"][0]
        ess_verdict = "matches" if cert is not None and check_ess_certid(cert, first) else "mismatch"
        issuer_serial = bool(first["issuer_serial"])

    root = x509.Certificate.load(root_der)
    spec = SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[root]),
            revinfo_policy=CertRevTrustPolicy(revocation_checking_policy=NO_REVOCATION),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
            certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
        ),
    )
    raw_digest = None if content is None else hashlib.sha256(content).digest()
    result = await ades_basic_validation(signed_data, spec, raw_digest=raw_digest)
    status = result.api_status
    indication = result.ades_subindic.status.name
    verdict = {
        "indication": indication,
        "subindication": result.ades_subindic.standard_name,
        "failure": result.failure_msg,
        "intact": bool(status and status.intact),
        "valid": bool(status and status.valid),
        "trusted": bool(status and status.trusted),
        "signing_certificate_v2": ess_verdict,
        "issuer_serial": issuer_serial,
        "missing": missing,
        "forbidden": forbidden,
        "certificates": [
            hashlib.sha256(c.chosen.dump()).hexdigest()
            for c in signed_data["certificates"] or []
            if c.name == "certificate"
        ],
    }
    verdict["baseline_b"] = (
        result.ades_subindic.status == AdESStatus.PASSED
        and ess_verdict == "matches"
        and not missing
        and not forbidden
    )
    return verdict


def main():
    args = sys.argv[1:]
    pades = bool(args) and args[0] == "--pades"
    if pades:
        args = args[1:]
    if len(args) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(args[0], "rb") as f:
        cms_der = f.read()
    with open(args[1], "rb") as f:
        root_der = f.read()
    content = None
    if len(args) == 3:
        with open(args[2], "rb") as f:
            content = f.read()
    print(json.dumps(asyncio.run(judge(cms_der, root_der, content, pades))))


if __name__ == "__main__":
    main()
