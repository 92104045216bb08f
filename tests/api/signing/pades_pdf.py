"""PAdES inside a real PDF, with pyHanko as the PDF side and the judge (not fincert).

An institution signing a PDF through fincert does what this script does: pyHanko prepares
the document (a signature field, the /ByteRange and a reserved /Contents, sub-filter
ETSI.CAdES.detached) and computes the document digest; fincert signs it; pyHanko embeds the
CMS, then adds the validation material fincert returned as a DSS, and validates.

Usage (WORK is a scratch directory the steps share):

  pades_pdf.py prepare WORK SIGNER_DER [CA_DER...]
      Writes WORK/prepared.pdf (a one-page PDF with the signature placeholder) and
      WORK/state.json, and prints {"digest": base64 SHA-256 over the /ByteRange, which
      fincert's cms-pades format signs}. For a CSC client, which builds the CMS itself, it
      also writes the PAdES signed attributes pyHanko makes over that digest for SIGNER
      (WORK/signed_attrs.der: content-type, message-digest, signing-certificate-v2) and
      prints "to_sign": base64 SHA-256 of their DER, the hash signHash signs.
  pades_pdf.py embed WORK CMS_DER
      Puts a CMS SignedData (fincert's cms-pades output) into the placeholder:
      WORK/signed.pdf.
  pades_pdf.py assemble WORK SIGNATURE SIGNER_DER [CA_DER...]
      Wraps a raw signature over WORK/signed_attrs.der (from CSC signHash) into a CMS with
      pyHanko's ExternalSigner, then embeds it as `embed` does.
  pades_pdf.py add-dss WORK MATERIAL_JSON
      Adds fincert's validation material (the `validation_info` / `validationInfo` object:
      base64 DER `certificates`, `ocsp`, `crl`) to WORK/signed.pdf as a Document Security
      Store in an incremental update (with a VRI entry for the signature): WORK/lt.pdf.
  pades_pdf.py validate PDF ROOT_DER
      Prints one JSON object, pyHanko's judgement of the PDF's one signature, always with ROOT
      as the only trust anchor and never fetching anything:
      - b_b: validation without revocation checks (PAdES-B-B): intact, valid, trusted,
        coverage, indication/subindication of the AdES basic validation;
      - lt: validation with revocation information *required* for every certificate of the
        path (pyHanko's "require" mode: the signer and the issuing CA each need a CRL or an
        OCSP response), reading it only from the document's DSS: intact, valid, trusted,
        revocation (pyHanko's summary or failure);
      - dss: what the DSS holds (counts of certs, ocsps, crls, and whether a VRI entry names
        this signature);
      - subfilter, signing_time_in_dictionary (/M), signing_time_attribute (present in the
        CMS: forbidden by PAdES), signing_certificate_v2 ("matches" / "mismatch" / "absent",
        against the signer certificate, with pyHanko's check_ess_certid);
      - baseline_b: the PAdES-B-B profile holds (ETSI.CAdES.detached, /M present, no
        signing-time attribute, signing-certificate-v2 matching, basic validation PASSED);
      - baseline_lt: baseline_b, the DSS carries OCSP or CRL data, and the require-mode
        validation from the DSS alone is trusted.

No network: nothing is fetched (allow_fetching=False), the validation context holds the root
and what the PDF itself carries.
"""

import asyncio
import base64
import hashlib
import io
import json
import logging
import sys

from asn1crypto import cms, crl as asn1_crl, ocsp as asn1_ocsp, tsp, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError, check_ess_certid, find_unique_cms_attribute
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import get_signing_cert_attr
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

FIELD = "Signature1"
# Room for the CMS (hex in the file: twice its DER length). fincert's CMS with the signer
# and the issuing CA is about 3 KB.
RESERVED = 16384


def load_cert(path):
    with open(path, "rb") as f:
        return x509.Certificate.load(f.read())


def blank_pdf():
    """A one-page PDF (pyHanko's own writer), the document a bank would have signed."""
    w = PdfFileWriter()
    content = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (Loan contract) Tj ET")
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/F1"): w.add_object(font)}
            )
        }
    )
    page = PageObject(
        contents=w.add_object(content),
        media_box=generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
        resources=resources,
    )
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def pdf_signer(signer):
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    return signers.PdfSigner(
        meta, signer=signer, new_field_spec=fields.SigFieldSpec(sig_field_name=FIELD)
    )


def external_signer(certs, signature=None):
    """pyHanko's signer for a signature made elsewhere; `certs`: signer first, then CAs."""
    return signers.ExternalSigner(
        signing_cert=certs[0],
        cert_registry=SimpleCertificateStore.from_certs(certs[1:]),
        signature_value=signature if signature is not None else 256,
        embed_roots=False,
    )


async def prepare(work, cert_paths):
    certs = [load_cert(p) for p in cert_paths]
    writer = IncrementalPdfFileWriter(io.BytesIO(blank_pdf()))
    prepared, _tbs, output = await pdf_signer(external_signer(certs)).async_digest_doc_for_signing(
        writer, bytes_reserved=RESERVED
    )
    with open(f"{work}/prepared.pdf", "wb") as f:
        f.write(output.getvalue())
    state = {
        "document_digest": prepared.document_digest.hex(),
        "reserved_region_start": prepared.reserved_region_start,
        "reserved_region_end": prepared.reserved_region_end,
    }
    with open(f"{work}/state.json", "w") as f:
        json.dump(state, f)
    # What a CSC client signs instead: pyHanko's own PAdES signed attributes over that digest.
    attrs = await external_signer(certs).signed_attrs(
        prepared.document_digest,
        "sha256",
        attr_settings=PdfCMSSignedAttributes(),
        use_pades=True,
    )
    der = attrs.dump()
    with open(f"{work}/signed_attrs.der", "wb") as f:
        f.write(der)
    answer = {
        "digest": base64.b64encode(prepared.document_digest).decode(),
        "to_sign": base64.b64encode(hashlib.sha256(der).digest()).decode(),
    }
    return answer


async def embed(work, cms_der):
    with open(f"{work}/state.json") as f:
        state = json.load(f)
    prepared = PreparedByteRangeDigest(
        document_digest=bytes.fromhex(state["document_digest"]),
        reserved_region_start=state["reserved_region_start"],
        reserved_region_end=state["reserved_region_end"],
    )
    with open(f"{work}/prepared.pdf", "rb") as f:
        output = io.BytesIO(f.read())
    await PdfTBSDocument.async_finish_signing(output, prepared, cms.ContentInfo.load(cms_der))
    with open(f"{work}/signed.pdf", "wb") as f:
        f.write(output.getvalue())
    return {"signed": f"{work}/signed.pdf"}


async def assemble(work, signature, cert_paths):
    certs = [load_cert(p) for p in cert_paths]
    with open(f"{work}/signed_attrs.der", "rb") as f:
        attrs = cms.CMSAttributes.load(f.read())
    content = await external_signer(certs, signature).async_sign_prescribed_attributes(
        "sha256", attrs
    )
    return await embed(work, content.dump())


def embedded_signature(reader):
    sigs = reader.embedded_regular_signatures
    if len(sigs) != 1:
        raise SigningError(f"{len(sigs)} signatures in the document")
    return sigs[0]


def add_dss(work, material):
    decode = lambda key: [base64.b64decode(s) for s in material.get(key) or []]
    certs = [x509.Certificate.load(d) for d in decode("certificates")]
    ocsps = [asn1_ocsp.OCSPResponse.load(d) for d in decode("ocsp")]
    crls = [asn1_crl.CertificateList.load(d) for d in decode("crl")]
    with open(f"{work}/signed.pdf", "rb") as f:
        output = io.BytesIO(f.read())
    sig = embedded_signature(PdfFileReader(output))
    contents = sig.sig_object.raw_get("/Contents", decrypt=generic.EncryptedObjAccess.RAW)
    DocumentSecurityStore.add_dss(
        output,
        contents.original_bytes,
        certs=certs,
        ocsps=ocsps,
        crls=crls,
        force_write=True,
    )
    with open(f"{work}/lt.pdf", "wb") as f:
        f.write(output.getvalue())
    return {"certs": len(certs), "ocsps": len(ocsps), "crls": len(crls)}


class Problems(logging.Handler):
    """pyHanko reports why a path failed in its log, not in the status: keep the messages."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage().splitlines()[0])


PROBLEMS = Problems()


async def judged(sig, context):
    """pyHanko's status of `sig` under `context`, summarised, with the problems it logged."""
    PROBLEMS.messages = []
    try:
        status = await async_validate_pdf_signature(sig, signer_validation_context=context)
    except Exception as e:  # pyHanko raises on some hard failures: a verdict, not a crash
        return {"intact": False, "valid": False, "trusted": False, "problems": [f"{e}"]}
    return {
        "intact": bool(status.intact),
        "valid": bool(status.valid),
        "trusted": bool(status.trusted),
        "coverage": status.coverage.name if status.coverage else None,
        "modification_level": (
            status.modification_level.name if status.modification_level else None
        ),
        "indication": (
            status.trust_problem_indic.name if status.trust_problem_indic else None
        ),
        "problems": PROBLEMS.messages,
    }


def dss_summary(reader, sig):
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # no /DSS in the catalog
        return None, {"certs": 0, "ocsps": 0, "crls": 0, "vri": False}
    vri_key = DocumentSecurityStore.sig_content_identifier(sig.pkcs7_content)
    return dss, {
        "certs": len(dss.certs),
        "ocsps": len(dss.ocsps),
        "crls": len(dss.crls),
        "vri": vri_key in dss.vri_entries,
    }


async def validate(pdf_path, root_path):
    root = load_cert(root_path)
    with open(pdf_path, "rb") as f:
        reader = PdfFileReader(io.BytesIO(f.read()))
    sig = embedded_signature(reader)
    signed_data = sig.signed_data
    signer_info = signed_data["signer_infos"][0]
    attrs = signer_info["signed_attrs"]
    present = {a["type"].native for a in attrs}

    ess = get_signing_cert_attr(attrs)
    if not isinstance(ess, tsp.SigningCertificateV2):
        ess_verdict = "absent"
    else:
        cert = sig.signer_cert
        ess_verdict = (
            "matches" if cert is not None and check_ess_certid(cert, ess["certs"][0]) else "mismatch"
        )
    for name in ("content_type", "message_digest"):
        find_unique_cms_attribute(attrs, name)

    # PAdES-B-B: no revocation checks, the root as the only anchor, nothing fetched.
    bb_context = ValidationContext(
        trust_roots=[root], allow_fetching=False, revocation_mode="none"
    )
    bb = await judged(sig, bb_context)

    # B-LT: revocation information required along the whole path, from the DSS alone.
    dss, dss_info = dss_summary(reader, sig)
    lt_kwargs = {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"}
    lt_context = (
        dss.as_validation_context(lt_kwargs)
        if dss is not None
        else ValidationContext(crls=[], ocsps=[], **lt_kwargs)
    )
    lt = await judged(sig, lt_context)

    subfilter = sig.sig_object.get("/SubFilter")
    verdict = {
        "subfilter": str(subfilter) if subfilter is not None else None,
        "signing_time_in_dictionary": "/M" in sig.sig_object,
        "signing_time_attribute": "signing_time" in present,
        "signing_certificate_v2": ess_verdict,
        "b_b": bb,
        "lt": lt,
        "dss": dss_info,
    }
    verdict["baseline_b"] = (
        verdict["subfilter"] == "/ETSI.CAdES.detached"
        and verdict["signing_time_in_dictionary"]
        and not verdict["signing_time_attribute"]
        and ess_verdict == "matches"
        and bb["intact"]
        and bb["valid"]
        and bb["trusted"]
        # The whole file, or the signed revision followed by a DSS update only.
        and bb["coverage"] in ("ENTIRE_FILE", "ENTIRE_REVISION")
        and bb["modification_level"] in ("NONE", "LTA_UPDATES")
    )
    verdict["baseline_lt"] = (
        verdict["baseline_b"]
        and dss_info["ocsps"] + dss_info["crls"] > 0
        and lt["intact"]
        and lt["valid"]
        and lt["trusted"]
    )
    return verdict


def main():
    logging.getLogger().addHandler(PROBLEMS)
    logging.getLogger().setLevel(logging.WARNING)
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, rest = args[0], args[1:]
    if cmd == "prepare" and len(rest) >= 2:
        out = asyncio.run(prepare(rest[0], rest[1:]))
    elif cmd == "embed" and len(rest) == 2:
        with open(rest[1], "rb") as f:
            out = asyncio.run(embed(rest[0], f.read()))
    elif cmd == "assemble" and len(rest) >= 3:
        with open(rest[1], "rb") as f:
            signature = f.read()
        out = asyncio.run(assemble(rest[0], signature, rest[2:]))
    elif cmd == "add-dss" and len(rest) == 2:
        with open(rest[1]) as f:
            out = add_dss(rest[0], json.load(f))
    elif cmd == "validate" and len(rest) == 2:
        out = asyncio.run(validate(rest[0], rest[1]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
