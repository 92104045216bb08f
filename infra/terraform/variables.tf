variable "environment" {
  type        = string
  description = "Installation name, part of every resource name (e.g. prod)."
}

variable "region" {
  type        = string
  description = "AWS region of the keys, the database and the cluster (kms.aws_region)."
  default     = "ap-northeast-2"
}

variable "ca_algorithm" {
  type        = string
  description = "pki.ca_algorithm: rsa2048 or p256; the CA keys are made with the matching key spec."
  default     = "rsa2048"

  validation {
    condition     = contains(["rsa2048", "p256"], var.ca_algorithm)
    error_message = "ca_algorithm must be rsa2048 or p256 (fincert's pki.ca_algorithm)."
  }
}

variable "key_admin_arns" {
  type        = list(string)
  description = "IAM principals that administer (not use) the keys: the platform team's role."
}

variable "eks_oidc_provider_arn" {
  type        = string
  description = "ARN of the EKS cluster's IAM OIDC provider (IRSA)."
}

variable "eks_oidc_issuer" {
  type        = string
  description = "The cluster's OIDC issuer without https:// (oidc.eks.<region>.amazonaws.com/id/<id>)."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of fincert (infra/k8s)."
  default     = "fincert"
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster and the database."
}

variable "database_subnet_ids" {
  type        = list(string)
  description = "Private subnets in at least two availability zones for RDS."
}

variable "database_client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to reach PostgreSQL (the EKS nodes' or pods' groups)."
}

variable "database_instance_class" {
  type        = string
  description = "RDS instance class; size it for the signing peak (DESIGN §6)."
  default     = "db.r6g.xlarge"
}

variable "database_allocated_storage_gb" {
  type        = number
  description = "Initial storage; it grows automatically up to database_max_storage_gb."
  default     = 200
}

variable "database_max_storage_gb" {
  type        = number
  description = "Ceiling of storage autoscaling."
  default     = 2000
}

variable "database_backup_retention_days" {
  type        = number
  description = "Automated backups and point-in-time recovery window (1 to 35 days)."
  default     = 35
}
