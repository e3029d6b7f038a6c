"""The jobs API: list and filter, a job with its journal, previews, cancel, an operator's resolution."""
