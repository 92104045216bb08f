# fincert's AWS resources: KMS keys, the IRSA roles of its pods, and RDS PostgreSQL.
# A root configuration: `terraform init && terraform apply -var-file=prod.tfvars`
# (infra/README.md lists every variable a bank chooses).

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      application = "fincert"
      environment = var.environment
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name       = "fincert-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # KMS key spec of the CA keys: pki.ca_algorithm decides, and `ca init` refuses a key whose
  # spec does not match it.
  ca_key_spec = {
    rsa2048 = "RSA_2048"
    p256    = "ECC_NIST_P256"
  }[var.ca_algorithm]
  ca_signing_algorithm = {
    rsa2048 = "RSASSA_PKCS1_V1_5_SHA_256"
    p256    = "ECDSA_SHA_256"
  }[var.ca_algorithm]
}
