"""The request-log endpoints: retrieve, list (filters, cursor pagination), stats, and their caches."""
