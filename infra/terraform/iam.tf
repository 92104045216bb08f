# The IRSA roles of fincert's pods and what they may do with the keys: exactly the KMS
# operations the code calls (a test reads the aws-sdk-kms calls in src/ and compares, both
# ways), on exactly the keys each one is called on.
#
# - node (ServiceAccount fincert): data keys (GenerateDataKey, Encrypt, Decrypt, ReEncrypt),
#   PIN binding (GenerateMac, VerifyMac), DescribeKey on both at start, the CA's public keys at
#   start (GetPublicKey) and Sign with the issuing CA (certificates, CRLs).
# - ca_admin (ServiceAccount fincert-ca-admin, the ca-init Job): the node's rights, plus
#   DescribeKey on the CA keys (ca init checks them before adopting them) and Sign with the root.
# The migration Job has no AWS role at all.

locals {
  # fincert's encryption-context keys, as the code names them (src/custody/slots.rs, create.rs,
  # record.rs, src/auth/media.rs); a test keeps this list equal to the code's.
  encryption_context_keys = [
    "fincert:activation",
    "fincert:expires",
    "fincert:key",
    "fincert:kind",
    "fincert:medium",
    "fincert:owner",
    "fincert:purpose",
    "fincert:slot",
  ]
  # Every context names its subject: a key's owner or a security medium.
  encryption_context_subjects = ["fincert:medium", "fincert:owner"]
}

# --- IRSA ----------------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume_node" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.eks_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.eks_oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:fincert"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.eks_oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name                 = "${local.name}-node"
  description          = "fincert serving pods (IRSA, ServiceAccount ${var.namespace}/fincert)"
  assume_role_policy   = data.aws_iam_policy_document.assume_node.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "assume_ca_admin" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.eks_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.eks_oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:fincert-ca-admin"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.eks_oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ca_admin" {
  name                 = "${local.name}-ca-admin"
  description          = "fincert ca-init Job (IRSA, ServiceAccount ${var.namespace}/fincert-ca-admin)"
  assume_role_policy   = data.aws_iam_policy_document.assume_ca_admin.json
  max_session_duration = 3600
}

# --- what the nodes may do -----------------------------------------------------------------------

data "aws_iam_policy_document" "node" {
  statement {
    sid = "DataKeysWithFincertContext"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = [aws_kms_key.data_keys.arn]
    # Only fincert's context keys, and always one naming the subject (which also rules out
    # an empty context).
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = local.encryption_context_keys
    }
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = local.encryption_context_subjects
    }
  }
  statement {
    sid       = "PinBinding"
    actions   = ["kms:GenerateMac", "kms:VerifyMac"]
    resources = [aws_kms_key.pin_mac.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:MacAlgorithm"
      values   = ["HMAC_SHA_256"]
    }
  }
  statement {
    sid       = "ResolveKeysAtStart"
    actions   = ["kms:DescribeKey"]
    resources = [aws_kms_key.data_keys.arn, aws_kms_key.pin_mac.arn]
  }
  statement {
    sid       = "CaPublicKeys"
    actions   = ["kms:GetPublicKey"]
    resources = [aws_kms_key.root_ca.arn, aws_kms_key.issuing_ca.arn]
  }
  statement {
    sid       = "IssuingCaSign"
    actions   = ["kms:Sign"]
    resources = [aws_kms_key.issuing_ca.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:SigningAlgorithm"
      values   = [local.ca_signing_algorithm]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:MessageType"
      values   = ["RAW"]
    }
  }
}

resource "aws_iam_policy" "node" {
  name        = "${local.name}-node"
  description = "fincert nodes: the KMS operations the code calls"
  policy      = data.aws_iam_policy_document.node.json
}

resource "aws_iam_role_policy_attachment" "node" {
  role       = aws_iam_role.node.name
  policy_arn = aws_iam_policy.node.arn
}

# --- what the ca-init Job may do besides -------------------------------------------------------

data "aws_iam_policy_document" "ca_admin" {
  statement {
    sid       = "CheckCaKeysBeforeAdopting"
    actions   = ["kms:DescribeKey"]
    resources = [aws_kms_key.root_ca.arn, aws_kms_key.issuing_ca.arn]
  }
  statement {
    sid       = "RootCaSign"
    actions   = ["kms:Sign"]
    resources = [aws_kms_key.root_ca.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:SigningAlgorithm"
      values   = [local.ca_signing_algorithm]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:MessageType"
      values   = ["RAW"]
    }
  }
}

resource "aws_iam_policy" "ca_admin" {
  name        = "${local.name}-ca-admin"
  description = "fincert ca init: check and sign with the CA keys"
  policy      = data.aws_iam_policy_document.ca_admin.json
}

resource "aws_iam_role_policy_attachment" "ca_admin_node" {
  role       = aws_iam_role.ca_admin.name
  policy_arn = aws_iam_policy.node.arn
}

resource "aws_iam_role_policy_attachment" "ca_admin" {
  role       = aws_iam_role.ca_admin.name
  policy_arn = aws_iam_policy.ca_admin.arn
}
