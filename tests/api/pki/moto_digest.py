"""moto_server whose KMS Sign behaves as AWS KMS does with large messages.

moto 5.2 parses Sign's MessageType and then ignores it: a DIGEST request has its digest hashed
again, so the signature verifies over sha256(digest) and fails every outside verifier; and it
signs RAW messages of any length, where AWS KMS refuses more than 4,096 bytes. This wrapper
(for `tests/api/pki/kms_digest.rs` only; the suite's shared moto is the plain one) makes
Sign follow the AWS documentation (API_Sign):

- MessageType=DIGEST: the message is the digest; its length must be the signing algorithm's
  hash length (else ValidationException), and it is signed as is (Prehashed);
- MessageType=RAW (the default): at most 4,096 bytes (else ValidationException), hashed and
  signed as before.

Usage: python3 moto_digest.py -H 127.0.0.1 -p PORT (the arguments of moto_server).
"""

import sys
import threading

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils
from moto.kms import responses, utils
from moto.kms.exceptions import ValidationException
from moto.server import main

RAW_LIMIT = 4096
_request = threading.local()

_plain_sign = responses.KmsResponse.sign


def _sign(self):
    message_type = self._get_param("MessageType") or "RAW"
    if message_type not in ("RAW", "DIGEST"):
        raise ValidationException(
            f"1 validation error detected: Value '{message_type}' at 'messageType' failed "
            "to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST]"
        )
    message = self._get_param("Message") or b""
    if message_type == "RAW" and len(message) > RAW_LIMIT:
        raise ValidationException(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: "
            f"Member must have length less than or equal to {RAW_LIMIT}"
        )
    _request.digest = message_type == "DIGEST"
    try:
        return _plain_sign(self)
    finally:
        _request.digest = False


def _prehashed(hash_algorithm, message):
    if len(message) != hash_algorithm.digest_size:
        raise ValidationException(
            f"Digest is invalid length for algorithm {hash_algorithm.name.upper()}."
        )
    return asym_utils.Prehashed(hash_algorithm)


def _rsa_sign(self, message, signing_algorithm):
    utils.validate_signing_algorithm(
        signing_algorithm, utils.SigningAlgorithm.rsa_signing_algorithms()
    )
    pad, hash_algorithm = self._RSAPrivateKey__padding_and_hash_algorithm(signing_algorithm)
    if getattr(_request, "digest", False):
        hash_algorithm = _prehashed(hash_algorithm, message)
    return self.private_key.sign(message, pad, hash_algorithm)


def _ecdsa_sign(self, message, signing_algorithm):
    utils.validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
    hash_algorithm = self._ECDSAPrivateKey__hash_algorithm(signing_algorithm)
    if getattr(_request, "digest", False):
        hash_algorithm = _prehashed(hash_algorithm, message)
    return self.private_key.sign(message, ec.ECDSA(hash_algorithm))


responses.KmsResponse.sign = _sign
utils.RSAPrivateKey.sign = _rsa_sign
utils.ECDSAPrivateKey.sign = _ecdsa_sign

if __name__ == "__main__":
    sys.exit(main())
