# PostgreSQL for fincert (DESIGN §6): Multi-AZ, encrypted with its own KMS key, 35 days of
# backups and point-in-time recovery, deletion protection, TLS only, and the master password
# kept by RDS in Secrets Manager (never in Terraform state); External Secrets turns it into the
# Secret fincert-database (infra/k8s/overlays/production/external-secrets.yaml).

resource "aws_db_subnet_group" "fincert" {
  name        = local.name
  description = "fincert ${var.environment} database subnets"
  subnet_ids  = var.database_subnet_ids
}

resource "aws_security_group" "database" {
  name        = "${local.name}-database"
  description = "PostgreSQL for fincert ${var.environment}"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "database_clients" {
  for_each                     = toset(var.database_client_security_group_ids)
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from fincert pods"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_db_parameter_group" "fincert" {
  name        = local.name
  family      = "postgres16"
  description = "fincert ${var.environment}"

  # fincert's URL says sslmode=verify-full; the server refuses anything but TLS too.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  # fincert bounds every statement itself (database.statement_timeout_ms); log the slow ones.
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_db_instance" "fincert" {
  identifier     = local.name
  engine         = "postgres"
  engine_version = "16"
  instance_class = var.database_instance_class
  db_name        = "fincert"
  username       = "fincert_admin"

  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.database.arn

  allocated_storage     = var.database_allocated_storage_gb
  max_allocated_storage = var.database_max_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.database.arn

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.fincert.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.fincert.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  backup_retention_period   = var.database_backup_retention_days
  backup_window             = "17:00-18:00"
  maintenance_window        = "sun:18:30-sun:19:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.database.arn
  performance_insights_retention_period = 7
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
}
