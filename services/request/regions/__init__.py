"""Region reference data: province, regency, kecamatan and desa with their Kemendagri codes."""
