terraform {
  # 1.9: variable validations that refer to other variables (modules/config).
  required_version = ">= 1.9"

  required_providers {
    # The versions tests/deploy/terraform-provider-schema.json was taken from (6.50.0, 2.7.1);
    # 7.x is not checked yet.
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.7, < 3.0"
    }
  }
}
