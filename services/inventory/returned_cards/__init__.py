"""Returned cards: old e-KTP cards handed back, in custody until destroyed before a witness."""
