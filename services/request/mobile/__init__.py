"""Mobile recording visits (e-Mobile KTP): per desa figures, the visit plan, confirmed visits, their outcome
and the print requests the mobile unit brings back."""
