"""The Suket (Surat Keterangan pengganti KTP-el): issued while a resident waits for the card, withdrawn at its
handover, expired by date, verifiable by anyone through its QR code."""
