# The KMS keys fincert uses (DESIGN §3), each with a 30-day deletion window and a key policy:
# the account's IAM policies decide who uses a key (iam.tf grants exactly what the code calls),
# the key administrators manage it, and denies in the key policy hold whatever IAM says.
#
# fincert never creates keys: the pods name these by alias (kms.aws_key_id,
# kms.aws_mac_key_id, pki.aws_root_key_id, pki.aws_issuing_key_id in infra/k8s).

locals {
  root_principal = "arn:${local.partition}:iam::${local.account_id}:root"
  key_admin_actions = [
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
  ]
}

# What every key policy starts with: IAM policies of this account apply, administrators manage.
data "aws_iam_policy_document" "key_base" {
  statement {
    sid       = "EnableIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.root_principal]
    }
  }
  statement {
    sid       = "KeyAdministration"
    actions   = local.key_admin_actions
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = var.key_admin_arns
    }
  }
}

# --- data keys ---------------------------------------------------------------------------------

data "aws_iam_policy_document" "data_keys" {
  source_policy_documents = [data.aws_iam_policy_document.key_base.json]
  # Every wrapped key names its owner and purpose in its encryption context; a call without one
  # is a bug or an attack, whoever makes it.
  statement {
    sid    = "DenyUseWithoutEncryptionContext"
    effect = "Deny"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "kms:EncryptionContextKeys"
      values   = ["true"]
    }
  }
}

# Wraps every private key's data key and every security-medium secret.
resource "aws_kms_key" "data_keys" {
  description             = "${local.name}: data-key wrapping"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.data_keys.json
}

resource "aws_kms_alias" "data_keys" {
  name          = "alias/${local.name}-data-keys"
  target_key_id = aws_kms_key.data_keys.key_id
}

# --- PIN binding ---------------------------------------------------------------------------------

data "aws_iam_policy_document" "pin_mac" {
  source_policy_documents = [data.aws_iam_policy_document.key_base.json]
}

# An HMAC of the PIN under this key binds the PIN copy of a data key; it never leaves KMS, so a
# stolen database gives nothing to guess offline. (HMAC keys do not rotate automatically.)
resource "aws_kms_key" "pin_mac" {
  description              = "${local.name}: PIN binding MAC"
  key_usage                = "GENERATE_VERIFY_MAC"
  customer_master_key_spec = "HMAC_256"
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.pin_mac.json
}

resource "aws_kms_alias" "pin_mac" {
  name          = "alias/${local.name}-pin-mac"
  target_key_id = aws_kms_key.pin_mac.key_id
}

# --- CA keys (signing stays inside KMS) ----------------------------------------------------------

data "aws_iam_policy_document" "root_ca" {
  source_policy_documents = [data.aws_iam_policy_document.key_base.json]
  # The root signs only at `ca init` (the issuing CA's certificate): only that Job's role.
  statement {
    sid       = "RootSignsOnlyForCaAdmin"
    effect    = "Deny"
    actions   = ["kms:Sign"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.ca_admin.arn]
    }
  }
}

resource "aws_kms_key" "root_ca" {
  description              = "${local.name}: root CA"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = local.ca_key_spec
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.root_ca.json
}

resource "aws_kms_alias" "root_ca" {
  name          = "alias/${local.name}-root-ca"
  target_key_id = aws_kms_key.root_ca.key_id
}

data "aws_iam_policy_document" "issuing_ca" {
  source_policy_documents = [data.aws_iam_policy_document.key_base.json]
  # Certificates, CRLs and the responder's certificate: the nodes and the ca-init Job only.
  statement {
    sid       = "IssuingSignsOnlyForFincert"
    effect    = "Deny"
    actions   = ["kms:Sign"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.node.arn, aws_iam_role.ca_admin.arn]
    }
  }
}

resource "aws_kms_key" "issuing_ca" {
  description              = "${local.name}: issuing CA"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = local.ca_key_spec
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.issuing_ca.json
}

resource "aws_kms_alias" "issuing_ca" {
  name          = "alias/${local.name}-issuing-ca"
  target_key_id = aws_kms_key.issuing_ca.key_id
}

# --- database ----------------------------------------------------------------------------------

data "aws_iam_policy_document" "database" {
  source_policy_documents = [data.aws_iam_policy_document.key_base.json]
}

# Encrypts the RDS storage, its snapshots and the master-user secret in Secrets Manager.
resource "aws_kms_key" "database" {
  description             = "${local.name}: database storage and credentials"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.database.json
}

resource "aws_kms_alias" "database" {
  name          = "alias/${local.name}-database"
  target_key_id = aws_kms_key.database.key_id
}
