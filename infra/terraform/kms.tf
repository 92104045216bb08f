# KMS keys for fincert's key custody (DESIGN §3) and the IAM policy its nodes assume.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}

variable "environment" {
  type        = string
  description = "Deployment name, e.g. prod"
}

variable "node_role_name" {
  type        = string
  description = "IAM role assumed by fincert pods (IRSA)"
}

# Wraps every user's data key; every call carries an encryption context naming owner,
# certificate and purpose, so a wrapped key copied elsewhere does not decrypt.
resource "aws_kms_key" "data_keys" {
  description             = "fincert ${var.environment}: data-key wrapping"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "data_keys" {
  name          = "alias/fincert-${var.environment}-data-keys"
  target_key_id = aws_kms_key.data_keys.key_id
}

# PIN binding: an HMAC of the PIN under this key enters the encryption context of the PIN
# copy of a data key. It never leaves KMS, so a stolen database gives nothing to guess offline.
resource "aws_kms_key" "pin_mac" {
  description              = "fincert ${var.environment}: PIN binding MAC"
  key_usage                = "GENERATE_VERIFY_MAC"
  customer_master_key_spec = "HMAC_256"
  deletion_window_in_days  = 30
}

# CA signing keys stay inside KMS; fincert signs certificates, CRLs and OCSP answers with Sign.
resource "aws_kms_key" "issuing_ca" {
  description              = "fincert ${var.environment}: issuing CA"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = "RSA_2048"
  deletion_window_in_days  = 30
}

resource "aws_kms_key" "root_ca" {
  description              = "fincert ${var.environment}: root CA"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = "RSA_2048"
  deletion_window_in_days  = 30
}

data "aws_iam_policy_document" "fincert_node" {
  statement {
    sid       = "WrapDataKeysWithContext"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
    resources = [aws_kms_key.data_keys.arn]
    condition {
      test     = "Null"
      variable = "kms:EncryptionContextKeys"
      values   = ["false"]
    }
  }
  statement {
    sid       = "PinBinding"
    actions   = ["kms:GenerateMac", "kms:VerifyMac"]
    resources = [aws_kms_key.pin_mac.arn]
  }
  statement {
    sid       = "IssuingCaSign"
    actions   = ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"]
    resources = [aws_kms_key.issuing_ca.arn]
  }
  # The root CA key signs only at `fincert ca init` / issuing-CA rotation, run by an operator
  # role, not by the serving nodes.
}

resource "aws_iam_policy" "fincert_node" {
  name   = "fincert-${var.environment}-node"
  policy = data.aws_iam_policy_document.fincert_node.json
}

resource "aws_iam_role_policy_attachment" "fincert_node" {
  role       = var.node_role_name
  policy_arn = aws_iam_policy.fincert_node.arn
}

output "data_key_arn" { value = aws_kms_key.data_keys.arn }
output "pin_mac_key_arn" { value = aws_kms_key.pin_mac.arn }
output "issuing_ca_key_arn" { value = aws_kms_key.issuing_ca.arn }
