"""Coverage per kecamatan and for the regency: obliged, recorded, printed, activated, collected,
backlog, overdue."""
