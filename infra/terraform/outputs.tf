# What the Kubernetes manifests need (infra/k8s/overlays/production).

output "data_key_alias" {
  description = "kms.aws_key_id (FINCERT_KMS_AWS_KEY_ID)"
  value       = aws_kms_alias.data_keys.name
}

output "pin_mac_key_alias" {
  description = "kms.aws_mac_key_id (FINCERT_KMS_AWS_MAC_KEY_ID)"
  value       = aws_kms_alias.pin_mac.name
}

output "root_ca_key_alias" {
  description = "pki.aws_root_key_id (FINCERT_PKI_AWS_ROOT_KEY_ID)"
  value       = aws_kms_alias.root_ca.name
}

output "issuing_ca_key_alias" {
  description = "pki.aws_issuing_key_id (FINCERT_PKI_AWS_ISSUING_KEY_ID)"
  value       = aws_kms_alias.issuing_ca.name
}

output "node_role_arn" {
  description = "eks.amazonaws.com/role-arn of the ServiceAccount fincert"
  value       = aws_iam_role.node.arn
}

output "ca_admin_role_arn" {
  description = "eks.amazonaws.com/role-arn of the ServiceAccount fincert-ca-admin"
  value       = aws_iam_role.ca_admin.arn
}

output "database_endpoint" {
  description = "host:port for the database URL"
  value       = aws_db_instance.fincert.endpoint
}

output "database_secret_arn" {
  description = "Secrets Manager secret (username, password) RDS manages; the ExternalSecret reads it"
  value       = aws_db_instance.fincert.master_user_secret[0].secret_arn
}
